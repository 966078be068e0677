"""Budget guardrails: fit the call under the tenant's caps, reserve, then settle exactly once.

Before dispatch the call must fit the per-request cap and every window cap. What happens when it
does not is the task's ``over_budget`` action:

- ``reject``: a ``budget_exceeded`` error (429, ``x-should-retry: false``) naming the cap;
- ``reframe``: a cheaper model of the pool that fits, else the task's ``reframe_to`` task (e.g.
  reasoning → customer-qa, as the tutorial suggests); the client sees it in a header;
- ``clamp``: lower max tokens until the call fits, never below the reasoning floor.

The reservation is the largest bound among the candidates, since failover may reach any of
them; candidates that cannot fit are dropped. A capped tenant's request without max tokens gets
``max_completion_tokens`` = the default bound (4,096), so the reservation is a true worst case.
It is settled with the actual cost from ``usage`` (streams: when they end, also when the client
goes away mid-way), or released if the call fails.
"""

from __future__ import annotations

from decimal import Decimal

import anyio

from ..budget import DEFAULT_LEASE_S, UNLIMITED, BudgetExceeded, Cap, Ledger, Reservation
from ..catalog import Catalog
from ..estimate import DEFAULT_OUTPUT_BOUND, input_tokens
from ..money import PER_MILLION, from_units, to_units
from ..pipeline import Call, Next, Reply
from ..streams import Watched
from ..tenancy import Tenants
from .estimate import Estimate
from .select import Select
from .token_floor import TokenFloor

# A clamp that leaves fewer completion tokens than this is no answer at all: reject instead.
MIN_CLAMPED_TOKENS = 16
REMAINING = "x-tollway-budget-remaining"


