"""Observed completion lengths per (route, model): what a call is likely to produce.

Selection by ``cheapest`` compares expected costs (typical output), while budgets reserve against a
bound (max tokens, else a high percentile of what was observed). Both come from here.
"""

from __future__ import annotations

from collections import deque

# Before any observation, expect this many completion tokens: a short answer.
PRIOR_TOKENS = 256
WINDOW = 512


class OutputStats:
    def __init__(self, window: int = WINDOW) -> None:
        self._samples: dict[tuple[str, str], deque[int]] = {}
        self._window = window

    def observe(self, route: str, model: str, completion_tokens: int) -> None:
        key = (route, model)
        samples = self._samples.get(key)
        if samples is None:
            samples = self._samples[key] = deque(maxlen=self._window)
        samples.append(completion_tokens)

    def expected(self, route: str, model: str) -> int:
        samples = self._samples.get((route, model))
        return round(sum(samples) / len(samples)) if samples else PRIOR_TOKENS

    def percentile(self, route: str, model: str, q: float = 0.95) -> int | None:
        samples = self._samples.get((route, model))
        if not samples or len(samples) < 20:
            return None  # too few to trust a tail
        ordered = sorted(samples)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
