"""The embedded router end to end, against the simulated upstream in process."""

import json
from decimal import Decimal
from pathlib import Path

import pytest

from tollway import AllCandidatesFailed, NoRouteMatched, NotFound, Router, RulesClassifier, UpstreamError
from tollway.config import load_config
from tollway.cost import request_cost
from tollway.simulate import Fault, SimulatedProvider

TUTORIAL = json.loads((Path(__file__).parent.parent / "examples" / "tutorial-router.json").read_text())
RULES = RulesClassifier(
    {
        "classify": r"\b(classify|label)\b",
        "reasoning": r"step by step",
        "customer-qa": r"\b(account|plan|refund)\b",
    }
)
CLASSIFY = [{"role": "user", "content": "Classify this ticket: I was charged twice."}]
QA = [{"role": "user", "content": "How do I change the email on my account?"}]
REASONING = [{"role": "user", "content": "Work out step by step how many servers we need."}]
OTHER = [{"role": "user", "content": "Write a poem about autumn."}]


@pytest.fixture
async def router():
    async with Router(
        load_config(TUTORIAL), classifier=RULES, simulate=True, timeout=2.0, first_chunk_timeout=2.0
    ) as r:
        yield r


def sim(router) -> SimulatedProvider:
    assert router.simulator is not None
    return router.simulator


async def test_each_task_goes_to_its_pool_by_policy(router):
    classify = await router.chat(CLASSIFY)
    assert (classify.decision.route, classify.model) == ("classify", "openai-gpt-oss-20b")  # cheapest
    qa = await router.chat(QA)
    assert (qa.decision.route, qa.model) == ("customer-qa", "anthropic-claude-4.6-sonnet")  # ranked
    reasoning = await router.chat(REASONING, max_completion_tokens=8000)
    assert (reasoning.decision.route, reasoning.model) == ("reasoning", "openai-gpt-5")
    other = await router.chat(OTHER)
    assert (other.decision.route, other.model) == ("fallback", "llama3.3-70b-instruct")
    assert other.headers["x-model-router-selected-route"] == "fallback"


async def test_the_decision_carries_exact_cost_from_usage(router):
    completion = await router.chat(QA)
    usage = completion.usage
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    model = router.catalog.get("anthropic-claude-4.6-sonnet")
    assert completion.decision.actual_cost == request_cost(model, usage)
    assert completion.decision.estimated_cost >= completion.decision.actual_cost  # the estimate bounds it
    assert completion.headers["x-tollway-cost"] == str(completion.decision.actual_cost)
    assert completion.to_openai().choices[0].message.content == completion.content


async def test_a_failing_model_fails_over_to_the_next_in_the_pool(router):
    sim(router).faults["anthropic-claude-4.6-sonnet"] = Fault(status=500)
    completion = await router.chat(QA)
    assert completion.model == "llama3.3-70b-instruct"
    attempts = completion.decision.attempts
    assert [(a.model, a.ok, a.status) for a in attempts] == [
        ("anthropic-claude-4.6-sonnet", False, 500),
        ("llama3.3-70b-instruct", True, None),
    ]


async def test_an_exhausted_pool_fails_over_to_the_fallback_models(router):
    sim(router).faults["openai-gpt-5"] = Fault(status=429)
    completion = await router.chat(REASONING)
    assert completion.decision.route == "reasoning"  # the route stays the matched task
    assert completion.model == "llama3.3-70b-instruct"


async def test_a_timeout_fails_over(router):
    sim(router).faults["anthropic-claude-4.6-sonnet"] = Fault(hang=True)
    completion = await router.chat(QA)
    assert completion.model == "llama3.3-70b-instruct"
    assert "no answer within" in completion.decision.attempts[0].error


async def test_a_client_error_returns_at_once_without_failover(router):
    sim(router).faults["anthropic-claude-4.6-sonnet"] = Fault(status=400, message="bad temperature")
    with pytest.raises(UpstreamError) as info:
        await router.chat(QA)
    assert info.value.status == 400 and "bad temperature" in info.value.message
    assert sim(router).calls["llama3.3-70b-instruct"] == 0


async def test_when_everything_fails_the_error_names_every_attempt(router):
    for model in ("anthropic-claude-4.6-sonnet", "llama3.3-70b-instruct"):
        sim(router).faults[model] = Fault(status=503)
    with pytest.raises(AllCandidatesFailed) as info:
        await router.chat(QA)
    assert info.value.status == 502
    assert "anthropic-claude-4.6-sonnet, llama3.3-70b-instruct" in info.value.message


async def test_a_model_that_keeps_failing_is_cooled_down_and_ordered_last(router):
    sim(router).faults["anthropic-claude-4.6-sonnet"] = Fault(status=500)
    for _ in range(router.health.max_failures):
        await router.chat(QA)
    calls_before = sim(router).calls["anthropic-claude-4.6-sonnet"]
    completion = await router.chat(QA)
    assert completion.decision.candidates[0] == "llama3.3-70b-instruct"
    assert completion.decision.candidates[-1] == "anthropic-claude-4.6-sonnet"
    assert sim(router).calls["anthropic-claude-4.6-sonnet"] == calls_before  # skipped, not retried