class Budget:
    def __init__(
        self,
        catalog: Catalog,
        ledger: Ledger,
        tenants: Tenants,
        select: Select,
        estimate: Estimate,
        *,
        lease_s: float = DEFAULT_LEASE_S,
    ) -> None:
        self.catalog = catalog
        self.ledger = ledger
        self.tenants = tenants
        self.select = select
        self.estimate = estimate
        self.lease_s = lease_s

    async def __call__(self, call: Call, next: Next) -> Reply:
        caps = self.tenants.caps(call.tenant)
        windows = [c for c in caps if c.window != "request"]
        if caps:
            self._bound_output(call)
        per_request = min((c.limit for c in caps if c.window == "request"), default=None)
        self._fit(call, per_request, None)
        if not windows:
            return await next(call)  # nothing to share with other calls: no ledger round trips
        reservation = await self._reserve(call, caps, per_request)
        try:
            reply = await next(call)
        except BaseException:
            await self._abandon(call, reservation)
            raise
        if reply.stream is None:
            await self._settle(call, reservation)
            await self._remaining(call, windows, reply)
            return reply
        stream = reply.stream = Watched(
            reply.stream, on_end=lambda error, done: self._settle(call, reservation)
        )
        try:
            await self._remaining(call, windows, reply)
        except BaseException:
            await stream.aclose()  # nobody else will: settle now
            raise
        return reply

    async def _reserve(self, call: Call, caps: list[Cap], per_request: Decimal | None) -> Reservation:
        try:
            return await self._hold(call, caps)
        except BudgetExceeded as exc:
            if exc.window == "request":
                raise
            # A window has less room than the largest candidate needs: drop the candidates that
            # do not fit, and act on the task's over_budget only if the first one does not.
            room = from_units(await self.ledger.remaining(call.tenant, caps))
            self._fit(call, room if per_request is None else min(room, per_request), exc)
            return await self._hold(call, caps)

    async def _hold(self, call: Call, caps: list[Cap]) -> Reservation:
        return await self.ledger.reserve(call.tenant, caps, self._amount(call), call.request_id, self.lease_s)

    async def _abandon(self, call: Call, reservation: Reservation) -> None:
        """The call failed. If a request was out when it was cancelled, the upstream may still
        bill it: settle the reservation in full. Otherwise nothing was spent: release it."""
        with anyio.CancelScope(shield=True):
            if call.decision.in_flight is not None:
                call.decision.notes.append("cancelled with a request out: settled the reservation in full")
                await self.ledger.settle(reservation, reservation.amount_units)
            else:
                await self.ledger.release(reservation)

    def _bound_output(self, call: Call) -> None:
        """A capped tenant's call without max tokens gets the default bound as its limit, so
        the reservation covers the worst case and settled spend can never exceed it."""
        if call.request.max_tokens() is not None:
            return
        call.request.params["max_completion_tokens"] = DEFAULT_OUTPUT_BOUND
        call.decision.notes.append(
            f"max_completion_tokens set to {DEFAULT_OUTPUT_BOUND}: the tenant has budget caps"
        )
        call.decision.estimates.clear()
        self.estimate.apply(call)

    def _amount(self, call: Call) -> int:
        estimates = call.decision.estimates
        return to_units(max((estimates[c] for c in call.decision.candidates), default=Decimal(0)))

    def _action(self, call: Call) -> str:
        task = call.task()
        return task.over_budget if task is not None else "reject"

    def _fit(self, call: Call, limit: Decimal | None, refusal: BudgetExceeded | None) -> None:
        """Make the candidates fit under ``limit`` by the task's action, or raise."""
        if limit is None:
            return
        decision = call.decision
        fitting = [c for c in decision.candidates if decision.estimates[c] <= limit]
        if fitting and fitting[0] == decision.candidates[0]:
            decision.candidates = fitting
            return
        action = self._action(call)
        if action == "reframe":
            self._reframe(call, limit, fitting, refusal)
            return
        if action == "clamp" and self._clamp(call, limit):
            return
        raise refusal or self._refusal(call, limit)

    def _reframe(
        self, call: Call, limit: Decimal, fitting: list[str], refusal: BudgetExceeded | None
    ) -> None:
        """A cheaper model of the pool, else the ``reframe_to`` task, else a fallback model."""
        decision = call.decision
        task = call.task()
        pool = [c for c in fitting if task is not None and c in task.models]
        if not pool and self._reframe_task(call):
            return self._fit(call, limit, refusal)
        choice = pool or fitting
        if not choice:
            raise refusal or self._refusal(call, limit)
        decision.reframed_model_from = decision.candidates[0]
        decision.notes.append(f"reframed to {choice[0]}: {decision.candidates[0]} does not fit the budget")
        decision.candidates = choice
        decision.estimated_cost = decision.estimates[choice[0]]

    def _reframe_task(self, call: Call) -> bool:
        """Move the call to its task's ``reframe_to`` task; False when there is none."""
        task = call.task()
        if task is None or task.reframe_to is None or call.decision.reframed_from is not None:
            return False
        decision = call.decision
        decision.reframed_from, decision.task = task.name, task.reframe_to
        decision.notes.append(f"reframed from task {task.name!r} to {task.reframe_to!r} to fit the budget")
        decision.estimates.clear()
        TokenFloor.apply(call)
        self.select.apply(call)
        self.estimate.apply(call)
        return True

    def _clamp(self, call: Call, limit: Decimal) -> bool:
        """Lower max tokens so that the first candidate fits; keep the others that still fit."""
        decision = call.decision
        model = self.catalog.get(decision.candidates[0])
        room = limit - model.input_cost(input_tokens(call.request, model))
        tokens = int(room * PER_MILLION / model.output) if model.output else 0
        floor = decision.token_floor if model.reasoning and decision.token_floor else MIN_CLAMPED_TOKENS
        if tokens < floor:
            return False
        call.request.params.pop("max_tokens", None)
        call.request.params["max_completion_tokens"] = tokens
        decision.notes.append(f"clamped max_completion_tokens to {tokens} to fit the budget")
        decision.estimates.clear()
        self.estimate.apply(call)
        decision.candidates = [c for c in decision.candidates if decision.estimates[c] <= limit]
        return True

    def _refusal(self, call: Call, limit: Decimal) -> BudgetExceeded:
        first = call.decision.candidates[0] if call.decision.candidates else None
        wanted = call.decision.estimates.get(first, Decimal(0)) if first else Decimal(0)
        return BudgetExceeded(
            tenant=call.tenant,
            window="request",
            limit_units=to_units(limit),
            used_units=0,
            requested_units=to_units(wanted),
        )

    async def _settle(self, call: Call, reservation: Reservation) -> None:
        cost = call.decision.actual_cost
        with anyio.CancelScope(shield=True):
            await self.ledger.settle(reservation, to_units(cost if cost is not None else Decimal(0)))

    async def _remaining(self, call: Call, windows: list[Cap], reply: Reply) -> None:
        units = await self.ledger.remaining(call.tenant, windows)
        if units != UNLIMITED:
            reply.headers[REMAINING] = str(from_units(units))
