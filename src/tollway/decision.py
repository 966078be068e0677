"""What the router decided for one call, and what it cost."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Usage:
    """Token usage as the upstream reported it. Reasoning tokens are part of completion tokens
    and billed as output; cached tokens are part of prompt tokens and billed at the cached price."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0

    @classmethod
    def from_openai(cls, usage: dict[str, Any] | None) -> Usage:
        if not usage:
            return cls()
        prompt_details = usage.get("prompt_tokens_details") or {}
        completion_details = usage.get("completion_tokens_details") or {}
        return cls(
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            cached_tokens=int(prompt_details.get("cached_tokens") or 0),
            reasoning_tokens=int(completion_details.get("reasoning_tokens") or 0),
        )


@dataclass
class Attempt:
    """One upstream call. ``error`` is None when it succeeded."""

    model: str
    ok: bool
    latency_ms: float
    ttft_ms: float | None = None
    error: str | None = None
    status: int | None = None


@dataclass
class Decision:
    """The routing decision of one call, filled in by the stages as they run."""

    router: str
    task: str | None = None
    scores: dict[str, float] = field(default_factory=dict)
    margin: float | None = None
    reason: str = ""
    policy: str | None = None
    candidates: list[str] = field(default_factory=list)
    estimates: dict[str, Decimal] = field(default_factory=dict)
    model: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    token_floor: int | None = None
    usage: Usage | None = None
    estimated_cost: Decimal | None = None
    actual_cost: Decimal | None = None
    pinned: bool = False
    session: str | None = None
    reframed_from: str | None = None  # the task a budget reframe moved the call away from
    reframed_model_from: str | None = None  # the model a budget reframe moved the call away from
    in_flight: str | None = None  # the model whose request is out right now
    notes: list[str] = field(default_factory=list)

    @property
    def route(self) -> str:
        """The matched task, or ``fallback``: what ``x-model-router-selected-route`` says."""
        return self.task or "fallback"

    @property
    def fallback(self) -> bool:
        return self.task is None
