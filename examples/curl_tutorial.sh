#!/usr/bin/env bash
# The tutorial's curl calls against `tollway serve`.
#
#   export TOLLWAY_ADMIN_TOKEN=...
#   tollway serve --simulate              # in another terminal, with the same environment
#   ./examples/curl_tutorial.sh
#
# TOLLWAY_URL (default http://127.0.0.1:8000); MODEL_ACCESS_KEY is any key when no tenants are
# configured (spend is booked to tenant "default").
set -euo pipefail
URL="${TOLLWAY_URL:-http://127.0.0.1:8000}"
KEY="${MODEL_ACCESS_KEY:-sk-any}"
ADMIN_TOKEN="${TOLLWAY_ADMIN_TOKEN:?set TOLLWAY_ADMIN_TOKEN to the token the server was started with}"
HERE="$(cd "$(dirname "$0")" && pwd)"

echo "## create the router (control plane, admin token)"
sed 's/"cost-governance-demo"/"support-router"/' "$HERE/tutorial-router.json" |
  curl -sS -X POST "$URL/v2/gen-ai/models/routers" \
    -H "Authorization: Bearer $ADMIN_TOKEN" -H "Content-Type: application/json" -d @- ; echo

echo "## the same name again: 400 invalid_argument"
sed 's/"cost-governance-demo"/"support-router"/' "$HERE/tutorial-router.json" |
  curl -sS -X POST "$URL/v2/gen-ai/models/routers" \
    -H "Authorization: Bearer $ADMIN_TOKEN" -H "Content-Type: application/json" -d @- ; echo

echo "## classify (inference, tenant key); -i shows x-model-router-selected-route"
curl -sS -i "$URL/v1/chat/completions" \
  -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \
  -d '{"model": "router:support-router",
       "messages": [{"role": "user", "content": "Classify this support message into billing, bug, how-to or account: I was charged twice this month."}]}'
echo

echo "## a session pinned with X-Model-Affinity (echoed back)"
curl -sS -i "$URL/v1/chat/completions" \
  -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" -H "X-Model-Affinity: session-42" \
  -d '{"model": "router:support-router",
       "messages": [{"role": "user", "content": "How do I change the billing email on my account?"}]}'
echo

echo "## streamed, with usage and cost on the last chunk"
curl -sS -N "$URL/v1/chat/completions" \
  -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \
  -d '{"model": "router:support-router", "stream": true, "stream_options": {"include_usage": true},
       "max_completion_tokens": 8000,
       "messages": [{"role": "user", "content": "Work out step by step how many servers we need for 3,000 requests per second."}]}' | tail -3

echo "## list routers, models, metrics"
curl -sS "$URL/v2/gen-ai/models/routers" -H "Authorization: Bearer $ADMIN_TOKEN"; echo
curl -sS "$URL/v1/models" -H "Authorization: Bearer $KEY" | head -c 300; echo
curl -sS "$URL/metrics" | grep '^tollway_requests_total' || true
