"""Order the matched task's pool by its selection policy, then append the fallback models."""

from __future__ import annotations

from decimal import Decimal

from .. import select
from ..catalog import Catalog, ModelSpec
from ..config import TaskPolicy
from ..errors import NoRouteMatched
from ..estimate import count_ahead, expected_cost
from ..health import Health
from ..pipeline import Call, Next, Reply
from ..stats import OutputStats


class Select:
    def __init__(self, catalog: Catalog, health: Health, stats: OutputStats) -> None:
        self.catalog = catalog
        self.health = health
        self.stats = stats

    async def __call__(self, call: Call, next: Next) -> Reply:
        await count_ahead(call.request, self._models_of(call))
        if not (call.decision.pinned and call.decision.candidates):
            self.apply(call)
        return await next(call)

    def _models_of(self, call: Call) -> list[ModelSpec]:
        task = call.task()
        names = [*(task.models if task else ()), *call.router.fallback_models, *call.decision.candidates]
        return [self.catalog.get(m) for m in dict.fromkeys(names)]

    def apply(self, call: Call) -> None:
        """Set ``decision.candidates`` for the decision's task (or the fallback)."""
        decision = call.decision
        task = call.task()
        if task is None:
            decision.task = None
            decision.policy = "fallback"
            order: list[str] = []
        else:
            decision.policy = task.policy
            order = self.order(task, call)
        order += [m for m in call.router.fallback_models if m not in order]
        if not order:
            raise NoRouteMatched(
                f"no task of router {call.router.name!r} matched this prompt and the router has no "
                "fallback_models; add fallback_models to the router or a task that covers it"
            )
        decision.candidates = select.healthy_first(order, self.health.available)

    def order(self, task: TaskPolicy, call: Call) -> list[str]:
        policy = task.selection_policy
        if policy is None:
            return select.ranked(task.models)
        if policy.prefer == "fastest":
            return select.fastest(task.models, self.health.ttft_ms)
        floor, route = call.decision.token_floor, task.name
        costs = {
            m: expected_cost(call.request, self.catalog.get(m), floor, route, self.stats) for m in task.models
        }

        def cost(model: str) -> Decimal:
            return costs[model]

        if policy.prefer == "cheapest":
            return select.cheapest(task.models, cost)
        return select.optimal(
            task.models,
            select.PRESETS[policy.task_slug or ""],
            cost,
            quality=lambda m: self.catalog.get(m).quality,
            reasoning=lambda m: self.catalog.get(m).reasoning,
        )
