"""Spans, metrics and log events of routed calls: a real Router on the simulated upstream, read
back through the OTel SDK's in-memory exporter and reader and structlog's capture_logs."""

import json
from pathlib import Path

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from structlog.testing import capture_logs

from tollway import AllCandidatesFailed, Router, RulesClassifier
from tollway.config import load_config
from tollway.simulate import Fault
from tollway.stages.affinity import Affinity
from tollway.stages.telemetry import Telemetry

TUTORIAL = json.loads((Path(__file__).parent.parent / "examples" / "tutorial-router.json").read_text())
RULES = RulesClassifier({"reasoning": r"step by step", "customer-qa": r"\b(account|plan)\b"})
SONNET, LLAMA = "anthropic-claude-4.6-sonnet", "llama3.3-70b-instruct"
QA = [{"role": "user", "content": "How do I change the email on my account?"}]
REASONING = [{"role": "user", "content": "Work out step by step how many servers we need."}]
OTHER = [{"role": "user", "content": "Write a poem about autumn."}]


class Otel:
    def __init__(self):
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def finished(self):
        return self.spans.get_finished_spans()

    def root(self):
        (root,) = [s for s in self.finished() if s.parent is None]
        return root

    def points(self, name):
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        return list(metric.data.data_points)
        return []


@pytest.fixture
def otel():
    return Otel()


@pytest.fixture
async def router(otel):
    async with Router(load_config(TUTORIAL), classifier=RULES, simulate=True, timeout=2.0) as r:
        telemetry = Telemetry(
            catalog=r.catalog, tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider
        )
        r.pipeline.replace("telemetry", telemetry)
        r.pipeline.replace("affinity", Affinity(health=r.health))
        yield r


async def test_one_span_per_call_named_after_the_model_with_genai_attributes(router, otel):
    completion = await router.chat(QA, tenant="acme", session="s-1", max_completion_tokens=500)
    root = otel.root()
    assert root.name == f"chat {SONNET}" and root.kind == SpanKind.CLIENT
    attrs, decision = root.attributes, completion.decision
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == "router:cost-governance-demo"
    assert attrs["gen_ai.request.max_tokens"] == 500
    assert attrs["gen_ai.response.model"] == SONNET
    assert attrs["gen_ai.provider.name"] == "anthropic"
    assert attrs["gen_ai.response.id"] == completion.body["id"]
    assert attrs["gen_ai.usage.input_tokens"] == decision.usage.prompt_tokens
    assert attrs["gen_ai.usage.output_tokens"] == decision.usage.completion_tokens
    assert attrs["gen_ai.conversation.id"] == "s-1"
    assert (attrs["tollway.route"], attrs["tollway.tenant"]) == ("customer-qa", "acme")
    assert attrs["tollway.cost_usd"] == float(decision.actual_cost)
    assert attrs["tollway.cost_estimate_usd"] == float(decision.estimated_cost)
    assert (attrs["tollway.fallback"], attrs["tollway.reframed"]) == (False, False)
    assert attrs["tollway.affinity"] == "new"
    assert root.status.status_code == StatusCode.UNSET


async def test_each_upstream_attempt_is_a_child_span(router, otel):
    router.simulator.faults[SONNET] = Fault(status=500, times=1)
    await router.chat(QA)
    root = otel.root()
    children = sorted((s for s in otel.finished() if s.parent), key=lambda s: s.start_time)
    assert [c.name for c in children] == [f"chat {SONNET}", f"chat {LLAMA}"]
    assert all(c.parent.span_id == root.context.span_id for c in children)
    assert children[0].status.status_code == StatusCode.ERROR
    assert children[0].attributes["error.type"] == "500"
    assert children[0].end_time <= children[1].start_time
    assert root.start_time <= children[0].start_time and children[1].end_time <= root.end_time
    assert root.attributes["tollway.attempts"] == 2
    assert root.attributes["tollway.fallback"] is False  # llama is in the task's own pool


async def test_fallback_and_match_are_marked(router, otel):
    await router.chat(OTHER)
    assert otel.root().attributes["tollway.route"] == "fallback"
    assert otel.root().attributes["tollway.matched"] is False
    assert otel.root().attributes["tollway.fallback"] is True


