"""What one simulated call produces (token counts, text, finish reason) and its OpenAI shapes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .text import Kind


@dataclass(frozen=True)
class KindProfile:
    """Token ranges for one kind of prompt; a value is drawn per prompt, deterministically."""

    visible: tuple[int, int]
    reasoning: tuple[int, int]


PROFILES: Mapping[Kind, KindProfile] = MappingProxyType(
    {
        # The label itself is 1-3 tokens; gpt-oss-20b spent 80 completion tokens on one (MISSION).
        "label": KindProfile(visible=(1, 3), reasoning=(60, 90)),
        # The tutorial's Q&A answer on Sonnet was 292 tokens.
        "answer": KindProfile(visible=(180, 400), reasoning=(200, 450)),
        # GPT-5 used 3,411. Kept under 4,096 so the documented floor always suffices, and with
        # reasoning alone over 1,024 so that budget always ends in content null.
        "reasoning": KindProfile(visible=(350, 750), reasoning=(2000, 3200)),
    }
)


@dataclass(frozen=True)
class Plan:
    """The outcome of one call. ``pieces`` is the visible text, one token per piece."""

    id: str
    model: str
    created: int
    prompt_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    pieces: tuple[str, ...]
    finish_reason: str

    @property
    def completion_tokens(self) -> int:
        # Reasoning tokens count inside completion_tokens and are billed as output.
        return self.reasoning_tokens + len(self.pieces)

    @property
    def content(self) -> str | None:
        # A budget used up by reasoning leaves no message at all, as OpenAI reports it.
        if not self.pieces and self.finish_reason == "length":
            return None
        return "".join(self.pieces)

    def usage(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": self.reasoning_tokens,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }


def apply_budget(
    reasoning: int, pieces: Sequence[str], limit: int | None
) -> tuple[int, tuple[str, ...], str]:
    """Fit reasoning then visible text into ``limit`` tokens: (reasoning, pieces, finish_reason)."""
    if limit is None or reasoning + len(pieces) <= limit:
        return reasoning, tuple(pieces), "stop"
    if reasoning >= limit:
        return limit, (), "length"
    return reasoning, tuple(pieces[: limit - reasoning]), "length"


def completion_body(plan: Plan) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": plan.content,
        "refusal": None,
        "annotations": [],
    }
    return {
        **_envelope(plan, "chat.completion"),
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": plan.finish_reason}],
        "usage": plan.usage(),
    }


def chunk_bodies(plan: Plan, include_usage: bool) -> Iterator[dict[str, Any]]:
    """The chunks of a stream: role, one per piece, finish, then usage when asked for."""
    yield _chunk(plan, {"role": "assistant", "content": "", "refusal": None}, None, include_usage)
    for piece in plan.pieces:
        yield _chunk(plan, {"content": piece}, None, include_usage)
    yield _chunk(plan, {}, plan.finish_reason, include_usage)
    if include_usage:
        yield {**_envelope(plan, "chat.completion.chunk"), "choices": [], "usage": plan.usage()}


def _chunk(
    plan: Plan, delta: dict[str, Any], finish_reason: str | None, include_usage: bool
) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
    body = {**_envelope(plan, "chat.completion.chunk"), "choices": [choice]}
    if include_usage:
        # OpenAI sends an explicit null usage on every chunk but the last when usage is requested.
        body["usage"] = None
    return body


def _envelope(plan: Plan, object_: str) -> dict[str, Any]:
    return {
        "id": plan.id,
        "object": object_,
        "created": plan.created,
        "model": plan.model,
        "service_tier": "default",
        "system_fingerprint": "fp_simulated",
    }
