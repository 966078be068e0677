"""Per-model health: time-to-first-token EWMA and a cooldown after repeated failures.

Selection reads it (``fastest`` orders by TTFT; cooled-down models go last) and dispatch writes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class ModelHealth:
    ttft_ms: float
    failures: int = 0
    cooldown_until: float = 0.0


class Health:
    """Tracks every model's latency and failures in this process.

    A model that fails ``max_failures`` times in a row is cooled down for ``cooldown_s``; one
    success resets the count. ``alpha`` weighs the newest TTFT sample in the EWMA.
    """

    def __init__(
        self,
        priors: dict[str, float] | None = None,
        *,
        alpha: float = 0.2,
        max_failures: int = 3,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._priors = dict(priors or {})
        self._models: dict[str, ModelHealth] = {}
        self.alpha = alpha
        self.max_failures = max_failures
        self.cooldown_s = cooldown_s
        self._clock = clock

    def _get(self, model: str) -> ModelHealth:
        state = self._models.get(model)
        if state is None:
            state = self._models[model] = ModelHealth(ttft_ms=self._priors.get(model, 500.0))
        return state

    def ttft_ms(self, model: str) -> float:
        return self._get(model).ttft_ms

    def available(self, model: str) -> bool:
        return self._get(model).cooldown_until <= self._clock()

    def success(self, model: str, ttft_ms: float | None = None) -> None:
        """A call succeeded; ``ttft_ms`` is its time to first token when it was measured."""
        state = self._get(model)
        if ttft_ms is not None:
            state.ttft_ms += self.alpha * (ttft_ms - state.ttft_ms)
        state.failures = 0
        state.cooldown_until = 0.0

    def failure(self, model: str) -> None:
        state = self._get(model)
        state.failures += 1
        if state.failures >= self.max_failures:
            state.cooldown_until = self._clock() + self.cooldown_s

    def snapshot(self) -> dict[str, ModelHealth]:
        return {m: ModelHealth(s.ttft_ms, s.failures, s.cooldown_until) for m, s in self._models.items()}
