"""Reading prompts and writing deterministic text.

The token counts here are approximations: the simulator needs them plausible and stable, not exact.
Visible text is a list of *pieces*, one token each, so truncating to a token budget and streaming
one token per chunk are both list slicing.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

Kind = Literal["label", "answer", "reasoning"]
Message = Mapping[str, Any]

_LABEL_RE = re.compile(
    r"\b(classif(y|ies|ication)|categori[sz](e|ation)|which category|label (this|the|it))\b", re.I
)
_REASONING_RE = re.compile(
    r"\b(step[- ]by[- ]step|prove|proof|derive|analy[sz]e|analysis|multi-step|calculate|compute|"
    r"solve|equation|theorem|math|mathematic\w*|trace through|reason through|intermediate)\b",
    re.I,
)
# "... into one of the following categories: billing, bug, how-to, or account."
_OPTIONS_RE = re.compile(r"\b(?:categor(?:y|ies)|labels?|classes)\b[^:\n]*:\s*([^\n.]+)", re.I)
_OPTION_SPLIT_RE = re.compile(r"\s*(?:,|/|\||\bor\b|\band\b)\s*")
_PIECE_RE = re.compile(r"\s*(?:\w+|[^\w\s])|\s+\Z")

DEFAULT_LABELS = ("billing", "bug", "how-to", "account")
_WORDS = (
    "the", "plan", "account", "settings", "you", "can", "change", "your", "team", "billing",
    "page", "usage", "limit", "request", "model", "this", "that", "each", "step", "we", "check",
    "value", "result", "first", "then", "next", "because", "so", "it", "is", "a", "of", "to",
    "in", "for", "with", "when", "data", "cost", "time", "service", "support", "option", "new",
)  # fmt: skip


def message_text(message: Message) -> str:
    """The text of a message whose content is a string or a list of parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, Mapping)]
        return " ".join(p for p in parts if isinstance(p, str))
    return ""


def last_user_text(messages: Sequence[Message]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return message_text(message)
    return ""


def approx_prompt_tokens(messages: Sequence[Message]) -> int:
    """About 4 characters a token, plus OpenAI's framing: 4 per message and 3 to prime the reply."""
    total = 3
    for message in messages:
        total += 4 + math.ceil(len(message_text(message)) / 4)
        if message.get("name"):
            total += 1
    return total


def prompt_kind(messages: Sequence[Message]) -> Kind:
    """What the last user message asks for: a label, a reasoned answer, or a plain answer."""
    text = last_user_text(messages)
    if _LABEL_RE.search(text):
        return "label"
    if _REASONING_RE.search(text):
        return "reasoning"
    return "answer"


def digest(*parts: Any) -> bytes:
    """A stable hash of JSON-able values (stdlib JSON, so it is the same with or without orjson)."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).digest()


def split_pieces(text: str) -> list[str]:
    """Split text into token-sized pieces (words and punctuation with their leading space)."""
    return _PIECE_RE.findall(text)


def label_options(messages: Sequence[Message]) -> list[str]:
    """The categories a prompt lists ("categories: a, b, or c"), latest message first."""
    for message in reversed(messages):
        for match in _OPTIONS_RE.finditer(message_text(message)):
            options = [o.strip(" \"'`*") for o in _OPTION_SPLIT_RE.split(match.group(1))]
            options = [o for o in options if o and len(o.split()) <= 3]
            if len(options) >= 2:
                return options
    return []


def filler_pieces(rng: random.Random, count: int) -> list[str]:
    """``count`` pieces of prose-shaped text: sentences of 6-16 tokens ending with a period."""
    pieces: list[str] = []
    left = 0
    while len(pieces) < count:
        if left == 0:
            left = rng.randint(6, 16)
            sep = "" if not pieces else ("\n\n" if rng.random() < 0.2 else " ")
            pieces.append(sep + rng.choice(_WORDS).capitalize())
        elif left == 1 or len(pieces) == count - 1:
            pieces.append(".")
        else:
            pieces.append(" " + rng.choice(_WORDS))
        left -= 1
    return pieces


def schema_example(schema: Any, rng: random.Random) -> Any:
    """A value matching a simple JSON schema: enums are picked with ``rng``, others are minimal."""
    if not isinstance(schema, Mapping):
        return None
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return rng.choice(schema["enum"])
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return schema_example(schema[key][0], rng)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    properties = schema.get("properties")
    if kind == "object" or isinstance(properties, Mapping):
        props = properties if isinstance(properties, Mapping) else {}
        return {name: schema_example(sub, rng) for name, sub in props.items()}
    minimal: dict[Any, Any] = {"array": [], "string": "sim", "integer": 0, "number": 0, "boolean": False}
    return minimal.get(kind)
