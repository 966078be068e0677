"""The built-in stages, one module each, and the default pipeline that chains them."""

from __future__ import annotations

from ..catalog import Catalog
from ..classify.base import Classifier
from ..health import Health
from ..pipeline import Pipeline
from ..stats import OutputStats
from ..upstream import HttpUpstream
from .classify import Classify
from .dispatch import Dispatch
from .estimate import Estimate
from .select import Select
from .token_floor import TokenFloor
from .validate import Validate

__all__ = ["Classify", "Dispatch", "Estimate", "Select", "TokenFloor", "Validate", "default_pipeline"]


def default_pipeline(
    catalog: Catalog,
    classifier: Classifier,
    upstream: HttpUpstream,
    health: Health,
    stats: OutputStats,
    *,
    timeout: float = 120.0,
    first_chunk_timeout: float = 30.0,
) -> Pipeline:
    return Pipeline(
        [
            ("validate", Validate()),
            ("classify", Classify(classifier)),
            ("token_floor", TokenFloor()),
            ("select", Select(catalog, health, stats)),
            ("estimate", Estimate(catalog, stats)),
            (
                "dispatch",
                Dispatch(
                    catalog, upstream, health, stats, timeout=timeout, first_chunk_timeout=first_chunk_timeout
                ),
            ),
        ]
    )
