"""One call, as the ledger of calls keeps it: route, model, tokens and exact cost."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from ..affinity.cache import cache_savings
from ..catalog import Catalog
from ..money import to_units
from ..pipeline import Call


@dataclass(frozen=True)
class CallRecord:
    """Money is in integer picodollars (``tollway.money``); ``ts`` is UNIX seconds."""

    request_id: str
    ts: float
    tenant: str
    router: str
    route: str
    model: str | None
    policy: str | None
    status: str  # "ok" or the error code
    pinned: bool = False
    reframed_from: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    estimated_units: int | None = None
    actual_units: int = 0
    cache_savings_units: int = 0
    latency_ms: float = 0.0
    attempts: int = 0

    @property
    def fallback(self) -> bool:
        return self.route == "fallback"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def record_of(call: Call, catalog: Catalog, status: str, latency_ms: float) -> CallRecord:
    d = call.decision
    usage = d.usage
    savings = 0
    if usage is not None and d.model is not None and d.model in catalog:
        savings = to_units(cache_savings(catalog.get(d.model), usage))
    return CallRecord(
        request_id=call.request_id,
        ts=time.time(),
        tenant=call.tenant,
        router=call.router.name,
        route=d.route,
        model=d.model,
        policy=d.policy,
        status=status,
        pinned=d.pinned,
        reframed_from=d.reframed_from or d.reframed_model_from,
        prompt_tokens=usage.prompt_tokens if usage else 0,
        completion_tokens=usage.completion_tokens if usage else 0,
        cached_tokens=usage.cached_tokens if usage else 0,
        reasoning_tokens=usage.reasoning_tokens if usage else 0,
        estimated_units=None if d.estimated_cost is None else to_units(d.estimated_cost),
        actual_units=0 if d.actual_cost is None else to_units(d.actual_cost),
        cache_savings_units=savings,
        latency_ms=latency_ms,
        attempts=len(d.attempts),
    )