async def test_reasoning_paths_get_the_token_floor(router):
    completion = await router.chat(REASONING, max_completion_tokens=1024)
    sent = sim(router).requests[-1]
    assert sent["max_completion_tokens"] == 4096
    assert completion.content is not None and completion.decision.token_floor == 4096


async def test_without_the_floor_a_reasoning_model_runs_out_of_tokens():
    policies = [dict(p) for p in TUTORIAL["policies"]]
    policies[2]["token_floor"] = 0
    config = load_config({**TUTORIAL, "policies": policies})
    async with Router(config, classifier=RULES, simulate=True) as router:
        completion = await router.chat(REASONING, max_completion_tokens=1024)
    assert completion.content is None
    assert completion.body["choices"][0]["finish_reason"] == "length"
    assert completion.usage.completion_tokens == 1024


async def test_max_tokens_is_mapped_per_upstream(router):
    await router.chat(OTHER, max_completion_tokens=300)
    sent = sim(router).requests[-1]
    assert sent["model"] == "llama3.3-70b-instruct"
    assert sent["max_tokens"] == 300 and "max_completion_tokens" not in sent
    await router.chat(REASONING, max_tokens=5000)
    sent = sim(router).requests[-1]
    assert sent["max_completion_tokens"] == 5000 and "max_tokens" not in sent


async def test_streams_end_to_end_with_cost_on_the_final_chunk(router):
    stream = await router.stream(QA)
    chunks = [chunk async for chunk in stream]
    assert len(chunks) > 2
    assert all(c["model"] == "anthropic-claude-4.6-sonnet" for c in chunks)
    final = chunks[-1]
    assert final["choices"][0]["finish_reason"] == "stop"
    assert Decimal(final["tollway"]["cost_usd"]) == stream.decision.actual_cost > 0
    assert all(c.get("choices") for c in chunks)  # no bare usage chunk unless the client asked


async def test_streams_include_the_usage_chunk_when_asked(router):
    stream = await router.stream(QA, stream_options={"include_usage": True})
    chunks = [chunk async for chunk in stream]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0
    assert stream.decision.usage.completion_tokens == chunks[-1]["usage"]["completion_tokens"]


async def test_a_stream_cut_before_any_content_fails_over(router):
    sim(router).faults["anthropic-claude-4.6-sonnet"] = Fault(cut_after=0)
    stream = await router.stream(QA)
    text = await stream.text()
    assert text and stream.decision.model == "llama3.3-70b-instruct"


async def test_a_stream_cut_mid_way_ends_with_an_error_event(router):
    sim(router).faults["anthropic-claude-4.6-sonnet"] = Fault(cut_after=3)
    stream = await router.stream(QA)
    chunks = [chunk async for chunk in stream]
    assert chunks[-1]["error"]["code"] == "stream_interrupted"
    assert not stream.decision.attempts[-1].ok


async def test_unmatched_prompts_without_fallback_get_a_clear_error():
    async with Router(
        load_config({**TUTORIAL, "fallback_models": []}), classifier=RULES, simulate=True
    ) as router:
        with pytest.raises(NoRouteMatched, match="has no fallback_models"):
            await router.chat(OTHER)


async def test_unknown_router_names_the_known_ones(router):
    with pytest.raises(NotFound, match="router:cost-governance-demo"):
        await router.chat(QA, router="router:nope")


async def test_explain_routes_without_calling_a_model(router):
    call = await router.explain(CLASSIFY)
    assert call.decision.candidates == ["openai-gpt-oss-20b", "llama3.3-70b-instruct"]
    assert set(call.decision.estimates) == set(call.decision.candidates)
    assert sum(sim(router).calls.values()) == 0


@pytest.mark.parametrize("status", [401, 403, 404])
async def test_a_provider_side_refusal_fails_over_and_never_echoes_the_upstream_text(router, status):
    sim(router).faults["anthropic-claude-4.6-sonnet"] = Fault(
        status=status, message="Incorrect API key sk-ant-xyz"
    )
    completion = await router.chat(QA)
    assert completion.model == "llama3.3-70b-instruct"
    assert "sk-ant-xyz" not in completion.decision.attempts[0].error


async def test_explain_is_a_dry_run(router):
    before = await router.records.query()
    call = await router.explain(QA, tenant="acme", max_completion_tokens=100)
    assert call.decision.route == "customer-qa"
    assert await router.records.query() == before  # nothing recorded
    assert call.request.params == {"max_completion_tokens": 100}  # nothing rewritten


async def test_a_long_prompt_is_counted_once_per_tokenizer(router):
    long = [{"role": "user", "content": "How do I change my account plan? " * 4000}]
    call = await router.explain(long)
    counts = call.request.token_counts
    assert len(counts) == 2  # o200k for GPT models, cl100k (scaled) for the others
    assert all(n > 4000 * 8 for n in counts.values())
