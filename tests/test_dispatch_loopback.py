"""Failover over real HTTP: the router's upstream client against the simulator on loopback."""

import json
from pathlib import Path

import pytest

from tollway import Router, RulesClassifier, UpstreamError
from tollway.config import load_config
from tollway.simulate import Fault

TUTORIAL = json.loads((Path(__file__).parent.parent / "examples" / "tutorial-router.json").read_text())
RULES = RulesClassifier({"customer-qa": r"account", "reasoning": r"step by step"})
QA = [{"role": "user", "content": "How do I close my account?"}]
REASONING = [{"role": "user", "content": "Explain step by step why the sum of two odd numbers is even."}]


@pytest.fixture
async def router(sim_server):
    base_url, _ = sim_server
    config = load_config({**TUTORIAL, "upstreams": {"digitalocean": {"base_url": base_url}}})
    async with Router(config, classifier=RULES, timeout=1.0, first_chunk_timeout=1.0) as r:
        yield r


@pytest.mark.parametrize(
    "fault", [Fault(status=500), Fault(status=429), Fault(hang=True)], ids=["500", "429", "timeout"]
)
async def test_failover_across_the_pool_over_http(router, sim_server, fault):
    _, provider = sim_server
    provider.faults["anthropic-claude-4.6-sonnet"] = fault
    completion = await router.chat(QA)
    assert completion.model == "llama3.3-70b-instruct"
    assert [a.model for a in completion.decision.attempts] == [
        "anthropic-claude-4.6-sonnet",
        "llama3.3-70b-instruct",
    ]
    assert provider.calls["anthropic-claude-4.6-sonnet"] == 1


async def test_failover_to_the_fallback_over_http(router, sim_server):
    _, provider = sim_server
    provider.faults["openai-gpt-5"] = Fault(status=503)
    completion = await router.chat(REASONING, max_completion_tokens=2000)
    assert (completion.decision.route, completion.model) == ("reasoning", "llama3.3-70b-instruct")
    assert provider.requests[-1]["max_tokens"] == 2000  # llama takes max_tokens, without the reasoning floor


async def test_stream_cut_before_content_fails_over_and_mid_stream_cut_is_reported(router, sim_server):
    _, provider = sim_server
    provider.faults["anthropic-claude-4.6-sonnet"] = Fault(cut_after=0)
    stream = await router.stream(QA)
    assert await stream.text()
    assert stream.decision.model == "llama3.3-70b-instruct"

    provider.faults.clear()
    provider.faults["anthropic-claude-4.6-sonnet"] = Fault(cut_after=4)
    stream = await router.stream(QA)
    chunks = [c async for c in stream]
    assert chunks[-1]["error"]["code"] == "stream_interrupted"


async def test_the_api_key_comes_from_the_environment_and_never_appears_in_errors(sim_server, monkeypatch):
    base_url, provider = sim_server
    provider.api_key = "sk-live-secret"
    config = load_config(
        {**TUTORIAL, "upstreams": {"digitalocean": {"base_url": base_url, "api_key_env": "SIM_KEY"}}}
    )
    monkeypatch.setenv("SIM_KEY", "sk-wrong")
    async with Router(config, classifier=RULES) as router:
        with pytest.raises(UpstreamError) as info:
            await router.chat(QA)
        # Every candidate shares that upstream: each fails over to the next, then all have failed.
        assert info.value.status == 502 and info.value.code == "all_candidates_failed"
        assert "refused tollway's credentials (401)" in str(info.value)
        assert "sk-wrong" not in str(info.value) and "sk-live-secret" not in str(info.value)
    monkeypatch.setenv("SIM_KEY", "sk-live-secret")
    async with Router(config, classifier=RULES) as router:
        assert (await router.chat(QA)).content


async def test_a_missing_key_is_named_before_any_request_is_sent(sim_server, monkeypatch):
    base_url, provider = sim_server
    config = load_config(
        {**TUTORIAL, "upstreams": {"digitalocean": {"base_url": base_url, "api_key_env": "SIM_KEY"}}}
    )
    monkeypatch.delenv("SIM_KEY", raising=False)
    async with Router(config, classifier=RULES) as router:
        with pytest.raises(UpstreamError, match=r"\$SIM_KEY is not set"):
            await router.chat(QA)
    assert sum(provider.calls.values()) == 0
