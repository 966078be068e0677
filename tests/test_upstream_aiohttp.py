"""The native aiohttp upstream client against the simulator on loopback: the same answers and the
same error translation as ``HttpUpstream``, and failover through a ``Router`` that uses it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("aiohttp")

import aiohttp

from tollway import Router, RulesClassifier, UpstreamError
from tollway.catalog import Catalog
from tollway.config import load_config
from tollway.errors import AllCandidatesFailed
from tollway.serve import ServeOptions, build_upstream, upstream_client
from tollway.simulate import ALL, Fault, SimulatedProvider
from tollway.upstream import HttpUpstream, Upstream
from tollway.upstream_aiohttp import AiohttpUpstream

TUTORIAL = json.loads((Path(__file__).parent.parent / "examples" / "tutorial-router.json").read_text())
RULES = RulesClassifier({"customer-qa": r"account", "reasoning": r"step by step"})
QA = [{"role": "user", "content": "How do I close my account?"}]
REASONING = [{"role": "user", "content": "Explain step by step why the sum of two odd numbers is even."}]
MODEL = "llama3.3-70b-instruct"


def _catalog(base_url: str, **upstream: Any) -> Catalog:
    return load_config(
        {**TUTORIAL, "upstreams": {"digitalocean": {"base_url": base_url, **upstream}}}
    ).catalog


def _body(stream: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {"model": MODEL, "messages": QA}
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    return body


@pytest.fixture
async def client(sim_server: tuple[str, SimulatedProvider]) -> AsyncIterator[AiohttpUpstream]:
    upstream = AiohttpUpstream(_catalog(sim_server[0]))
    yield upstream
    await upstream.aclose()


def test_both_clients_satisfy_the_protocol() -> None:
    catalog = Catalog.default()
    clients: list[Upstream] = [AiohttpUpstream(catalog), HttpUpstream(catalog)]
    assert all(c.catalog is catalog for c in clients)


async def test_json_completion(client: AiohttpUpstream, sim_server: tuple[str, SimulatedProvider]) -> None:
    data = await client.complete(client.catalog.get(MODEL), _body())
    assert data["object"] == "chat.completion"
    assert data["choices"][0]["message"]["content"]
    assert data["usage"]["completion_tokens"] > 0
    assert sim_server[1].calls[MODEL] == 1


async def test_stream_events_end_at_done_and_the_connection_is_reused(client: AiohttpUpstream) -> None:
    model = client.catalog.get(MODEL)
    for _ in range(3):
        events = [e async for e in await client.open_stream(model, _body(stream=True))]
        assert events[0]["object"] == "chat.completion.chunk"
        assert "".join(c["delta"].get("content") or "" for e in events for c in e["choices"])
        assert events[-1]["usage"]["completion_tokens"] > 0 and not events[-1]["choices"]
    session = client._session
    assert session is not None and session.connector is not None
    assert len(session.connector._conns) == 1  # one keep-alive connection, back in the pool
    assert isinstance(session.cookie_jar, aiohttp.DummyCookieJar)  # no cookies shared across calls


@pytest.mark.parametrize("status", [500, 429, 503])
async def test_server_errors_and_rate_limits_are_retryable(
    client: AiohttpUpstream, sim_server: tuple[str, SimulatedProvider], status: int
) -> None:
    sim_server[1].faults[MODEL] = Fault(status=status)
    model = client.catalog.get(MODEL)
    with pytest.raises(UpstreamError) as info:
        await client.complete(model, _body())
    assert info.value.retryable and info.value.upstream_status == status and info.value.status == 502
    with pytest.raises(UpstreamError) as info:
        await client.open_stream(model, _body(stream=True))
    assert info.value.retryable and info.value.upstream_status == status


async def test_a_bad_request_is_not_retryable_and_keeps_its_status(
    client: AiohttpUpstream, sim_server: tuple[str, SimulatedProvider]
) -> None:
    sim_server[1].faults[MODEL] = Fault(status=400, message="max_tokens is too large")
    with pytest.raises(UpstreamError) as info:
        await client.complete(client.catalog.get(MODEL), _body())
    error = info.value
    assert (error.retryable, error.status, error.upstream_status) == (False, 400, 400)
    assert "max_tokens is too large" in error.message
    assert error.upstream_body is not None
    assert error.upstream_body["error"]["message"] == "max_tokens is too large"


async def test_an_unreachable_upstream_is_retryable() -> None:
    upstream = AiohttpUpstream(_catalog("http://127.0.0.1:9/v1"))  # discard port: refused
    try:
        with pytest.raises(UpstreamError) as info:
            await upstream.complete(upstream.catalog.get(MODEL), _body())
        assert info.value.retryable and info.value.code == "upstream_unavailable"
    finally:
        await upstream.aclose()


async def test_the_clients_own_read_timeout(sim_server: tuple[str, SimulatedProvider]) -> None:
    sim_server[1].faults[MODEL] = Fault(hang=True)
    upstream = AiohttpUpstream(_catalog(sim_server[0]), timeout=aiohttp.ClientTimeout(sock_read=0.2))
    try:
        with pytest.raises(UpstreamError) as info:
            await upstream.complete(upstream.catalog.get(MODEL), _body())
        assert (info.value.retryable, info.value.status, info.value.code) == (True, 504, "upstream_timeout")
    finally:
        await upstream.aclose()


async def test_a_hung_upstream_times_out_through_dispatch(sim_server: tuple[str, SimulatedProvider]) -> None:
    """``Dispatch`` bounds each call with ``anyio.fail_after``: the cancellation reaches aiohttp,
    every candidate times out, and the answer is a 504."""
    base_url, provider = sim_server
    provider.faults[ALL] = Fault(hang=True)
    config = load_config({**TUTORIAL, "upstreams": {"digitalocean": {"base_url": base_url}}})
    upstream = AiohttpUpstream(config.catalog)
    async with Router(config, classifier=RULES, upstream=upstream, timeout=0.2, first_chunk_timeout=0.2) as r:
        with pytest.raises(AllCandidatesFailed) as info:
            await r.chat(QA)
        assert info.value.status == 504 and len(info.value.message) > 0
        with pytest.raises(AllCandidatesFailed) as info:
            await r.stream(QA)
        assert info.value.status == 504
        provider.faults.clear()
        assert (await r.chat(QA)).content  # the pool recovered from the cancelled calls


async def test_a_cut_stream_is_a_retryable_error(
    client: AiohttpUpstream, sim_server: tuple[str, SimulatedProvider]
) -> None:
    sim_server[1].faults[MODEL] = Fault(cut_after=3)
    events = await client.open_stream(client.catalog.get(MODEL), _body(stream=True))
    received = []
    with pytest.raises(UpstreamError) as info:
        async for event in events:
            received.append(event)
    assert len(received) == 3
    assert info.value.retryable and info.value.code == "upstream_unavailable"


async def test_a_cut_json_body_is_a_retryable_error(
    client: AiohttpUpstream, sim_server: tuple[str, SimulatedProvider]
) -> None:
    sim_server[1].faults[MODEL] = Fault(cut_after=0)
    with pytest.raises(UpstreamError) as info:
        await client.complete(client.catalog.get(MODEL), _body())
    assert info.value.retryable


async def test_an_abandoned_stream_closes_its_connection(client: AiohttpUpstream) -> None:
    events = await client.open_stream(client.catalog.get(MODEL), _body(stream=True))
    assert await anext(events)
    await events.aclose()  # type: ignore[attr-defined]
    assert (await client.complete(client.catalog.get(MODEL), _body()))["choices"]


async def test_the_key_comes_from_the_environment_and_never_appears_in_errors(
    sim_server: tuple[str, SimulatedProvider], monkeypatch: pytest.MonkeyPatch
) -> None:
    base_url, provider = sim_server
    provider.api_key = "sk-live-secret"
    upstream = AiohttpUpstream(_catalog(base_url, api_key_env="SIM_KEY"))
    model = upstream.catalog.get(MODEL)
    try:
        monkeypatch.setenv("SIM_KEY", "sk-wrong")
        with pytest.raises(UpstreamError) as info:
            await upstream.complete(model, _body())
        error = info.value
        # The provider's fault, not the client's: another candidate may still answer.
        assert (error.status, error.code, error.retryable) == (502, "upstream_auth", True)
        seen = f"{error} {error!r} {error.upstream_body} {error.__cause__!r} {error.to_body()}"
        assert "sk-wrong" not in seen and "sk-live-secret" not in seen
        monkeypatch.setenv("SIM_KEY", "sk-live-secret")  # read at call time: no new client needed
        assert (await upstream.complete(model, _body()))["choices"]
    finally:
        await upstream.aclose()


async def test_a_closed_client_refuses_calls(sim_server: tuple[str, SimulatedProvider]) -> None:
    upstream = AiohttpUpstream(_catalog(sim_server[0]))
    await upstream.complete(upstream.catalog.get(MODEL), _body())
    await upstream.aclose()
    with pytest.raises(RuntimeError):
        await upstream.complete(upstream.catalog.get(MODEL), _body())


# Failover through a Router, as tests/test_dispatch_loopback.py does with HttpUpstream.


@pytest.fixture
async def router(sim_server: tuple[str, SimulatedProvider]) -> AsyncIterator[Router]:
    config = load_config({**TUTORIAL, "upstreams": {"digitalocean": {"base_url": sim_server[0]}}})
    upstream = AiohttpUpstream(config.catalog)
    async with Router(config, classifier=RULES, upstream=upstream, timeout=1.0, first_chunk_timeout=1.0) as r:
        yield r


@pytest.mark.parametrize(
    "fault", [Fault(status=500), Fault(status=429), Fault(hang=True)], ids=["500", "429", "timeout"]
)
async def test_failover_across_the_pool(
    router: Router, sim_server: tuple[str, SimulatedProvider], fault: Fault
) -> None:
    provider = sim_server[1]
    provider.faults["anthropic-claude-4.6-sonnet"] = fault
    completion = await router.chat(QA)
    assert completion.model == MODEL
    assert [a.model for a in completion.decision.attempts] == ["anthropic-claude-4.6-sonnet", MODEL]
    assert provider.calls["anthropic-claude-4.6-sonnet"] == 1


async def test_failover_to_the_fallback(router: Router, sim_server: tuple[str, SimulatedProvider]) -> None:
    provider = sim_server[1]
    provider.faults["openai-gpt-5"] = Fault(status=503)
    completion = await router.chat(REASONING, max_completion_tokens=2000)
    assert (completion.decision.route, completion.model) == ("reasoning", MODEL)
    assert provider.requests[-1]["max_tokens"] == 2000


async def test_stream_cut_before_content_fails_over_and_mid_stream_cut_is_reported(
    router: Router, sim_server: tuple[str, SimulatedProvider]
) -> None:
    provider = sim_server[1]
    provider.faults["anthropic-claude-4.6-sonnet"] = Fault(cut_after=0)
    stream = await router.stream(QA)
    assert await stream.text()
    assert stream.decision.model == MODEL

    provider.faults.clear()
    provider.faults["anthropic-claude-4.6-sonnet"] = Fault(cut_after=4)
    stream = await router.stream(QA)
    chunks = [c async for c in stream]
    assert chunks[-1]["error"]["code"] == "stream_interrupted"


async def test_a_bad_request_does_not_fail_over(
    router: Router, sim_server: tuple[str, SimulatedProvider]
) -> None:
    provider = sim_server[1]
    provider.faults["anthropic-claude-4.6-sonnet"] = Fault(status=400)
    with pytest.raises(UpstreamError) as info:
        await router.chat(QA)
    assert info.value.status == 400
    assert MODEL not in provider.calls


def test_the_server_picks_the_native_client(tmp_path: Path) -> None:
    assert upstream_client(ServeOptions()) == "aiohttp"
    assert upstream_client(ServeOptions(upstream_client="httpx")) == "httpx"
    catalog = Catalog.default()
    assert isinstance(build_upstream(ServeOptions(), catalog), AiohttpUpstream)
    assert isinstance(build_upstream(ServeOptions(upstream_client="httpx"), catalog), HttpUpstream)
    with pytest.raises(SystemExit):
        upstream_client(ServeOptions(upstream_client="curl"))
