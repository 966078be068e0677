"""Session affinity: a live pin fixes the task and model, so classify and select are skipped.

``Affinity`` runs before classify. ``AffinityCache`` runs after estimate and prices the prompt
share that the pinned model has likely cached. See ``tollway.affinity`` for keys and stores.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping
from decimal import Decimal
from typing import Any

import anyio
import structlog

from .. import select
from ..affinity.cache import DEFAULT_TTL, RULES, CacheRule, likely_cached, rule_for
from ..affinity.keys import explicit_key, implicit_key, session_id
from ..affinity.memory import MemoryAffinityStore
from ..affinity.state import EXTRA, AffinityState, affinity_state
from ..affinity.store import AffinityStore, Pin
from ..catalog import Catalog
from ..estimate import input_tokens
from ..health import Health
from ..money import PER_MILLION, ZERO
from ..pipeline import Call, Next, Reply
from ..streams import Watched

log = structlog.get_logger("tollway.affinity")

HEADER = "x-tollway-affinity"
Clock = Callable[[], float]


class Affinity:
    """Pins sessions to models for ``ttl`` idle seconds (``ttls`` overrides it per model).

    ``implicit`` overrides the router's ``implicit_affinity``. A failing store never fails a call:
    the call routes without affinity and the decision says so.
    """

    def __init__(
        self,
        store: AffinityStore | None = None,
        health: Health | None = None,
        *,
        ttl: float = DEFAULT_TTL,
        ttls: Mapping[str, float] | None = None,
        implicit: bool | None = None,
        clock: Clock = time.time,
        write_timeout: float = 2.0,
    ) -> None:
        self.store: AffinityStore = store if store is not None else MemoryAffinityStore()
        self.health = health
        self.ttl = ttl
        self.ttls = dict(ttls or {})
        self.implicit = implicit
        self.clock = clock
        self.write_timeout = write_timeout

    async def __call__(self, call: Call, next: Next) -> Reply:
        state = await self._find(call)
        if state is None:
            return await next(call)
        call.extras[EXTRA] = state
        if state.pin is not None:
            self._apply(call, state)
        reply = await next(call)
        return await self._after(call, state, reply)

    async def _find(self, call: Call) -> AffinityState | None:
        session = session_id(call)
        implicit = call.router.implicit_affinity if self.implicit is None else self.implicit
        if session is None and not implicit:
            return None
        if session is not None:
            call.decision.session = session
        try:
            with anyio.fail_after(self.write_timeout):  # a hanging store must not stall the call
                return await self._read(call, session)
        except Exception as exc:  # a store outage must not fail the call
            _store_failed(call, "read", exc)
            return None

    async def _read(self, call: Call, session: str | None) -> AffinityState | None:
        salt = await self.store.salt()
        if session is not None:
            key: str | None = explicit_key(salt, call.tenant, call.router.name, session)
        else:
            tools = call.request.params.get("tools")
            key = implicit_key(salt, call.tenant, call.router.name, call.request.messages, tools)
        if key is None:
            return None
        pin = await self.store.get(key)
        return AffinityState("explicit" if session is not None else "implicit", key, pin)

    def _apply(self, call: Call, state: AffinityState) -> None:
        pin = state.pin
        assert pin is not None
        why = self._unusable(call, pin)
        if why:
            call.decision.notes.append(f"affinity: pinned model {pin.model} {why}; re-routed")
            return
        decision = call.decision
        task = call.router.task(pin.task) if pin.task else None
        pool = dict.fromkeys([*(task.models if task else ()), *call.router.fallback_models])
        rest = [m for m in pool if m != pin.model]
        decision.pinned = True
        decision.task = pin.task
        decision.policy = "affinity"
        decision.reason = f"{state.kind} session affinity pinned this conversation to {pin.model}"
        decision.candidates = [pin.model, *select.healthy_first(rest, self._available)]
        state.applied = True

    def _unusable(self, call: Call, pin: Pin) -> str | None:
        if pin.task is not None and call.router.task(pin.task) is None:
            return f"belongs to task {pin.task!r}, which the router no longer has"
        if pin.model not in call.router.models():
            return "is no longer in this router"
        if not self._available(pin.model):
            return "is unavailable (cooling down after failures)"
        return None

    def _available(self, model: str) -> bool:
        return self.health is None or self.health.available(model)

    async def _after(self, call: Call, state: AffinityState, reply: Reply) -> Reply:
        model = call.decision.model
        if model is None:  # nothing was served (explain): nothing to pin
            return reply
        if state.pin is None:
            state.status = "new"
        elif state.pin.model == model:
            state.status = "hit"
        else:
            state.status = "repinned"
            if state.applied:
                call.decision.notes.append(f"affinity: {state.pin.model} failed; re-pinned to {model}")
        reply.headers[HEADER] = state.status
        if reply.stream is not None:
            reply.stream = self._pin_at_end(call, state, reply.stream)
        else:
            with anyio.move_on_after(self.write_timeout):
                await self._pin(call, state)
        return reply

    def _pin_at_end(
        self, call: Call, state: AffinityState, stream: AsyncIterator[dict[str, Any]]
    ) -> Watched[dict[str, Any]]:
        async def ended(error: BaseException | None, completed: bool) -> None:
            # Even when the client hung up: the upstream has read the prompt, so its cache is warm.
            with anyio.move_on_after(self.write_timeout):
                await self._pin(call, state)

        return Watched(stream, on_end=ended)

    async def _pin(self, call: Call, state: AffinityState) -> None:
        decision = call.decision
        if decision.model is None:
            return
        usage = decision.usage
        pin = Pin(decision.model, decision.task, usage.prompt_tokens if usage else 0, self.clock())
        try:
            await self.store.put(state.key, pin, self.ttls.get(decision.model, self.ttl))
        except Exception as exc:
            _store_failed(call, "write", exc)
            state.status = "error"


class AffinityCache:
    """Prices a pinned call's likely cached prompt share at the catalog's cached-input price.

    The call's estimate (``decision.estimated_cost``: headers, records, the report's estimate
    error) drops by the cached share's discount. The per-candidate bounds a budget reserves are
    left whole: if the upstream's cache has gone cold, the call costs the full price, and a
    reservation must cover that. Settlement always uses the reported usage.
    """

    def __init__(
        self, catalog: Catalog, *, rules: Mapping[str, CacheRule] = RULES, clock: Clock = time.time
    ) -> None:
        self.catalog = catalog
        self.rules = rules
        self.clock = clock

    async def __call__(self, call: Call, next: Next) -> Reply:
        state = affinity_state(call)
        if state is not None and state.applied and state.pin is not None and state.pin.prompt_tokens:
            self._estimate(call, state, state.pin)
        return await next(call)

    def _estimate(self, call: Call, state: AffinityState, pin: Pin) -> None:
        model = self.catalog.get(pin.model)
        rule = rule_for(model, self.rules)
        decision = call.decision
        estimate = decision.estimates.get(pin.model)
        if rule is None or estimate is None or model.cached_input is None:
            return
        prompt = input_tokens(call.request, model)
        cached = likely_cached(rule, pin.prompt_tokens, prompt, self.clock() - pin.at)
        if not cached:
            return
        # A discount on the estimate stage's figure, so its output bound (learned or not) stands.
        discount = Decimal(cached) * (model.input - model.cached_input) / PER_MILLION
        if decision.candidates[:1] == [pin.model]:
            decision.estimated_cost = max(ZERO, estimate - discount)
        state.cached_tokens = cached
        decision.notes.append(f"affinity: estimate assumes {cached} of {prompt} prompt tokens cached")


def _store_failed(call: Call, op: str, exc: Exception) -> None:
    log.warning("affinity store failed", op=op, error=repr(exc), request_id=call.request_id)
    call.decision.notes.append(f"affinity: store {op} failed ({type(exc).__name__}); no pin used")
