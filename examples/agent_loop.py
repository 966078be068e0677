"""An agent loop that routes through tollway in process: the official async SDK over
``RouterTransport``, no server and no socket between the agent and the router.

    python examples/agent_loop.py       # uses the simulated upstream: no provider keys needed
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import openai

from tollway import Router
from tollway.config import load_config
from tollway.transport import RouterTransport

CONFIG = Path(__file__).parent / "tutorial-router.json"
TICKETS = [
    "Classify this support message: the invoice shows the wrong VAT number.",
    "How do I add a second admin to my account?",
    "Work out step by step whether moving to annual billing saves money for 40 seats.",
]


async def main() -> None:
    async with Router(load_config(json.loads(CONFIG.read_text())), simulate=True) as router:
        client = openai.AsyncOpenAI(
            base_url="http://tollway/v1",
            api_key="unused-in-process",
            http_client=httpx.AsyncClient(transport=RouterTransport(router, tenant="support-bot")),
        )
        async with client:
            for i, ticket in enumerate(TICKETS):
                raw = await client.chat.completions.with_raw_response.create(
                    model="router:cost-governance-demo",
                    messages=[{"role": "user", "content": ticket}],
                    max_completion_tokens=4096,
                    extra_headers={"X-Model-Affinity": f"ticket-{i}"},
                )
                reply = raw.parse()
                route = raw.headers["x-model-router-selected-route"]
                print(f"{route:12} {reply.model:28} ${raw.headers.get('x-tollway-cost')}")
            # Streams arrive chunk by chunk, as they would over HTTP.
            stream = await client.chat.completions.create(
                model="router:cost-governance-demo",
                messages=[{"role": "user", "content": "How do I reset my password?"}],
                stream=True,
            )
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    print(chunk.choices[0].delta.content, end="", flush=True)
            print()


if __name__ == "__main__":
    asyncio.run(main())
