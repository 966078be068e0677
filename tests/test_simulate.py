"""The simulated upstream, through the official OpenAI SDK: in process and on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import openai
import pytest

from tollway.catalog import Catalog
from tollway.simulate import (
    Fault,
    Latency,
    SimulatedHTTPError,
    SimulatedProvider,
    SimulatedTransport,
    SimulatorServer,
    _codec,
    prompt_kind,
)

CATEGORIES = (
    "Classify a customer support message into exactly one of the following categories: "
    "billing, bug, how-to, or account."
)
CLASSIFY = [
    {"role": "system", "content": CATEGORIES},
    {"role": "user", "content": "Classify this ticket: I was charged twice this month."},
]
QA = [{"role": "user", "content": "How do I change the email on my account?"}]
REASONING = [{"role": "user", "content": "Work out step by step how many servers we need."}]
Client = openai.AsyncOpenAI
Raw = httpx.AsyncClient
Sim = SimulatedProvider
FAST_RETRY = 0.001  # seconds: the SDK honours retry-after-ms, so retries cost no time


@pytest.fixture
def provider() -> SimulatedProvider:
    return SimulatedProvider()


@pytest.fixture
async def raw(provider: SimulatedProvider) -> AsyncIterator[httpx.AsyncClient]:
    transport = SimulatedTransport(provider)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim.test/v1") as http:
        yield http


@pytest.fixture
async def client(raw: httpx.AsyncClient) -> openai.AsyncOpenAI:
    return sdk("http://sim.test/v1", raw)


def sdk(base_url: str, http: httpx.AsyncClient, retries: int = 0) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=base_url, api_key="sim", http_client=http, max_retries=retries)


async def chat(client: openai.AsyncOpenAI, model: str, messages: Any = QA, **params: Any) -> Any:
    return await client.chat.completions.create(model=model, messages=messages, **params)


async def stream_chunks(client: openai.AsyncOpenAI, model: str, **params: Any) -> list[Any]:
    stream = await client.chat.completions.create(model=model, messages=QA, stream=True, **params)
    return [chunk async for chunk in stream]


def text_of(chunks: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


# -- completions ---------------------------------------------------------------------------------


async def test_a_completion_has_the_openai_shape_and_consistent_usage(client: openai.AsyncOpenAI) -> None:
    r = await chat(client, "anthropic-claude-4.6-sonnet")
    assert r.model == "anthropic-claude-4.6-sonnet"
    assert r.id.startswith("chatcmpl-sim-") and r.object == "chat.completion"
    assert r.choices[0].finish_reason == "stop" and r.choices[0].message.content
    usage = r.usage
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.completion_tokens_details.reasoning_tokens == 0  # not a reasoning model
    assert usage.prompt_tokens_details.cached_tokens == 0
    assert 150 <= usage.completion_tokens <= 450  # a medium answer (the tutorial's: 292)


async def test_answers_are_deterministic_per_model_and_prompt(client: openai.AsyncOpenAI) -> None:
    first = await chat(client, "openai-gpt-5")
    again = await chat(client, "openai-gpt-5")
    assert first.model_dump() == again.model_dump()
    other_prompt = await chat(client, "openai-gpt-5", [{"role": "user", "content": "Hi there"}])
    other_model = await chat(client, "openai-gpt-5-mini")
    assert other_prompt.choices[0].message.content != first.choices[0].message.content
    assert other_model.id != first.id


async def test_two_providers_with_the_same_settings_agree() -> None:
    body = {"model": "llama3.3-70b-instruct", "messages": QA}
    assert await SimulatedProvider().complete(body) == await SimulatedProvider().complete(body)


async def test_prompt_tokens_come_from_the_pluggable_counter() -> None:
    counted: list[Any] = []

    def count(messages: list[dict[str, Any]]) -> int:
        counted.append(messages)
        return 1234

    provider = SimulatedProvider(count_tokens=count)
    r = await provider.complete({"model": "m", "messages": QA})
    assert r["usage"]["prompt_tokens"] == 1234 and counted == [QA]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Classify this ticket: refund please", "label"),
        ("Please categorize the following feedback", "label"),
        ("Prove that the sum of two even numbers is even", "reasoning"),
        ("Analyze the trade-offs of these two architectures", "reasoning"),
        ("What are your opening hours?", "answer"),
    ],
)
def test_the_kind_of_prompt_is_read_from_the_last_user_message(text: str, kind: str) -> None:
    messages = [{"role": "user", "content": "Classify it"}, {"role": "user", "content": text}]
    assert prompt_kind(messages) == kind


# -- reasoning and budgets ------------------------------------------------------------------------


async def test_a_label_is_one_of_the_listed_categories(client: openai.AsyncOpenAI) -> None:
    r = await chat(client, "llama3.3-70b-instruct", CLASSIFY)
    assert r.choices[0].message.content in {"billing", "bug", "how-to", "account"}
    assert r.usage.completion_tokens <= 3 and r.usage.completion_tokens_details.reasoning_tokens == 0


async def test_a_reasoning_model_spends_hidden_tokens_even_on_a_label(client: openai.AsyncOpenAI) -> None:
    r = await chat(client, "openai-gpt-oss-20b", CLASSIFY)
    reasoning = r.usage.completion_tokens_details.reasoning_tokens
    assert 60 <= reasoning <= 90  # MISSION: 80 completion tokens for a one-word label
    assert reasoning < r.usage.completion_tokens <= reasoning + 3
    assert r.choices[0].message.content in {"billing", "bug", "how-to", "account"}


async def test_a_reasoning_prompt_fits_the_4096_floor(client: openai.AsyncOpenAI) -> None:
    r = await chat(client, "openai-gpt-5", REASONING, max_completion_tokens=4096)
    assert r.choices[0].finish_reason == "stop" and r.choices[0].message.content
    assert 2000 <= r.usage.completion_tokens_details.reasoning_tokens < r.usage.completion_tokens < 4096


async def test_a_budget_spent_on_reasoning_leaves_content_null(client: openai.AsyncOpenAI) -> None:
    r = await chat(client, "openai-gpt-5", REASONING, max_completion_tokens=1024)
    assert r.choices[0].message.content is None
    assert r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens == r.usage.completion_tokens_details.reasoning_tokens == 1024


async def test_a_budget_that_cuts_the_visible_text_truncates_it(client: openai.AsyncOpenAI) -> None:
    full = await chat(client, "openai-gpt-5-mini")
    reasoning = full.usage.completion_tokens_details.reasoning_tokens
    cut = await chat(client, "openai-gpt-5-mini", max_completion_tokens=reasoning + 5)
    assert cut.choices[0].finish_reason == "length"
    assert cut.usage.completion_tokens == reasoning + 5
    assert full.choices[0].message.content.startswith(cut.choices[0].message.content)
    assert len(cut.choices[0].message.content) < len(full.choices[0].message.content)


async def test_the_legacy_max_tokens_is_honoured_too(client: openai.AsyncOpenAI) -> None:
    r = await chat(client, "llama3.3-70b-instruct", max_tokens=10)
    assert r.usage.completion_tokens == 10 and r.choices[0].finish_reason == "length"


async def test_reasoning_models_can_be_named_instead_of_taken_from_the_catalog() -> None:
    provider = SimulatedProvider(reasoning={"my-thinker"})
    thinker = await provider.complete({"model": "my-thinker", "messages": QA})
    gpt5 = await provider.complete({"model": "openai-gpt-5", "messages": QA})
    assert thinker["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0
    assert gpt5["usage"]["completion_tokens_details"]["reasoning_tokens"] == 0


async def test_strict_params_rejects_max_tokens_on_reasoning_models() -> None:
    provider = SimulatedProvider(strict_params=True)
    with pytest.raises(SimulatedHTTPError) as info:
        await provider.complete({"model": "openai-gpt-5", "messages": QA, "max_tokens": 100})
    assert info.value.status == 400 and info.value.body["error"]["param"] == "max_tokens"


# -- prompt cache, responder, response_format -----------------------------------------------------


async def test_a_repeated_long_prefix_is_reported_as_cached() -> None:
    provider = SimulatedProvider(prompt_cache=True)
    long_system = {"role": "system", "content": "Policy text. " * 500}  # about 1,600 tokens
    first = [long_system, {"role": "user", "content": "First question?"}]
    second = [long_system, {"role": "user", "content": "Second question?"}]

    async def cached(model: str, messages: list[dict[str, Any]]) -> int:
        r = await provider.complete({"model": model, "messages": messages})
        value: int = r["usage"]["prompt_tokens_details"]["cached_tokens"]
        return value

    assert await cached("openai-gpt-5", first) == 0
    hit = await cached("openai-gpt-5", second)
    assert hit >= 1024 and hit % 128 == 0
    assert await cached("llama3.3-70b-instruct", first) == 0  # no prompt cache on this model
    assert await cached("llama3.3-70b-instruct", second) == 0


async def test_a_short_prompt_is_never_cached() -> None:
    provider = SimulatedProvider(prompt_cache=True)
    for _ in range(2):
        r = await provider.complete({"model": "openai-gpt-5", "messages": QA})
    assert r["usage"]["prompt_tokens_details"]["cached_tokens"] == 0


async def test_a_responder_sets_the_text(client: Client, provider: Sim) -> None:
    provider.responder = lambda model, body: '{"task": "classify"}' if model == "judge" else None
    r = await chat(client, "judge")
    assert json.loads(r.choices[0].message.content) == {"task": "classify"}
    other = await chat(client, "llama3.3-70b-instruct")
    assert not other.choices[0].message.content.startswith("{")


async def test_a_simple_json_schema_gets_a_valid_object(client: openai.AsyncOpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"category": {"type": "string", "enum": ["billing", "bug", "account"]}},
        "required": ["category"],
    }
    response_format = {"type": "json_schema", "json_schema": {"name": "label", "schema": schema}}
    r = await chat(client, "openai-gpt-4o-mini", CLASSIFY, response_format=response_format)
    assert json.loads(r.choices[0].message.content)["category"] in {"billing", "bug", "account"}


# -- streaming ------------------------------------------------------------------------------------


async def test_a_stream_matches_the_completion_and_ends_with_usage(client: openai.AsyncOpenAI) -> None:
    whole = await chat(client, "openai-gpt-5-mini")
    chunks = await stream_chunks(client, "openai-gpt-5-mini", stream_options={"include_usage": True})
    assert text_of(chunks) == whole.choices[0].message.content
    assert {c.id for c in chunks} == {whole.id} and {c.model for c in chunks} == {"openai-gpt-5-mini"}
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage == whole.usage
    assert all(c.usage is None for c in chunks[:-1])


async def test_a_stream_without_include_usage_has_no_usage_chunk(client: openai.AsyncOpenAI) -> None:
    chunks = await stream_chunks(client, "llama3.3-70b-instruct")
    assert all(c.choices for c in chunks) and all(c.usage is None for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"


async def test_a_streamed_null_content_ends_with_length(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model="openai-gpt-5", messages=REASONING, stream=True, max_completion_tokens=1024
    )
    chunks = [chunk async for chunk in stream]
    assert text_of(chunks) == "" and chunks[-1].choices[0].finish_reason == "length"


async def test_the_sse_body_is_framed_and_terminated(raw: httpx.AsyncClient) -> None:
    body = {"model": "m", "messages": QA, "stream": True}
    r = await raw.post("/chat/completions", json=body)
    assert r.headers["content-type"] == "text/event-stream"
    frames = r.text.split("\n\n")
    assert frames[-2:] == ["data: [DONE]", ""]
    assert all(f.startswith("data: {") for f in frames[:-2])


# -- faults ---------------------------------------------------------------------------------------


async def test_an_error_status_fault_is_an_openai_error(client: Client, provider: Sim) -> None:
    provider.faults["openai-gpt-5"] = Fault(status=500)
    with pytest.raises(openai.InternalServerError):
        await chat(client, "openai-gpt-5")
    assert (await chat(client, "openai-gpt-5-mini")).choices  # other models are unaffected
    assert provider.calls["openai-gpt-5"] == 1 and provider.calls["openai-gpt-5-mini"] == 1


async def test_a_429_has_the_openai_body_and_retry_after(raw: Raw, provider: Sim) -> None:
    provider.faults["*"] = Fault(status=429, retry_after=2)
    r = await raw.post("/chat/completions", json={"model": "m", "messages": QA})
    assert r.status_code == 429 and r.headers["retry-after"] == "2"
    error = r.json()["error"]
    assert (error["type"], error["code"]) == ("requests", "rate_limit_exceeded")
    assert set(error) == {"message", "type", "param", "code"}


async def test_the_sdk_retries_a_server_error_and_each_attempt_is_counted(raw: Raw, provider: Sim) -> None:
    provider.faults["*"] = Fault(status=503, retry_after=FAST_RETRY)
    with pytest.raises(openai.InternalServerError):
        await chat(sdk("http://sim.test/v1", raw, retries=2), "m")
    assert provider.calls["m"] == 3


async def test_a_fault_for_the_next_n_calls_then_recovers(client: Client, provider: Sim) -> None:
    provider.faults["m"] = Fault(status=400, message="bad temperature", times=2)
    for _ in range(2):
        with pytest.raises(openai.BadRequestError, match="bad temperature"):
            await chat(client, "m")
    assert (await chat(client, "m")).choices[0].message.content
    assert provider.calls["m"] == 3


async def test_faults_can_be_switched_off_at_run_time(client: Client, provider: Sim) -> None:
    provider.faults["m"] = Fault(status=500)
    with pytest.raises(openai.InternalServerError):
        await chat(client, "m")
    del provider.faults["m"]
    assert (await chat(client, "m")).choices


async def test_a_fault_rate_is_partial_and_reproducible() -> None:
    async def pattern() -> list[bool]:
        provider = SimulatedProvider(seed=7)
        provider.faults["*"] = Fault(status=500, rate=0.5)
        outcomes = []
        for _ in range(40):
            try:
                await provider.complete({"model": "m", "messages": QA})
                outcomes.append(True)
            except SimulatedHTTPError:
                outcomes.append(False)
        return outcomes

    first = await pattern()
    assert 5 < first.count(False) < 35
    assert await pattern() == first


async def test_a_hang_times_out_on_the_client(client: Client, provider: Sim) -> None:
    provider.faults["m"] = Fault(hang=True)
    with pytest.raises(openai.APITimeoutError):
        await chat(client, "m", timeout=0.05)
    assert provider.calls["m"] == 1


async def test_a_hang_is_cancellable(provider: SimulatedProvider) -> None:
    provider.faults["*"] = Fault(hang=True)
    with anyio.move_on_after(0.05) as scope:
        await provider.complete({"model": "m", "messages": QA})
    assert scope.cancelled_caught


async def test_a_stream_cut_raises_on_the_client(client: Client, provider: Sim) -> None:
    provider.faults["m"] = Fault(cut_after=3)
    stream = await client.chat.completions.create(model="m", messages=QA, stream=True)
    received = []
    with pytest.raises(openai.APIConnectionError):
        async for chunk in stream:
            received.append(chunk)
    assert len(received) == 3  # the chunks before the drop arrived: the body is not buffered


async def test_a_stream_cut_is_a_protocol_error_for_httpx(raw: Raw, provider: Sim) -> None:
    provider.faults["*"] = Fault(cut_after=2)
    body = {"model": "m", "messages": QA, "stream": True}
    frames: list[bytes] = []
    async with raw.stream("POST", "/chat/completions", json=body) as r:
        assert r.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            async for frame in r.aiter_raw():
                frames.append(frame)
    assert len(frames) == 2


async def test_a_cut_after_the_last_chunk_still_drops_before_done(raw: Raw, provider: Sim) -> None:
    provider.faults["*"] = Fault(cut_after=10_000)
    body = {"model": "m", "messages": QA, "stream": True}
    async with raw.stream("POST", "/chat/completions", json=body) as r:
        frames: list[bytes] = []
        with pytest.raises(httpx.RemoteProtocolError):
            async for frame in r.aiter_raw():
                frames.append(frame)
    assert frames and b"[DONE]" not in b"".join(frames)


async def test_a_cut_non_streamed_body_fails_while_reading(raw: Raw, provider: Sim) -> None:
    provider.faults["*"] = Fault(cut_after=0)
    with pytest.raises(httpx.RemoteProtocolError):
        await raw.post("/chat/completions", json={"model": "m", "messages": QA})


def test_a_fault_must_say_what_it_does() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Fault()
    with pytest.raises(ValueError, match="exactly one"):
        Fault(status=500, hang=True)
    with pytest.raises(ValueError, match="rate"):
        Fault(status=500, rate=1.5)
    with pytest.raises(ValueError, match="status"):
        Fault(status=200)


# -- HTTP edges ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"{not json", None),
        (b"[]", None),
        (b'{"messages": [{"role": "user", "content": "hi"}]}', "model"),
        (b'{"model": "m", "messages": []}', "messages"),
        (
            b'{"model": "m", "messages": [{"role": "user"}], "max_completion_tokens": 0}',
            "max_completion_tokens",
        ),
    ],
)
async def test_bad_requests_are_400s_in_the_openai_format(raw: Raw, body: bytes, param: str | None) -> None:
    r = await raw.post("/chat/completions", content=body)
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "invalid_request_error" and r.json()["error"]["param"] == param


async def test_unknown_paths_and_methods_are_refused(raw: httpx.AsyncClient) -> None:
    assert (await raw.post("/embeddings", json={})).status_code == 404
    assert (await raw.get("/chat/completions")).status_code == 405


async def test_models_are_listed(client: openai.AsyncOpenAI) -> None:
    ids = [m.id async for m in client.models.list()]
    assert "openai-gpt-5" in ids and ids == sorted(ids)


async def test_an_explicit_model_list_rejects_other_models() -> None:
    provider = SimulatedProvider(models={"only-this"})
    transport = SimulatedTransport(provider)
    async with httpx.AsyncClient(transport=transport) as http:
        with pytest.raises(openai.NotFoundError):
            await chat(sdk("http://sim.test/v1", http), "openai-gpt-5")
        assert (await chat(sdk("http://sim.test/v1", http), "only-this")).choices


async def test_a_required_api_key_is_checked() -> None:
    provider = SimulatedProvider(api_key="right")
    async with httpx.AsyncClient(transport=SimulatedTransport(provider)) as http:
        with pytest.raises(openai.AuthenticationError):
            await chat(sdk("http://sim.test/v1", http), "m")
        good = openai.AsyncOpenAI(base_url="http://sim.test/v1", api_key="right", http_client=http)
        assert (await chat(good, "m")).choices


async def test_latency_settings_keep_the_answer(provider: SimulatedProvider) -> None:
    body = {"model": "m", "messages": QA, "stream": True}
    before = [c async for c in provider.stream(body)]
    provider.latency["*"] = Latency(ttft=0.001, per_token=0.00001)
    assert [c async for c in provider.stream(body)] == before


async def test_the_stdlib_json_fallback_gives_the_same_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    body = {"model": "m", "messages": QA, "stream": True}
    transport = SimulatedTransport(SimulatedProvider())
    request = httpx.Request("POST", "http://sim.test/v1/chat/completions", json=body)
    with_orjson = await (await transport.handle_async_request(request)).aread()
    monkeypatch.setattr(_codec, "orjson", None)
    request = httpx.Request("POST", "http://sim.test/v1/chat/completions", json=body)
    assert await (await transport.handle_async_request(request)).aread() == with_orjson


def test_latency_from_the_catalog_uses_ttft() -> None:
    latency = Latency.from_catalog(Catalog.default(), per_token=0.01)
    assert latency["openai-gpt-5"] == Latency(ttft=0.9, per_token=0.01)


# -- on loopback -----------------------------------------------------------------------------------


async def test_the_server_answers_json_and_streams(sim_server: tuple[str, SimulatedProvider]) -> None:
    base_url, provider = sim_server
    async with httpx.AsyncClient() as http:
        client = sdk(base_url, http)
        r = await chat(client, "openai-gpt-5", REASONING, max_completion_tokens=1024)
        assert r.choices[0].message.content is None and r.choices[0].finish_reason == "length"
        chunks = await stream_chunks(client, "openai-gpt-5", stream_options={"include_usage": True})
    assert chunks[-1].usage.completion_tokens_details.reasoning_tokens > 0
    assert text_of(chunks)
    assert provider.calls["openai-gpt-5"] == 2


async def test_the_server_sends_fault_statuses(sim_server: tuple[str, SimulatedProvider]) -> None:
    base_url, provider = sim_server
    provider.faults["*"] = Fault(status=429, times=1)
    async with httpx.AsyncClient() as http:
        with pytest.raises(openai.RateLimitError):
            await chat(sdk(base_url, http), "m")
        assert (await chat(sdk(base_url, http), "m")).choices


async def test_the_server_drops_a_cut_stream(sim_server: tuple[str, SimulatedProvider]) -> None:
    base_url, provider = sim_server
    provider.faults["*"] = Fault(cut_after=4)
    body = {"model": "m", "messages": QA, "stream": True}
    received = b""
    url = base_url + "/chat/completions"
    async with httpx.AsyncClient() as http, http.stream("POST", url, json=body) as r:
        assert r.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            async for piece in r.aiter_bytes():
                received += piece
    assert received.count(b"data: ") == 4


async def test_the_server_lets_a_client_time_out_on_a_hang(sim_server: tuple[str, SimulatedProvider]) -> None:
    base_url, provider = sim_server
    provider.faults["*"] = Fault(hang=True)
    async with httpx.AsyncClient() as http:
        with pytest.raises(openai.APITimeoutError):
            await chat(sdk(base_url, http), "m", timeout=0.2)
    assert provider.calls["m"] == 1


def test_the_server_works_from_sync_code_and_stops_its_thread() -> None:
    with SimulatorServer() as base_url:
        r = httpx.post(base_url + "/chat/completions", json={"model": "m", "messages": QA})
        assert r.status_code == 200 and r.json()["model"] == "m"
        assert any(t.name.startswith("tollway-sim") for t in threading.enumerate())
    assert not any(t.name.startswith("tollway-sim") for t in threading.enumerate())
    with pytest.raises(httpx.ConnectError):
        httpx.get(base_url + "/models")


async def test_the_server_works_as_an_async_context_manager() -> None:
    async with SimulatorServer() as base_url, httpx.AsyncClient() as http:
        r = await http.get(base_url + "/models")
    assert r.status_code == 200 and r.json()["object"] == "list"
