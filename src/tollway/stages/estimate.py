"""Estimate what the call will cost on each candidate before anything is spent."""

from __future__ import annotations

from ..catalog import Catalog
from ..estimate import estimate_cost
from ..pipeline import Call, Next, Reply


class Estimate:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    async def __call__(self, call: Call, next: Next) -> Reply:
        decision = call.decision
        for slug in decision.candidates:
            if slug not in decision.estimates:
                model = self.catalog.get(slug)
                decision.estimates[slug] = estimate_cost(call.request, model, decision.token_floor)
        if decision.candidates:
            decision.estimated_cost = decision.estimates[decision.candidates[0]]
        return await next(call)
