"""The built-in stages, one module each, and the default pipeline that chains them."""

from __future__ import annotations

from ..parts import Parts
from ..pipeline import Pipeline
from .affinity import Affinity, AffinityCache
from .budget import Budget
from .classify import Classify
from .dispatch import Dispatch
from .estimate import Estimate
from .record import Record
from .select import Select
from .telemetry import Telemetry
from .token_floor import TokenFloor
from .validate import Validate

__all__ = [
    "Affinity",
    "AffinityCache",
    "Budget",
    "Classify",
    "Dispatch",
    "Estimate",
    "Record",
    "Select",
    "Telemetry",
    "TokenFloor",
    "Validate",
    "default_pipeline",
]


def default_pipeline(parts: Parts) -> Pipeline:
    select = Select(parts.catalog, parts.health, parts.stats)
    estimate = Estimate(parts.catalog, parts.stats)
    return Pipeline(
        [
            ("validate", Validate()),
            ("telemetry", Telemetry(catalog=parts.catalog)),
            ("records", Record(parts.catalog, parts.records)),
            ("affinity", Affinity(parts.affinity, parts.health, ttl=parts.affinity_ttl)),
            ("classify", Classify(parts.classifier)),
            ("token_floor", TokenFloor()),
            ("select", select),
            ("estimate", estimate),
            ("affinity_cache", AffinityCache(parts.catalog)),
            (
                "budget",
                Budget(parts.catalog, parts.ledger, parts.tenants, select, estimate, lease_s=parts.lease_s),
            ),
            ("dispatch", Dispatch(parts)),
        ]
    )
