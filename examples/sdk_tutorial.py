"""The tutorial's Python SDK calls against `tollway serve` (start it with `tollway serve --simulate`).

Plain calls, `with_raw_response` for the routing headers, and `X-Model-Affinity` to pin a session.
"""

from __future__ import annotations

import os

import openai

client = openai.OpenAI(
    base_url=os.environ.get("TOLLWAY_URL", "http://127.0.0.1:8000") + "/v1",
    api_key=os.environ.get("MODEL_ACCESS_KEY", "sk-any"),
)
ROUTER = "router:cost-governance-demo"


def main() -> None:
    completion = client.chat.completions.create(
        model=ROUTER,
        messages=[{"role": "user", "content": "Classify this support message: I was charged twice."}],
    )
    print("served by", completion.model, "->", completion.choices[0].message.content)

    raw = client.chat.completions.with_raw_response.create(
        model=ROUTER,
        messages=[{"role": "user", "content": "How do I change the email on my account?"}],
    )
    print("route:", raw.headers["x-model-router-selected-route"], "cost:", raw.headers.get("x-tollway-cost"))
    print("served by", raw.parse().model)

    session = [{"role": "user", "content": "Which plan includes SSO?"}]
    for turn in range(2):
        raw = client.chat.completions.with_raw_response.create(
            model=ROUTER, messages=session, extra_headers={"X-Model-Affinity": "session-42"}
        )
        reply = raw.parse()
        print(f"turn {turn}: {reply.model}, affinity echo {raw.headers.get('x-model-affinity')}")
        session += [
            {"role": "assistant", "content": reply.choices[0].message.content or ""},
            {"role": "user", "content": "And does it cover audit logs?"},
        ]


if __name__ == "__main__":
    main()
