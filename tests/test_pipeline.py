import json
from pathlib import Path

import pytest

from tollway.config import load_config
from tollway.pipeline import Call, ChatRequest, Pipeline, Reply

ROUTER = load_config(Path(__file__).parent.parent / "examples" / "tutorial-router.json").router(
    "cost-governance-demo"
)


class Mark:
    """Records its name on the call before and after the rest of the pipeline."""

    def __init__(self, name):
        self.name = name

    async def __call__(self, call, next):
        call.extras.setdefault("trace", []).append(f"{self.name}>")
        reply = await next(call)
        call.extras["trace"].append(f"<{self.name}")
        return reply


async def answer(call, next):
    call.extras.setdefault("trace", []).append("answer")
    return Reply(decision=call.decision, body={"ok": True})


def new_call():
    return Call(router=ROUTER, request=ChatRequest([{"role": "user", "content": "hi"}]))


async def test_stages_run_in_order_around_the_terminal_stage():
    pipeline = Pipeline([("a", Mark("a")), ("b", Mark("b")), ("answer", answer)])
    call = new_call()
    reply = await pipeline(call)
    assert reply.body == {"ok": True}
    assert call.extras["trace"] == ["a>", "b>", "answer", "<b", "<a"]


async def test_insert_before_after_replace_and_remove():
    pipeline = Pipeline([("a", Mark("a")), ("answer", answer)])
    pipeline.insert("first", Mark("first"), before="a").insert("mid", Mark("mid"), after="a")
    assert pipeline.names == ["first", "a", "mid", "answer"]
    pipeline.replace("a", Mark("A")).remove("mid")
    call = new_call()
    await pipeline(call)
    assert call.extras["trace"] == ["first>", "A>", "answer", "<A", "<first"]


async def test_a_stage_can_answer_instead_of_the_rest():
    async def refuse(call, next):
        return Reply(decision=call.decision, status=403, body={"error": "no"})

    pipeline = Pipeline([("refuse", refuse), ("answer", answer)])
    call = new_call()
    assert (await pipeline(call)).status == 403
    assert "trace" not in call.extras


async def test_copies_are_independent():
    pipeline = Pipeline([("answer", answer)])
    copy = pipeline.copy().insert("a", Mark("a"), before="answer")
    assert pipeline.names == ["answer"] and copy.names == ["a", "answer"]


def test_bad_edits_name_the_problem():
    pipeline = Pipeline([("answer", answer)])
    with pytest.raises(KeyError, match="no stage named 'nope'"):
        pipeline.insert("x", answer, before="nope")
    with pytest.raises(ValueError, match="already in the pipeline"):
        pipeline.append("answer", answer)
    with pytest.raises(ValueError, match="exactly one of"):
        pipeline.insert("x", answer)


async def test_a_pipeline_without_a_terminal_stage_fails_loudly():
    with pytest.raises(RuntimeError, match="dispatch"):
        await Pipeline([("a", Mark("a"))])(new_call())


def test_per_request_state_is_on_the_call():
    first, second = new_call(), new_call()
    assert first.request_id != second.request_id
    assert first.decision is not second.decision
    assert json.dumps(first.request.messages)


async def test_an_empty_pipeline_says_what_is_missing():
    with pytest.raises(RuntimeError, match="dispatch"):
        await Pipeline()(new_call())
