"""The reserve / settle / release state machine, for stores that run Python inside a transaction.

The memory and SQLite stores call these functions inside one critical section (a lock, a
``BEGIN IMMEDIATE`` transaction) over a :class:`Txn`. The Redis plugin implements the same
machine in Lua. A reservation record moves::

    reserved ──settle──> settled
       │  └──release──> released ──settle──> settled_late
       └────lease ends─> expired  ──settle──> settled_late

Release and repeated settles of a settled record are no-ops; a repeated settle returns the
first result. A settle of an unknown id (its record pruned) records the spend as late.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from .ledger import Refusal, Reservation, Settlement
from .windows import Check

RESERVED, SETTLED, SETTLED_LATE, RELEASED, EXPIRED = (
    "reserved",
    "settled",
    "settled_late",
    "released",
    "expired",
)
DONE = (SETTLED, SETTLED_LATE)


@dataclass
class Record:
    request_id: str
    tenant: str
    amount: int
    reserve_keys: tuple[str, ...]
    settle_keys: tuple[str, ...]
    created_at: float
    expires_at: float
    state: str = RESERVED
    actual: int | None = None
    settled_at: float | None = None

    def reservation(self) -> Reservation:
        return Reservation(
            self.request_id,
            self.tenant,
            self.amount,
            self.reserve_keys,
            self.settle_keys,
            self.created_at,
            self.expires_at,
        )

    def settlement(self) -> Settlement:
        return Settlement(
            self.request_id, self.tenant, self.amount, self.actual or 0, self.state == SETTLED_LATE
        )


class Txn(Protocol):
    """Storage primitives, all called inside one atomic section."""

    def read(self, tenant: str, keys: Sequence[str]) -> dict[str, tuple[int, int]]:
        """(settled, reserved) of existing counters; missing keys may be left out."""

    def add(self, tenant: str, key: str, settled: int, reserved: int) -> None:
        """Add to a counter, creating it; ``reserved`` never goes below zero."""

    def load(self, request_id: str) -> Record | None: ...

    def save(self, record: Record) -> None: ...

    def expired(self, tenant: str, now: float) -> list[Record]:
        """The tenant's records still ``reserved`` whose lease ended at or before ``now``."""


def reclaim(txn: Txn, tenant: str, now: float) -> None:
    for record in txn.expired(tenant, now):
        for key in record.reserve_keys:
            txn.add(tenant, key, 0, -record.amount)
        record.state = EXPIRED
        txn.save(record)


def reserve(
    txn: Txn,
    tenant: str,
    checks: Sequence[Check],
    amount: int,
    request_id: str,
    now: float,
    expires_at: float,
) -> Reservation | Refusal:
    reclaim(txn, tenant, now)
    existing = txn.load(request_id)
    if existing is not None:
        # A retried reserve of the same request must not hold budget twice.
        if existing.tenant != tenant:
            raise ValueError(f"request id {request_id!r} is already reserved by another tenant")
        return existing.reservation()
    values = read(txn, tenant, checks)
    for chk in checks:
        sums = [values.get(k, (0, 0))[0] for k in chk.sum_keys]
        used = sum(sums) + values.get(chk.reserve_key, (0, 0))[1]
        if used + amount > chk.limit_units:
            return Refusal(chk.cap_index, used, tuple(sums))
    record = Record(
        request_id,
        tenant,
        amount,
        tuple(dict.fromkeys(c.reserve_key for c in checks)),
        tuple(dict.fromkeys(c.settle_key for c in checks)),
        now,
        expires_at,
    )
    for key in record.reserve_keys:
        txn.add(tenant, key, 0, amount)
    txn.save(record)
    return record.reservation()


def read(txn: Txn, tenant: str, checks: Sequence[Check]) -> dict[str, tuple[int, int]]:
    keys = sorted({k for c in checks for k in (*c.sum_keys, c.reserve_key)})
    return txn.read(tenant, keys) if keys else {}


def settle(txn: Txn, reservation: Reservation, actual: int, now: float) -> Settlement:
    record = txn.load(reservation.request_id)
    if record is None:
        record = Record(
            reservation.request_id,
            reservation.tenant,
            reservation.amount_units,
            reservation.windows,
            reservation.settle_windows,
            reservation.created_at,
            reservation.expires_at,
            state=EXPIRED,
        )
    if record.state in DONE:
        return record.settlement()
    if record.state == RESERVED:
        for key in record.reserve_keys:
            txn.add(record.tenant, key, 0, -record.amount)
    for key in record.settle_keys:
        txn.add(record.tenant, key, actual, 0)
    record.state = SETTLED if record.state == RESERVED else SETTLED_LATE
    record.actual = actual
    record.settled_at = now
    txn.save(record)
    return record.settlement()


def release(txn: Txn, reservation: Reservation, now: float) -> None:
    record = txn.load(reservation.request_id)
    if record is None or record.state != RESERVED:
        return
    for key in record.reserve_keys:
        txn.add(record.tenant, key, 0, -record.amount)
    record.state = RELEASED
    record.settled_at = now
    txn.save(record)