async def test_a_failed_call_records_the_error_on_the_span(router, otel):
    for model in (SONNET, LLAMA):
        router.simulator.faults[model] = Fault(status=503)
    with capture_logs() as logs, pytest.raises(AllCandidatesFailed):
        await router.chat(QA)
    root = otel.root()
    assert root.name == "chat router:cost-governance-demo"  # no model served
    assert root.status.status_code == StatusCode.ERROR
    assert root.attributes["error.type"] == "all_candidates_failed"
    assert [e.name for e in root.events] == ["exception"]
    assert logs[-1]["log_level"] == "warning" and logs[-1]["error.type"] == "all_candidates_failed"


async def test_a_stream_span_ends_when_the_stream_ends(router, otel):
    stream = await router.stream(QA, stream_options={"include_usage": True})
    assert otel.finished() == ()
    chunks = [c async for c in stream]
    root = otel.root()
    assert root.attributes["gen_ai.usage.output_tokens"] == chunks[-1]["usage"]["completion_tokens"]
    assert root.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert "tollway.stream.completed" not in root.attributes


async def test_a_stream_span_ends_when_the_client_hangs_up(router, otel):
    stream = await router.stream(QA)
    await anext(aiter(stream))
    await stream.aclose()
    root = otel.root()
    assert root.attributes["tollway.stream.completed"] is False
    assert root.status.status_code == StatusCode.UNSET  # the client left: not our error
    assert len([s for s in otel.finished() if s.parent]) == 1


async def test_a_stream_cut_mid_way_is_an_error(router, otel):
    router.simulator.faults[SONNET] = Fault(cut_after=3)
    stream = await router.stream(QA)
    [c async for c in stream]
    assert otel.root().status.status_code == StatusCode.ERROR
    assert otel.root().attributes["error.type"] == "stream_interrupted"


async def test_metrics_count_requests_tokens_cost_and_rates(router, otel):
    completions = [await router.chat(QA), await router.chat(QA), await router.chat(OTHER)]
    requests = otel.points("tollway.requests")
    assert sum(p.value for p in requests) == 3
    matched = sum(p.value for p in requests if p.attributes["tollway.matched"])
    fallback = sum(p.value for p in requests if p.attributes["tollway.fallback"])
    assert (matched, fallback) == (2, 1)
    cost = sum(p.value for p in otel.points("tollway.cost"))
    assert cost == pytest.approx(sum(float(c.decision.actual_cost) for c in completions))
    tokens = {
        p.attributes["gen_ai.token.type"]: p.sum
        for p in otel.points("gen_ai.client.token.usage")
        if p.attributes["gen_ai.response.model"] == SONNET
    }
    assert tokens["output"] == sum(c.usage.completion_tokens for c in completions[:2])
    (decision,) = [
        p for p in otel.points("tollway.decision.duration") if p.attributes["tollway.route"] == "fallback"
    ]
    assert decision.count == 1 and 0 <= decision.sum < 1
    assert sum(p.count for p in otel.points("gen_ai.client.operation.duration")) == 3


async def test_one_log_event_per_call_with_the_same_fields_and_no_prompt(router, otel):
    with capture_logs() as logs:
        completion = await router.chat(QA, tenant="acme", headers={"Authorization": "Bearer sk-secret"})
    (event,) = [e for e in logs if e["event"] == "tollway.call"]
    assert event["log_level"] == "info"
    assert event["tollway.route"] == "customer-qa" and event["tollway.tenant"] == "acme"
    assert event["gen_ai.response.model"] == SONNET
    assert event["tollway.cost_usd"] == str(completion.decision.actual_cost)  # exact in logs
    assert event["tollway.attempt_models"] == [SONNET]
    for key, value in otel.root().attributes.items():
        if key != "tollway.cost_usd":
            logged = event[key]
            assert (tuple(logged) if isinstance(logged, list) else logged) == value, key
    dump = repr(event)
    assert "email" not in dump and "sk-secret" not in dump


async def test_prompts_are_logged_only_when_opted_in(router, otel):
    router.pipeline.replace("telemetry", Telemetry(log_prompts=True))
    with capture_logs() as logs:
        await router.chat(QA)
    assert logs[-1]["gen_ai.input.messages"] == QA


async def test_without_an_sdk_nothing_is_recorded_and_calls_still_work():
    async with Router(load_config(TUTORIAL), classifier=RULES, simulate=True) as router:
        router.pipeline.replace("telemetry", Telemetry())
        assert (await router.chat(QA)).model == SONNET
        stream = await router.stream(QA)
        assert await stream.text()
