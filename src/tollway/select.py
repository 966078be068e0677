"""Selection policies: order a task's pool.

- ranked (no ``selection_policy``): list order, "first unless unavailable";
- cheapest: by this request's estimated cost on each model;
- fastest: by observed time to first token (an EWMA seeded by the catalog's prior);
- optimal (``task_slug``): a provider-defined preset trading quality against cost.

Unavailable (cooled-down) models keep their relative order but go last, so a call still has
somewhere to go when every model is cooling down.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Preset:
    """An optimal-selection preset: how much quality counts against cost (0 = cost only)."""

    description: str
    quality_weight: float
    wants_reasoning: bool = False


PRESETS: dict[str, Preset] = {
    "classification": Preset("labelling short texts", 0.2),
    "extraction": Preset("pulling fields out of text", 0.3),
    "summarization": Preset("condensing documents", 0.4),
    "general-qa": Preset("answering questions", 0.5),
    "chat": Preset("open conversation", 0.5),
    "translation": Preset("translating text", 0.5),
    "code-generation": Preset("writing and fixing code", 0.7),
    "math-reasoning": Preset("multi-step math and logic", 0.8, wants_reasoning=True),
}

CostOf = Callable[[str], Decimal]
SpeedOf = Callable[[str], float]
Available = Callable[[str], bool]


def ranked(pool: Sequence[str]) -> list[str]:
    return list(pool)


def cheapest(pool: Sequence[str], cost: CostOf) -> list[str]:
    # sorted() is stable: equal costs keep the list order.
    return sorted(pool, key=cost)


def fastest(pool: Sequence[str], ttft_ms: SpeedOf) -> list[str]:
    return sorted(pool, key=ttft_ms)


def optimal(
    pool: Sequence[str],
    preset: Preset,
    cost: CostOf,
    quality: Callable[[str], float],
    reasoning: Callable[[str], bool],
) -> list[str]:
    costs = {m: cost(m) for m in pool}
    top = max(costs.values()) or Decimal(1)

    def score(model: str) -> float:
        q = quality(model) + (0.25 if preset.wants_reasoning and reasoning(model) else 0.0)
        relative_cost = float(costs[model] / top)
        return preset.quality_weight * q - (1 - preset.quality_weight) * relative_cost

    return sorted(pool, key=score, reverse=True)


def healthy_first(order: Sequence[str], available: Available) -> list[str]:
    return [m for m in order if available(m)] + [m for m in order if not available(m)]
