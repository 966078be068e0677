"""In-process ledger: the default store, for a single process (tests, one replica, dev).

All state lives in dicts; each operation runs synchronously under one ``anyio.Lock``, so an
operation is atomic with respect to every other task on the event loop. Nothing survives a
restart: use SQLite or Redis where that matters.
"""

from __future__ import annotations

import heapq
import time
from collections import deque
from collections.abc import Callable, Sequence

import anyio

from . import engine
from .engine import Record
from .ledger import Refusal, Reservation, Settlement, StoreLedger
from .windows import Check

# Finished records are kept this long so a repeated settle still returns the first result.
DEFAULT_RETENTION_S = 86_400.0


class _MemoryTxn:
    def __init__(self) -> None:
        self.counters: dict[tuple[str, str], list[int]] = {}
        self.records: dict[str, Record] = {}
        # Per tenant, a heap of (expires_at, request_id); stale entries are skipped on pop.
        self.leases: dict[str, list[tuple[float, str]]] = {}
        self.finished: deque[tuple[float, str]] = deque()

    def read(self, tenant: str, keys: Sequence[str]) -> dict[str, tuple[int, int]]:
        out: dict[str, tuple[int, int]] = {}
        for key in keys:
            counter = self.counters.get((tenant, key))
            if counter is not None:
                out[key] = (counter[0], counter[1])
        return out

    def add(self, tenant: str, key: str, settled: int, reserved: int) -> None:
        counter = self.counters.setdefault((tenant, key), [0, 0])
        counter[0] += settled
        counter[1] = max(0, counter[1] + reserved)

    def load(self, request_id: str) -> Record | None:
        return self.records.get(request_id)

    def save(self, record: Record) -> None:
        if record.state != engine.RESERVED:
            self.finished.append((record.settled_at or record.expires_at, record.request_id))
        elif record.request_id not in self.records:
            heapq.heappush(
                self.leases.setdefault(record.tenant, []), (record.expires_at, record.request_id)
            )
        self.records[record.request_id] = record

    def expired(self, tenant: str, now: float) -> list[Record]:
        heap = self.leases.get(tenant, [])
        out = []
        while heap and heap[0][0] <= now:
            _, request_id = heapq.heappop(heap)
            record = self.records.get(request_id)
            if record is not None and record.state == engine.RESERVED:
                out.append(record)
        return out

    def prune(self, before: float) -> None:
        while self.finished and self.finished[0][0] < before:
            _, request_id = self.finished.popleft()
            record = self.records.get(request_id)
            if record is not None and record.state != engine.RESERVED:
                del self.records[request_id]


class MemoryLedger(StoreLedger):
    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        retention_s: float = DEFAULT_RETENTION_S,
    ) -> None:
        super().__init__(clock=clock)
        self._txn = _MemoryTxn()
        self._lock = anyio.Lock()
        self._retention_s = retention_s

    async def _reserve(
        self,
        tenant: str,
        checks: Sequence[Check],
        amount: int,
        request_id: str,
        now: float,
        expires_at: float,
    ) -> Reservation | Refusal:
        async with self._lock:
            self._txn.prune(now - self._retention_s)
            return engine.reserve(self._txn, tenant, checks, amount, request_id, now, expires_at)

    async def _settle(self, reservation: Reservation, actual: int, now: float) -> Settlement:
        async with self._lock:
            return engine.settle(self._txn, reservation, actual, now)

    async def _release(self, reservation: Reservation, now: float) -> None:
        async with self._lock:
            engine.release(self._txn, reservation, now)

    async def _read(
        self, tenant: str, keys: Sequence[str], now: float
    ) -> dict[str, tuple[int, int]]:
        async with self._lock:
            engine.reclaim(self._txn, tenant, now)
            return self._txn.read(tenant, keys)
