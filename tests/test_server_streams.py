"""Streams closed before they are read still end the call: the chunk stream is closed, the call
recorded (``client_closed``) and counted, through every edge (the server's ``send_answer``, the
SSE encoder, the in-process transport)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from tollway import Router, RulesClassifier
from tollway.config import load_config
from tollway.server import sse
from tollway.server.app import TollwayApp
from tollway.server.asgi import Message
from tollway.simulate import Latency, SimulatedProvider

TUTORIAL = json.loads((Path(__file__).parent.parent / "examples" / "tutorial-router.json").read_text())
RULES = RulesClassifier({"classify": r"classify", "customer-qa": r"account", "reasoning": r"step by step"})
MODEL = "router:cost-governance-demo"
BODY = {
    "model": MODEL,
    "messages": [{"role": "user", "content": "Please classify: the app crashes on upload."}],
    "stream": True,
}


@pytest.fixture
async def router() -> AsyncIterator[Router]:
    async with Router(
        load_config(TUTORIAL), classifier=RULES, simulate=SimulatedProvider(latency={"*": Latency()})
    ) as r:
        yield r


async def statuses(router: Router) -> list[str]:
    return [r.status for r in await router.records.query()]


async def test_transport_stream_closed_unread_is_recorded(router: Router) -> None:
    async with (
        httpx.AsyncClient(transport=router.transport(), base_url="http://tollway") as client,
        client.stream("POST", "/v1/chat/completions", json=BODY) as response,
    ):
        assert response.status_code == 200
        # closed here without reading a byte
    assert await statuses(router) == ["client_closed"]


async def test_transport_stream_read_to_the_end_is_ok(router: Router) -> None:
    async with (
        httpx.AsyncClient(transport=router.transport(), base_url="http://tollway") as client,
        client.stream("POST", "/v1/chat/completions", json=BODY) as response,
    ):
        text = (await response.aread()).decode()
    assert text.endswith("data: [DONE]\n\n")
    assert await statuses(router) == ["ok"]


async def test_sse_encoder_closed_before_reading_closes_its_chunks() -> None:
    closed: list[bool] = []

    class Chunks:
        def __aiter__(self) -> Chunks:
            return self

        async def __anext__(self) -> dict[str, Any]:
            return {"n": 1}

        async def aclose(self) -> None:
            closed.append(True)

    encoded = sse.encode(Chunks())
    await encoded.aclose()
    await encoded.aclose()
    assert closed == [True]


async def test_stream_is_closed_when_the_response_start_cannot_be_sent(router: Router) -> None:
    app = TollwayApp(router)
    pending: list[Message] = [{"type": "http.request", "body": json.dumps(BODY).encode(), "more_body": False}]

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        await anyio.sleep_forever()
        raise AssertionError

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            raise OSError("the client went away")

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/chat/completions",
        "headers": [(b"content-type", b"application/json")],
        "query_string": b"",
    }
    with pytest.raises(OSError):
        await app(scope, receive, send)
    assert await statuses(router) == ["client_closed"]
    assert 'tollway_requests_total{router="cost-governance-demo",route="classify"' in app.metrics.render()
