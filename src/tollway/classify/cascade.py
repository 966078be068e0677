"""Two classifiers in sequence: the primary decides when confident, the secondary otherwise."""

from __future__ import annotations

from ..config import RouterConfig
from .base import Classifier, Match, Messages

DEFAULT_MIN_MARGIN = 0.10
"""Where the embedded classifier's confident decisions were 90% right on routers written blind by
others (69-75% of their requests; docs/classifier.md). ``tollway eval`` reports the decisions at
or above it as the ones a cascade keeps."""


class CascadeClassifier:
    """``primary`` (say the embedded classifier) decides when its margin is at least
    ``min_margin``; below that, ``secondary`` (say an ``LLMClassifier``) is asked. If the secondary
    fails outright (its match says so and names no task while the primary did), the primary's
    answer stands. The explanation says which one decided. The default margin:
    ``DEFAULT_MIN_MARGIN``."""

    def __init__(
        self, primary: Classifier, secondary: Classifier, min_margin: float = DEFAULT_MIN_MARGIN
    ) -> None:
        self.primary = primary
        self.secondary = secondary
        self.min_margin = min_margin

    async def classify(self, router: RouterConfig, messages: Messages) -> Match:
        first = await self.primary.classify(router, messages)
        if first.margin >= self.min_margin:
            return Match(
                first.task,
                first.scores,
                first.margin,
                f"primary decided (margin {first.margin:.2f} >= {self.min_margin:.2f}): {first.explanation}",
            )
        second = await self.secondary.classify(router, messages)
        if second.task is None and " failed (" in second.explanation and first.task is not None:
            return Match(
                first.task,
                first.scores,
                first.margin,
                f"primary decided (secondary unavailable: {second.explanation}): {first.explanation}",
            )
        return Match(
            second.task,
            second.scores,
            second.margin,
            f"secondary decided (primary margin {first.margin:.2f} < {self.min_margin:.2f}; "
            f"primary said {first.task or 'fallback'}): {second.explanation}",
        )
