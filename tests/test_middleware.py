"""The ASGI middleware: answers chat completions addressed to router:*, passes everything else to
the wrapped app untouched (bodies byte for byte, lifespan and websocket scopes included)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tollway import Router, RulesClassifier
from tollway.config import load_config
from tollway.server.asgi import Message, Receive, Scope, Send
from tollway.server.middleware import TollwayMiddleware
from tollway.server.testing import ServerThread
from tollway.simulate import Latency, SimulatedProvider

TUTORIAL = json.loads((Path(__file__).parent.parent / "examples" / "tutorial-router.json").read_text())
RULES = RulesClassifier({"classify": r"classify", "customer-qa": r"account", "reasoning": r"step by step"})
MODEL = "router:cost-governance-demo"
CLASSIFY: list[Any] = [{"role": "user", "content": "Please classify: I cannot log in."}]


class Recorder:
    """The host app: records what reached it and echoes the request body."""

    def __init__(self) -> None:
        self.scopes: list[Scope] = []
        self.bodies: list[bytes] = []
        self.lifespan: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scopes.append(scope)
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                self.lifespan.append(message["type"])
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        if scope["type"] == "websocket":
            assert (await receive())["type"] == "websocket.connect"
            await send({"type": "websocket.accept"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-host-app", b"yes")]})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture
async def router() -> AsyncIterator[Router]:
    provider = SimulatedProvider(latency={"*": Latency()})
    async with Router(load_config(TUTORIAL), classifier=RULES, simulate=provider) as r:
        yield r


@pytest.fixture
def host() -> Recorder:
    return Recorder()


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://app")


async def test_router_calls_are_answered_with_headers(router: Router, host: Recorder) -> None:
    async with client(TollwayMiddleware(host, router=router)) as c:
        response = await c.post("/v1/chat/completions", json={"model": MODEL, "messages": CLASSIFY})
    assert response.status_code == 200
    assert response.json()["model"] == "openai-gpt-oss-20b"
    assert response.headers["x-model-router-selected-route"] == "classify"
    assert host.scopes == []


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"model": "gpt-4o", "messages": CLASSIFY}).encode(),
        b"{not json but mentions router:x",
        json.dumps({"model": ["router:x"], "messages": CLASSIFY}).encode(),
    ],
)
async def test_other_chat_requests_reach_the_app_byte_for_byte(
    router: Router, host: Recorder, body: bytes
) -> None:
    async with client(TollwayMiddleware(host, router=router)) as c:
        response = await c.post("/v1/chat/completions", content=body)
    assert response.headers["x-host-app"] == "yes"
    assert host.bodies == [body] and response.content == body


async def test_a_body_over_the_limit_is_replayed_whole(router: Router, host: Recorder) -> None:
    body = json.dumps({"model": MODEL, "messages": CLASSIFY, "pad": "x" * 5000}).encode()

    async def chunked() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 1000):
            yield body[i : i + 1000]

    async with client(TollwayMiddleware(host, router=router, max_body_bytes=2000)) as c:
        response = await c.post("/v1/chat/completions", content=chunked())
    assert host.bodies == [body] and response.content == body


async def test_other_paths_and_methods_pass_through(router: Router, host: Recorder) -> None:
    async with client(TollwayMiddleware(host, router=router)) as c:
        await c.get("/v1/chat/completions")
        await c.post("/api/things?x=1", content=b"payload")
    assert [(s["method"], s["path"]) for s in host.scopes] == [
        ("GET", "/v1/chat/completions"),
        ("POST", "/api/things"),
    ]
    assert host.bodies == [b"", b"payload"]


async def test_lifespan_and_websocket_scopes_pass_through(router: Router, host: Recorder) -> None:
    app = TollwayMiddleware(host, router=router)
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent: list[Message] = []

    async def receive() -> Message:
        return next(messages)

    async def send(message: Message) -> None:
        sent.append(message)

    await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    assert host.lifespan == ["lifespan.startup", "lifespan.shutdown"]
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]

    ws_messages = iter([{"type": "websocket.connect"}])
    sent.clear()

    async def ws_receive() -> Message:
        return next(ws_messages)

    await app({"type": "websocket", "path": "/v1/chat/completions", "headers": []}, ws_receive, send)
    assert sent == [{"type": "websocket.accept"}]


async def test_tenant_from_the_host_app(router: Router, host: Recorder) -> None:
    tenants: list[str] = []

    async def record(call: Any, next: Any) -> Any:
        tenants.append(call.tenant)
        return await next(call)

    router.pipeline.insert("record", record, before="dispatch")
    app = TollwayMiddleware(host, router=router, tenant=lambda scope: scope.get("user", "team-a"))
    async with client(app) as c:
        await c.post("/v1/chat/completions", json={"model": MODEL, "messages": CLASSIFY})
    assert tenants == ["team-a"]


@pytest.fixture
def mounted() -> Iterator[str]:
    starlette = pytest.importorskip("starlette.applications")
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def hello(request: Any) -> PlainTextResponse:
        return PlainTextResponse("hello from the host app")

    provider = SimulatedProvider(latency={"*": Latency()})
    router = Router(load_config(TUTORIAL), classifier=RULES, simulate=provider)
    app = starlette.Starlette(routes=[Route("/hello", hello)])
    with ServerThread(TollwayMiddleware(app, router=router)) as base_url:
        yield base_url


def test_sync_sdk_against_a_mounted_starlette_app(mounted: str) -> None:
    with openai.OpenAI(base_url=f"{mounted}/v1", api_key="sk-any", max_retries=0) as sdk:
        raw = sdk.chat.completions.with_raw_response.create(model=MODEL, messages=CLASSIFY)
        assert raw.headers["x-model-router-selected-route"] == "classify"
        chunks = list(sdk.chat.completions.create(model=MODEL, messages=CLASSIFY, stream=True))
        assert chunks[-1].choices[0].finish_reason
    assert httpx.get(f"{mounted}/hello").text == "hello from the host app"
