"""Estimate what the call will cost on each candidate before anything is spent."""

from __future__ import annotations

from ..catalog import Catalog
from ..estimate import bound_cost
from ..pipeline import Call, Next, Reply
from ..stats import OutputStats


class Estimate:
    """Bounds each candidate's cost: the request's max tokens, else the learned p95 of this route
    and model, else a share of the model's max output."""

    def __init__(self, catalog: Catalog, stats: OutputStats) -> None:
        self.catalog = catalog
        self.stats = stats

    async def __call__(self, call: Call, next: Next) -> Reply:
        self.apply(call)
        return await next(call)

    def apply(self, call: Call) -> None:
        decision = call.decision
        for slug in decision.candidates:
            if slug not in decision.estimates:
                model = self.catalog.get(slug)
                learned = self.stats.percentile(decision.route, slug)
                decision.estimates[slug] = bound_cost(call.request, model, decision.token_floor, learned)
        if decision.candidates:
            decision.estimated_cost = decision.estimates[decision.candidates[0]]
