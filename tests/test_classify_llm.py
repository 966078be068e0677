"""LLMClassifier and CascadeClassifier against the simulated upstream."""

from __future__ import annotations

import json
from typing import Any

from tollway.classify import CascadeClassifier, LLMClassifier, Match
from tollway.classify.llm import parse_choice
from tollway.config import RouterConfig, load_config
from tollway.simulate import Fault, SimulatedProvider

BODY: dict[str, Any] = {
    "name": "r",
    "policies": [
        {
            "custom_task": {"name": "classify", "description": "Label support tickets."},
            "models": ["openai-gpt-oss-20b"],
        },
        {"custom_task": {"name": "reasoning", "description": "Multi-step math."}, "models": ["openai-gpt-5"]},
    ],
    "fallback_models": ["llama3.3-70b-instruct"],
}
ROUTER: RouterConfig = next(iter(load_config(BODY).routers.values()))
USER = [{"role": "user", "content": "What is 17 * 23, step by step?"}]


def sim_chat(reply: str) -> tuple[Any, SimulatedProvider]:
    provider = SimulatedProvider(responder=lambda model, body: reply)

    async def chat(model: str, messages: list[dict[str, Any]], **params: Any) -> dict[str, Any]:
        return await provider.complete({"model": model, "messages": messages, **params})

    return chat, provider


async def test_structured_choice_is_used() -> None:
    chat, provider = sim_chat(json.dumps({"task": "reasoning", "confidence": 0.9, "reason": "math"}))
    match = await LLMClassifier(chat, "openai-gpt-oss-20b").classify(ROUTER, USER)
    assert match.task == "reasoning"
    assert match.scores["reasoning"] == 0.9 and match.scores["fallback"] == 0.0
    assert "LLM openai-gpt-oss-20b" in match.explanation
    sent = provider.requests[-1]
    schema = sent["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["task"]["enum"] == ["classify", "reasoning", "none"]
    prompt = sent["messages"][1]["content"]
    assert "Label support tickets." in prompt and "17 * 23" in prompt


async def test_none_goes_to_fallback() -> None:
    chat, _ = sim_chat('{"task": "none", "confidence": 0.8, "reason": "chit-chat"}')
    match = await LLMClassifier(chat, "m").classify(ROUTER, USER)
    assert match.task is None and "chit-chat" in match.explanation


async def test_bad_replies_fall_back_with_a_reason() -> None:
    for reply, words in [
        ("not json at all {", "unknown task"),
        ('{"task": "translate"}', "unknown task"),
        ('{"confidence": 1}', "no task name"),
    ]:
        chat, _ = sim_chat(reply)
        match = await LLMClassifier(chat, "m").classify(ROUTER, USER)
        assert match.task is None, reply
        assert words in match.explanation, (reply, match.explanation)


async def test_upstream_error_falls_back() -> None:
    chat, provider = sim_chat("{}")
    provider.faults["*"] = Fault(status=500)
    match = await LLMClassifier(chat, "openai-gpt-oss-20b").classify(ROUTER, USER)
    assert match.task is None and "failed" in match.explanation


def test_parse_choice_tolerates_wrapping_and_case() -> None:
    body = {"choices": [{"message": {"content": 'Sure: {"task": "Reasoning", "confidence": 7}'}}]}
    assert parse_choice(body, ["classify", "reasoning"]) == ("reasoning", 1.0, "")
    assert parse_choice({"choices": []}, ["a"])[0] is None
    assert parse_choice({"choices": [{"message": {"content": "classify"}}]}, ["classify"])[0] == "classify"


class Fixed:
    def __init__(self, match: Match) -> None:
        self.match = match
        self.calls = 0

    async def classify(self, router: RouterConfig, messages: Any) -> Match:
        self.calls += 1
        return self.match


async def test_cascade_uses_primary_when_confident() -> None:
    primary = Fixed(Match("classify", {"classify": 0.8}, 0.3, "p"))
    secondary = Fixed(Match("reasoning", {}, 1.0, "s"))
    match = await CascadeClassifier(primary, secondary, min_margin=0.1).classify(ROUTER, USER)
    assert match.task == "classify" and secondary.calls == 0
    assert match.explanation.startswith("primary decided")


async def test_cascade_asks_secondary_when_margin_is_low() -> None:
    chat, provider = sim_chat('{"task": "reasoning", "confidence": 0.7, "reason": "steps"}')
    primary = Fixed(Match("classify", {"classify": 0.5}, 0.01, "p"))
    cascade = CascadeClassifier(primary, LLMClassifier(chat, "openai-gpt-oss-20b"), 0.05)
    match = await cascade.classify(ROUTER, USER)
    assert match.task == "reasoning"
    assert match.explanation.startswith("secondary decided") and "primary said classify" in match.explanation
    assert provider.calls["openai-gpt-oss-20b"] == 1


async def test_cascade_keeps_primary_when_secondary_fails() -> None:
    chat, provider = sim_chat("{}")
    provider.faults["*"] = Fault(status=503)
    primary = Fixed(Match("classify", {"classify": 0.5}, 0.01, "p"))
    match = await CascadeClassifier(primary, LLMClassifier(chat, "m"), 0.05).classify(ROUTER, USER)
    assert match.task == "classify" and "secondary unavailable" in match.explanation
