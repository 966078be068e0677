"""The routing headers every door puts on a routed response."""

from __future__ import annotations

from .decision import Decision

ROUTE = "x-model-router-selected-route"
AFFINITY = "x-model-affinity"


def decision_headers(decision: Decision) -> dict[str, str]:
    headers = {ROUTE: decision.route}
    if decision.model:
        headers["x-tollway-model"] = decision.model
    if decision.session:
        headers[AFFINITY] = decision.session
    if decision.estimated_cost is not None:
        headers["x-tollway-estimated-cost"] = str(decision.estimated_cost)
    if decision.actual_cost is not None:
        headers["x-tollway-cost"] = str(decision.actual_cost)
    if decision.reframed_from:
        headers["x-tollway-reframed-from"] = decision.reframed_from
    if decision.reframed_model_from:
        headers["x-tollway-reframed-from-model"] = decision.reframed_model_from
    if len(decision.attempts) > 1:
        headers["x-tollway-attempts"] = ",".join(a.model for a in decision.attempts)
    return headers
