"""Settling from usage however the upstream reports it, and when it reports none.

The upstream here is an ``httpx.MockTransport``: a stand-in for a third-party server whose
replies the simulator does not produce (usage on a content chunk, no usage at all)."""

import json
from pathlib import Path

import httpx

from tollway import Router, RulesClassifier
from tollway.config import load_config
from tollway.cost import request_cost
from tollway.decision import Usage
from tollway.estimate import input_tokens
from tollway.tokens import count_text
from tollway.upstream import HttpUpstream

TUTORIAL = json.loads((Path(__file__).parent.parent / "examples" / "tutorial-router.json").read_text())
RULES = RulesClassifier({"customer-qa": "account", "reasoning": "step by step"})
QA = [{"role": "user", "content": "How do I close my account?"}]
REASONING = [{"role": "user", "content": "Work out step by step how many servers we need."}]
USAGE = {
    "prompt_tokens": 20,
    "completion_tokens": 3444,
    "completion_tokens_details": {"reasoning_tokens": 3100},
}


def sse(*chunks):
    return b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"


def chunk(content=None, finish=None, usage=None):
    body = {
        "id": "x",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": content} if content else {}, "finish_reason": finish}],
    }
    if usage:
        body["usage"] = usage
    return body


def router_with(handler):
    config = load_config(TUTORIAL)
    upstream = HttpUpstream(config.catalog, transport=httpx.MockTransport(handler), require_keys=False)
    return Router(config, classifier=RULES, upstream=upstream)


async def test_usage_on_the_last_content_chunk_is_used():
    def handler(request):
        body = sse(chunk("Step one."), chunk(" Done.", finish="stop", usage=USAGE))
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    async with router_with(handler) as router:
        stream = await router.stream(REASONING)
        chunks = [c async for c in stream]
    assert stream.decision.usage == Usage.from_openai(USAGE)
    gpt5 = router.catalog.get("openai-gpt-5")
    assert stream.decision.actual_cost == request_cost(gpt5, Usage.from_openai(USAGE))
    assert chunks[-1]["tollway"]["cost_usd"] == str(stream.decision.actual_cost)


async def test_a_reply_without_usage_bills_what_is_known():
    def handler(request):
        sent = json.loads(request.content)
        body = {
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": sent["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Go to Settings."},
                    "finish_reason": "stop",
                }
            ],
        }
        return httpx.Response(200, json=body)

    async with router_with(handler) as router:
        qa = await router.chat(QA)
        reasoning = await router.chat(REASONING, max_completion_tokens=5000)
    sonnet = router.catalog.get("anthropic-claude-4.6-sonnet")
    call = router.make_call(QA)
    assert qa.decision.usage == Usage(
        input_tokens(call.request, sonnet), count_text("Go to Settings.", sonnet)
    )
    # A reasoning model's hidden tokens are invisible: the bound it was allowed is billed.
    assert reasoning.decision.usage.completion_tokens == 5000
    assert any("no usage reported" in note for note in reasoning.decision.notes)
