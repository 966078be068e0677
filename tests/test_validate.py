"""Bad requests get a clear OpenAI-format 400 and never reach a model."""

import json
import re
from pathlib import Path

import pytest

from tollway import InvalidRequest, Router, RulesClassifier
from tollway.config import load_config

TUTORIAL = json.loads((Path(__file__).parent.parent / "examples" / "tutorial-router.json").read_text())


@pytest.fixture
async def router():
    async with Router(load_config(TUTORIAL), classifier=RulesClassifier({}), simulate=True) as r:
        yield r


@pytest.mark.parametrize(
    ("messages", "params", "needle"),
    [
        ([], {}, "at least one message"),
        ("hi", {}, "must be a list"),
        (["hi"], {}, "`messages[0]` must be an object"),
        ([{"role": "robot" * 50, "content": "x"}], {}, "must be one of"),
        ([{"role": "user", "content": 5}], {}, "string or a list of parts"),
        ([{"role": "user", "content": ["hi"]}], {}, "`messages[0].content[0]` must be an object"),
        ([{"role": "user", "content": [{"type": "video"}]}], {}, "one of text, image_url"),
        ([{"role": "user", "content": [{"type": "text", "text": 5}]}], {}, "content[0].text` is missing"),
        ([{"role": "user", "content": "x"}], {"n": 2}, "one completion per request"),
        ([{"role": "user", "content": "x"}], {"max_tokens": 0}, "positive integer"),
        ([{"role": "user", "content": "x"}], {"max_completion_tokens": True}, "positive integer"),
    ],
)
async def test_bad_requests_are_refused_before_any_model(router, messages, params, needle):
    with pytest.raises(InvalidRequest, match=re.escape(needle)) as info:
        await router.chat(messages, **params)
    assert info.value.status == 400 and len(info.value.message) < 300  # no unbounded echo
    assert sum(router.simulator.calls.values()) == 0


async def test_well_formed_parts_pass(router):
    content = [
        {"type": "text", "text": "What is in this image?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
    ]
    assert (await router.chat([{"role": "user", "content": content}])).content


async def test_stream_must_be_a_boolean(router):
    with pytest.raises(InvalidRequest, match="true or false"):
        await router.handle(router.make_call([{"role": "user", "content": "x"}], stream="yes"))
