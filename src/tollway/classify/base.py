"""The classifier seam: match a whole conversation to one of a router's tasks, or to none."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..config import RouterConfig

Messages = Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class Match:
    """The outcome of classification. ``task`` is None when the prompt goes to the fallback."""

    task: str | None
    scores: Mapping[str, float] = field(default_factory=dict)
    margin: float = 0.0
    explanation: str = ""


class Classifier(Protocol):
    async def classify(self, router: RouterConfig, messages: Messages) -> Match:
        """Pick the task of ``router`` whose description fits ``messages`` best, or none."""
        ...
