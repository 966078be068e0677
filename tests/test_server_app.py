"""The standalone server on a real loopback socket, driven by the openai SDK (sync and async)
and by raw HTTP, against the simulated upstream."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tollway import Router, RulesClassifier
from tollway.config import load_config
from tollway.server.app import TollwayApp
from tollway.server.auth import Credentials
from tollway.server.testing import ServerThread
from tollway.simulate import Fault, Latency, SimulatedProvider
from tollway.stores.routers import SQLiteRouterStore

TUTORIAL = json.loads((Path(__file__).parent.parent / "examples" / "tutorial-router.json").read_text())
RULES = RulesClassifier(
    {"classify": r"\b(classify|label)\b", "reasoning": r"step by step", "customer-qa": r"\b(account|plan)\b"}
)
MODEL = "router:cost-governance-demo"
CLASSIFY: list[Any] = [
    {"role": "user", "content": "Classify this support message: I was charged twice this month."}
]
QA: list[Any] = [{"role": "user", "content": "How do I change the email on my account?"}]
OTHER: list[Any] = [{"role": "user", "content": "Write a haiku about autumn."}]
ADMIN = "admin-token-for-tests"


@pytest.fixture
def provider() -> SimulatedProvider:
    return SimulatedProvider(latency={"*": Latency()})


@pytest.fixture
def server(provider: SimulatedProvider, tmp_path: Path) -> Iterator[str]:
    router = Router(
        load_config(TUTORIAL), classifier=RULES, simulate=provider, timeout=5, first_chunk_timeout=5
    )
    app = TollwayApp(
        router,
        credentials=Credentials(admin_token=ADMIN),
        store=SQLiteRouterStore(tmp_path / "routers.sqlite3"),
        max_body_bytes=64_000,
        owns_router=True,
    )
    with ServerThread(app) as base_url:
        yield base_url


@pytest.fixture
def client(server: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{server}/v1", api_key="sk-any", max_retries=0) as sdk:
        yield sdk


def test_sync_sdk_completion_names_serving_model_and_route(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=CLASSIFY)
    completion = raw.parse()
    assert completion.model == "openai-gpt-oss-20b"
    assert completion.choices[0].message.content
    assert raw.headers["x-model-router-selected-route"] == "classify"
    assert raw.headers["x-tollway-model"] == "openai-gpt-oss-20b"
    assert "x-model-affinity" not in raw.headers
    assert float(raw.headers["x-tollway-cost"]) > 0
    assert float(raw.headers["x-tollway-estimated-cost"]) >= float(raw.headers["x-tollway-cost"])


def test_fallback_route_and_affinity_echo(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=OTHER, extra_headers={"X-Model-Affinity": "session-42"}
    )
    assert raw.headers["x-model-router-selected-route"] == "fallback"
    assert raw.headers["x-model-affinity"] == "session-42"
    assert raw.parse().model == "llama3.3-70b-instruct"


def test_sync_sdk_stream_carries_model_and_cost(client: openai.OpenAI) -> None:
    with client.chat.completions.with_streaming_response.create(
        model=MODEL, messages=QA, stream=True, stream_options={"include_usage": True}
    ) as response:
        assert response.headers["x-model-router-selected-route"] == "customer-qa"
        assert response.headers["content-type"].startswith("text/event-stream")
        chunks = list(response.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    assert {c.model for c in chunks} == {"anthropic-claude-4.6-sonnet"}
    last = chunks[-1]
    assert last.usage is not None and last.usage.completion_tokens > 0
    assert last.model_extra is not None and last.model_extra["tollway"]["route"] == "customer-qa"


async def test_async_sdk_completion_and_stream(server: str) -> None:
    async with openai.AsyncOpenAI(base_url=f"{server}/v1", api_key="sk-any", max_retries=0) as sdk:
        completion = await sdk.chat.completions.create(model=MODEL, messages=QA)
        assert completion.model == "anthropic-claude-4.6-sonnet"
        stream = await sdk.chat.completions.create(model=MODEL, messages=CLASSIFY, stream=True)
        chunks = [chunk async for chunk in stream]
    assert chunks and all(c.model == "openai-gpt-oss-20b" for c in chunks)
    assert chunks[-1].choices[0].finish_reason is not None


def test_raw_sse_framing(server: str) -> None:
    body = {"model": MODEL, "messages": CLASSIFY, "stream": True}
    with httpx.stream("POST", f"{server}/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        raw = response.read().decode()
    events = raw.split("\n\n")
    assert events[-1] == "" and events[-2] == "data: [DONE]"
    for event in events[:-2]:
        assert event.startswith("data: {")
        json.loads(event.removeprefix("data: "))


def test_error_mid_stream_is_a_data_event(server: str, provider: SimulatedProvider) -> None:
    provider.faults["*"] = Fault(cut_after=3, times=1)
    body = {"model": MODEL, "messages": CLASSIFY, "stream": True}
    with httpx.stream("POST", f"{server}/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        events = [line for line in response.iter_lines() if line]
    assert events[-1] == "data: [DONE]"
    error = json.loads(events[-2].removeprefix("data: "))
    assert error["error"]["code"] == "stream_interrupted"


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        (b"{not json", 400, None),
        (b"", 400, None),
        (b"[1, 2]", 400, None),
        (json.dumps({"model": MODEL}).encode(), 400, "messages"),
        (json.dumps({"model": MODEL, "messages": []}).encode(), 400, "messages"),
        (json.dumps({"model": MODEL, "messages": "hi"}).encode(), 400, "messages"),
        (
            json.dumps({"model": MODEL, "messages": [{"role": "wizard", "content": "x"}]}).encode(),
            400,
            "messages[0].role",
        ),
        (
            json.dumps({"model": MODEL, "messages": CLASSIFY, "temperature": "hot"}).encode(),
            400,
            "temperature",
        ),
        (json.dumps({"model": MODEL, "messages": CLASSIFY, "max_tokens": -1}).encode(), 400, "max_tokens"),
        (json.dumps({"model": MODEL, "messages": CLASSIFY, "n": 3}).encode(), 400, "n"),
        (json.dumps({"model": 7, "messages": CLASSIFY}).encode(), 400, "model"),
        (json.dumps({"messages": CLASSIFY}).encode(), 400, "model"),
        (json.dumps({"model": "gpt-4o", "messages": CLASSIFY}).encode(), 404, "model"),
        (json.dumps({"model": "router:nope", "messages": CLASSIFY}).encode(), 404, "model"),
        (json.dumps({"model": MODEL, "messages": CLASSIFY, "tenant": "someone-else"}).encode(), 200, None),
        (
            json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "x" * 70_000}]}).encode(),
            413,
            None,
        ),
    ],
)
def test_client_mistakes_get_openai_errors(server: str, body: bytes, status: int, param: str | None) -> None:
    response = httpx.post(
        f"{server}/v1/chat/completions", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == status, response.text
    if status == 200:
        return
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["param"] == param
    assert "Traceback" not in response.text


def test_unsupported_params_and_wrong_methods(server: str) -> None:
    assert httpx.get(f"{server}/v1/chat/completions").status_code == 405
    missing = httpx.get(f"{server}/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "unknown_url"
    assert httpx.post(f"{server}/healthz").status_code == 405


def test_sdk_raises_typed_errors(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=CLASSIFY)
    assert "tollway serves routers; use model router:<name>" in str(caught.value)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model=MODEL, messages=[])


def test_models_health_ready_metrics_openapi(server: str, client: openai.OpenAI) -> None:
    ids = [m.id for m in client.models.list()]
    assert ids[0] == MODEL and "openai-gpt-5" in ids
    assert httpx.get(f"{server}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{server}/readyz")
    assert ready.status_code == 200 and ready.json()["routers"] == ["cost-governance-demo"]
    client.chat.completions.create(model=MODEL, messages=CLASSIFY)
    metrics = httpx.get(f"{server}/metrics").text
    assert 'tollway_requests_total{router="cost-governance-demo",route="classify"' in metrics
    assert "tollway_cost_usd_total" in metrics
    spec = httpx.get(f"{server}/openapi.json").json()
    assert {"/v1/chat/completions", "/v2/gen-ai/models/routers/{uuid}"} <= set(spec["paths"])


def test_admin_token_is_refused_on_the_inference_plane(server: str) -> None:
    with (
        openai.OpenAI(base_url=f"{server}/v1", api_key=ADMIN, max_retries=0) as sdk,
        pytest.raises(openai.PermissionDeniedError) as caught,
    ):
        sdk.chat.completions.create(model=MODEL, messages=CLASSIFY)
    assert "tenant API key" in str(caught.value)
    assert ADMIN not in str(caught.value)


def test_failures_after_routing_keep_their_metric_labels(tmp_path: Path) -> None:
    from decimal import Decimal

    from tollway.simulate import Fault
    from tollway.tenancy import Budget, Tenant, Tenants

    provider = SimulatedProvider(latency={"*": Latency()})
    tenants = Tenants([Tenant(name="default", budget=Budget(per_request=Decimal("0.0000001")))])
    capped = Router(load_config(TUTORIAL), classifier=RULES, simulate=provider, tenants=tenants)
    with ServerThread(TollwayApp(capped, owns_router=True)) as base:
        over = httpx.post(f"{base}/v1/chat/completions", json={"model": MODEL, "messages": CLASSIFY})
        assert over.status_code == 429, over.text
        metrics = httpx.get(f"{base}/metrics").text
    assert 'router="cost-governance-demo",route="classify",model="",status="429"' in metrics

    router = Router(load_config(TUTORIAL), classifier=RULES, simulate=provider)
    provider.faults["*"] = Fault(status=503)
    with ServerThread(TollwayApp(router, owns_router=True)) as base:
        failed = httpx.post(f"{base}/v1/chat/completions", json={"model": MODEL, "messages": CLASSIFY})
        assert failed.status_code == 502, failed.text
        unrouted = httpx.post(
            f"{base}/v1/chat/completions", json={"model": "router:nope", "messages": CLASSIFY}
        )
        assert unrouted.status_code == 404
        metrics = httpx.get(f"{base}/metrics").text
    assert 'tollway_requests_total{router="cost-governance-demo",route="classify",model="' in metrics
    assert 'status="502"} 1' in metrics
    assert 'tollway_rejected_requests_total{status="404"} 1' in metrics


def test_openapi_documents_every_path_and_status(server: str) -> None:
    spec = httpx.get(f"{server}/openapi.json").json()
    assert {"/dashboard", "/dashboard/data.json", "/openapi.json"} <= set(spec["paths"])
    chat = spec["paths"]["/v1/chat/completions"]["post"]["responses"]
    assert {"405", "429"} <= set(chat)
    control = spec["paths"]["/v2/gen-ai/models/routers/{uuid}"]["put"]["responses"]
    assert {"405", "409", "413", "503"} <= set(control)


def test_405_answers_carry_allow(server: str) -> None:
    assert httpx.get(f"{server}/v1/chat/completions").headers["allow"] == "POST"
    assert httpx.post(f"{server}/healthz").headers["allow"] == "GET, HEAD"
    assert httpx.post(f"{server}/dashboard/data.json").headers["allow"] == "GET, HEAD"


def test_error_bodies_do_not_echo_unbounded_input(server: str) -> None:
    long = "x" * 5_000
    responses = [
        httpx.get(f"{server}/v1/{long}"),
        httpx.get(f"{server}/dashboard/data.json", params={"since": long}),
        httpx.get(f"{server}/dashboard/data.json", params={"compare": ",".join([long[:1000]] * 20)}),
        httpx.post(f"{server}/v1/chat/completions", json={"model": f"router:{long}", "messages": CLASSIFY}),
    ]
    for response in responses:
        assert 400 <= response.status_code < 500
        assert len(response.text) < 1_000, response.text[:300]
