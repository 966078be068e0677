"""Budget ledger: the API the pipeline's budget stage calls.

Amounts are integer picodollars (:func:`tollway.money.to_units`). Per request::

    res = await ledger.reserve(tenant, caps, estimate_units, request_id, lease_s=900)
    try:
        response = await call_upstream()
    except Exception:
        await ledger.release(res)        # nothing spent: give the reservation back
        raise
    await ledger.settle(res, actual_units)  # exactly once per request id; repeats are no-ops

``reserve`` checks every cap atomically (all or nothing) and raises :class:`BudgetExceeded`
naming the cap and its reset time. Invariant, per tenant and window, at any concurrency and
across processes sharing a store: ``settled + outstanding reservations <= limit`` as long as
actual costs stay within their estimates. When an actual cost exceeds its estimate the real
spend is recorded anyway (it was spent) and later reservations see it, so they are refused
until the window has room again: an overshoot is never compounded.

A reservation holds budget until ``expires_at`` (its lease). After that any store operation
for the tenant reclaims it, so a crashed process cannot hold budget forever. A late
``settle`` of a reclaimed reservation still records the spend (``Settlement.late``).
Choose the lease longer than the slowest call you allow (streams included).

``spend`` and ``remaining`` read the current windows (reclaiming expired leases first).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

from ..money import to_units
from .errors import BudgetExceeded
from .windows import Check, Window, check, resets_at, utc, validate

DEFAULT_LEASE_S = 900.0
# What ``remaining`` answers for a tenant without caps (the int64 range stores can hold).
UNLIMITED = 2**63 - 1


@dataclass(frozen=True)
class Cap:
    """A spending limit over one window: ``Cap("day", Decimal("5"))`` is $5 per UTC day."""

    window: Window
    limit: Decimal

    def __post_init__(self) -> None:
        validate(self.window)
        if self.limit < 0:
            raise ValueError(f"budget cap limit must be >= 0: {self.limit}")

    @property
    def limit_units(self) -> int:
        return to_units(self.limit)


@dataclass(frozen=True)
class Reservation:
    """Budget held for one request until it settles, is released or its lease expires.

    ``windows`` are the counters holding the reservation; ``settle_windows`` those that receive
    the actual spend (they differ only for rolling windows). ``expires_at`` is UNIX seconds.
    """

    request_id: str
    tenant: str
    amount_units: int
    windows: tuple[str, ...]
    settle_windows: tuple[str, ...]
    created_at: float
    expires_at: float

    @property
    def expires(self) -> datetime:
        return utc(self.expires_at)


@dataclass(frozen=True)
class Settlement:
    """The outcome of the (single) settle of a request. ``late``: its lease had lapsed first."""

    request_id: str
    tenant: str
    reserved_units: int
    actual_units: int
    late: bool = False


@dataclass(frozen=True)
class Refusal:
    """A store's answer when a cap has no room: which check failed and what it saw."""

    cap_index: int
    used_units: int
    bucket_settled: tuple[int, ...] = field(default=())


@runtime_checkable
class Ledger(Protocol):
    async def reserve(
        self,
        tenant: str,
        caps: Sequence[Cap],
        amount_units: int,
        request_id: str,
        lease_s: float = DEFAULT_LEASE_S,
    ) -> Reservation: ...

    async def settle(self, reservation: Reservation, actual_units: int) -> Settlement: ...

    async def release(self, reservation: Reservation) -> None: ...

    async def spend(self, tenant: str, window: Window) -> tuple[int, int]: ...

    async def remaining(self, tenant: str, caps: Sequence[Cap]) -> int: ...

    async def aclose(self) -> None: ...


class StoreLedger(ABC):
    """The store-independent half of a ledger: validation, window planning and errors.

    A store implements the ``_reserve``/``_settle``/``_release``/``_read`` primitives, each of
    which must be atomic (one transaction, one Lua script, one critical section).
    """

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    async def reserve(
        self,
        tenant: str,
        caps: Sequence[Cap],
        amount_units: int,
        request_id: str,
        lease_s: float = DEFAULT_LEASE_S,
    ) -> Reservation:
        if amount_units < 0:
            raise ValueError(f"reservation amount must be >= 0: {amount_units}")
        if lease_s <= 0:
            raise ValueError(f"lease must be > 0 seconds: {lease_s}")
        now = self._clock()
        for cap in caps:
            if cap.window == "request" and amount_units > cap.limit_units:
                raise BudgetExceeded(
                    tenant=tenant,
                    window="request",
                    limit_units=cap.limit_units,
                    used_units=0,
                    requested_units=amount_units,
                )
        checks = [
            check(i, cap.window, cap.limit_units, now)
            for i, cap in enumerate(caps)
            if cap.window != "request"
        ]
        outcome = await self._reserve(tenant, checks, amount_units, request_id, now, now + lease_s)
        if isinstance(outcome, Reservation):
            return outcome
        failed = next(c for c in checks if c.cap_index == outcome.cap_index)
        raise BudgetExceeded(
            tenant=tenant,
            window=failed.window,
            limit_units=failed.limit_units,
            used_units=outcome.used_units,
            requested_units=amount_units,
            window_key=failed.reserve_key,
            resets_at=resets_at(
                failed, outcome.used_units, amount_units, outcome.bucket_settled, now
            ),
        )

    async def settle(self, reservation: Reservation, actual_units: int) -> Settlement:
        if actual_units < 0:
            raise ValueError(f"settled amount must be >= 0: {actual_units}")
        return await self._settle(reservation, actual_units, self._clock())

    async def release(self, reservation: Reservation) -> None:
        await self._release(reservation, self._clock())

    async def spend(self, tenant: str, window: Window) -> tuple[int, int]:
        """(settled, reserved) units in ``window``'s current instance for ``tenant``."""
        chk = check(0, validate(window), 0, self._clock())
        (settled, reserved), = await self._usage(tenant, [chk])
        return settled, reserved

    async def remaining(self, tenant: str, caps: Sequence[Cap]) -> int:
        """Units a reservation could take right now: the tightest cap's headroom, >= 0."""
        now = self._clock()
        room = [cap.limit_units for cap in caps if cap.window == "request"]
        checks = [
            check(i, cap.window, cap.limit_units, now)
            for i, cap in enumerate(caps)
            if cap.window != "request"
        ]
        if checks:
            usage = await self._usage(tenant, checks)
            room += [c.limit_units - s - r for c, (s, r) in zip(checks, usage, strict=True)]
        return max(0, min(room)) if room else UNLIMITED

    async def _usage(self, tenant: str, checks: Sequence[Check]) -> list[tuple[int, int]]:
        keys = sorted({k for c in checks for k in (*c.sum_keys, c.reserve_key)})
        values = await self._read(tenant, keys, self._clock())
        return [
            (
                sum(values.get(k, (0, 0))[0] for k in c.sum_keys),
                values.get(c.reserve_key, (0, 0))[1],
            )
            for c in checks
        ]

    async def aclose(self) -> None:
        return None

    @abstractmethod
    async def _reserve(
        self,
        tenant: str,
        checks: Sequence[Check],
        amount: int,
        request_id: str,
        now: float,
        expires_at: float,
    ) -> Reservation | Refusal: ...

    @abstractmethod
    async def _settle(self, reservation: Reservation, actual: int, now: float) -> Settlement: ...

    @abstractmethod
    async def _release(self, reservation: Reservation, now: float) -> None: ...

    @abstractmethod
    async def _read(
        self, tenant: str, keys: Sequence[str], now: float
    ) -> dict[str, tuple[int, int]]:
        """(settled, reserved) per counter key, after reclaiming the tenant's expired leases."""
