"""The in-process transport: the official async SDK with no socket, same bodies and headers as
the server, and streams delivered chunk by chunk."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import openai
import pytest

from tollway import Router, RulesClassifier
from tollway.config import load_config
from tollway.pipeline import Call, Next, Reply
from tollway.simulate import Latency, SimulatedProvider
from tollway.transport import RouterTransport, transport

TUTORIAL = json.loads((Path(__file__).parent.parent / "examples" / "tutorial-router.json").read_text())
RULES = RulesClassifier({"classify": r"classify", "customer-qa": r"account", "reasoning": r"step by step"})
MODEL = "router:cost-governance-demo"
CLASSIFY: list[Any] = [{"role": "user", "content": "Please classify: the app crashes when I upload a file."}]


@pytest.fixture
async def router() -> AsyncIterator[Router]:
    config = load_config({**TUTORIAL, "tenants": {"acme": {"api_keys": ["plain:sk-acme"]}}})
    async with Router(config, classifier=RULES, simulate=SimulatedProvider(latency={"*": Latency()})) as r:
        yield r


def sdk(router: Router, key: str = "sk-acme", **options: Any) -> openai.AsyncOpenAI:
    client = httpx.AsyncClient(transport=transport(router, **options))
    return openai.AsyncOpenAI(base_url="http://tollway/v1", api_key=key, http_client=client, max_retries=0)  # type: ignore[arg-type]


async def test_with_raw_response_headers_and_serving_model(router: Router) -> None:
    async with sdk(router) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model=MODEL, messages=CLASSIFY, extra_headers={"X-Model-Affinity": "s-7"}
        )
    completion = raw.parse()
    assert completion.model == "openai-gpt-oss-20b"
    assert raw.headers["x-model-router-selected-route"] == "classify"
    assert raw.headers["x-model-affinity"] == "s-7"
    assert raw.headers["x-tollway-cost"]


async def test_tenant_keys_are_checked_like_the_server_does(router: Router) -> None:
    seen: list[str] = []

    async def record(call: Call, next: Next) -> Reply:
        seen.append(call.tenant)
        assert "authorization" not in call.headers  # keys never reach the stages
        return await next(call)

    router.pipeline.insert("record", record, before="dispatch")
    async with sdk(router) as client:
        await client.chat.completions.create(model=MODEL, messages=CLASSIFY)
    async with sdk(router, key="sk-wrong") as client:
        with pytest.raises(openai.AuthenticationError):
            await client.chat.completions.create(model=MODEL, messages=CLASSIFY)
    async with sdk(router, key="ignored", tenant="billing-team") as client:
        await client.chat.completions.create(model=MODEL, messages=CLASSIFY)
    assert seen == ["acme", "billing-team"]


async def test_stream_is_delivered_chunk_by_chunk(router: Router) -> None:
    """The pipeline's stream waits for the client to have seen the first chunk before producing
    the rest: a buffering transport would never finish, so the test fails on the deadline."""
    release = anyio.Event()

    async def gated(call: Call, next: Next) -> Reply:
        async def chunks() -> AsyncIterator[dict[str, Any]]:
            yield _chunk("first", None)
            await release.wait()
            yield _chunk("second", "stop")

        call.decision.model = "openai-gpt-oss-20b"
        return Reply(decision=call.decision, stream=chunks())

    router.pipeline.replace("dispatch", gated)
    async with sdk(router) as client:
        with anyio.fail_after(5):
            stream = await client.chat.completions.create(model=MODEL, messages=CLASSIFY, stream=True)
            received = []
            async for chunk in stream:
                received.append(chunk.choices[0].delta.content)
                release.set()
    assert received == ["first", "second"]


async def test_simulated_stream_through_the_sdk(router: Router) -> None:
    async with sdk(router) as client:
        stream = await client.chat.completions.create(
            model=MODEL, messages=CLASSIFY, stream=True, stream_options={"include_usage": True}
        )
        chunks = [c async for c in stream]
    assert chunks[-1].usage is not None
    assert chunks[-1].model_extra is not None and chunks[-1].model_extra["tollway"]["cost_usd"]


async def test_errors_and_models(router: Router) -> None:
    async with sdk(router) as client:
        with pytest.raises(openai.NotFoundError):
            await client.chat.completions.create(model="gpt-4o", messages=CLASSIFY)
        with pytest.raises(openai.BadRequestError) as caught:
            await client.chat.completions.create(model=MODEL, messages=CLASSIFY, temperature="warm")  # type: ignore[call-overload]
        assert caught.value.body["param"] == "temperature"  # type: ignore[index]
        models = [m.id async for m in client.models.list()]
    assert models[0] == MODEL


async def test_unknown_path_is_an_openai_404(router: Router) -> None:
    async with httpx.AsyncClient(transport=RouterTransport(router), base_url="http://tollway") as client:
        response = await client.post("/v1/embeddings", json={})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_url"


def _chunk(content: str, finish: str | None) -> dict[str, Any]:
    return {
        "id": "c-1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "openai-gpt-oss-20b",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish}],
    }


def test_the_sync_client_gets_a_clear_type_error(router: Router) -> None:
    client = httpx.Client(transport=router.transport(), base_url="http://tollway")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"RouterTransport is async: use openai\.AsyncOpenAI"):
        client.post("/v1/chat/completions", json={"model": MODEL, "messages": CLASSIFY})
    client.close()
    with (
        pytest.raises(TypeError, match=r"httpx\.AsyncClient"),
        httpx.Client(transport=router.transport()),  # type: ignore[arg-type]
    ):
        pass


async def test_unknown_paths_are_not_echoed_whole(router: Router) -> None:
    async with httpx.AsyncClient(transport=RouterTransport(router), base_url="http://tollway") as client:
        response = await client.get("/v1/" + "x" * 10_000)
        wrong = await client.get("/v1/chat/completions")
    assert response.status_code == 404 and len(response.text) < 500
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
