#!/usr/bin/env bash
# Start tollway's server for ../shared/bench/run_peer.sh (reads PEER_PORT, UPSTREAM_BASE).
# Send `--model router:bench`. Env: TOLLWAY_UPSTREAM_CLIENT (auto|aiohttp|httpx-aiohttp|httpx),
# TOLLWAY_BENCH_CLASSIFIER (auto|default|rules), TOLLWAY_WORKERS (1).
set -eu
: "${PEER_PORT:?}" "${UPSTREAM_BASE:?}"
HERE="$(cd "$(dirname "$0")" && pwd)"
PY="${TOLLWAY_PY:-$HERE/../../.venv/bin/python}"
export UPSTREAM_BASE PYTHONPATH="$HERE${PYTHONPATH:+:$PYTHONPATH}"
exec "$PY" -m uvicorn tollway_app:app --factory --host 127.0.0.1 --port "$PEER_PORT" \
     --workers "${TOLLWAY_WORKERS:-1}" --loop uvloop --http httptools --ws none \
     --no-access-log --log-level warning
