"""SQLite ledger: durable across restarts, safe for several processes sharing one file.

Every operation is one ``BEGIN IMMEDIATE`` transaction: it takes SQLite's write lock before
reading, so the check and the increment cannot interleave with another writer in this or any
other process (the invariant holds across processes, not just tasks). Calls run in a worker
thread (``anyio.to_thread``) through a one-thread limiter, since a sqlite3 connection must not
be used by two threads at once and SQLite serialises writers anyway.

WAL journal with ``synchronous=FULL`` by default: a committed reserve or settle survives a
killed process and a power cut. ``synchronous=NORMAL`` (``sqlite:///path?synchronous=normal``)
is faster and still survives a killed process, but may lose the last commits on power loss.
Counters and reservation records are kept (the history feeds reports); nothing is pruned.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from . import engine
from .engine import Record
from .ledger import Refusal, Reservation, Settlement, StoreLedger
from .windows import Check

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS budget_counters (
    tenant   TEXT NOT NULL,
    key      TEXT NOT NULL,
    settled  INTEGER NOT NULL DEFAULT 0,
    reserved INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS budget_reservations (
    request_id   TEXT PRIMARY KEY,
    tenant       TEXT NOT NULL,
    amount       INTEGER NOT NULL,
    reserve_keys TEXT NOT NULL,
    settle_keys  TEXT NOT NULL,
    created_at   REAL NOT NULL,
    expires_at   REAL NOT NULL,
    state        TEXT NOT NULL,
    actual       INTEGER,
    settled_at   REAL
);
CREATE INDEX IF NOT EXISTS budget_reservations_live
    ON budget_reservations (tenant, expires_at) WHERE state = 'reserved';
"""

_COLUMNS = (
    "request_id, tenant, amount, reserve_keys, settle_keys, created_at, expires_at, state, "
    "actual, settled_at"
)


def _record(row: Sequence[Any]) -> Record:
    return Record(
        row[0],
        row[1],
        row[2],
        tuple(json.loads(row[3])),
        tuple(json.loads(row[4])),
        row[5],
        row[6],
        row[7],
        row[8],
        row[9],
    )


class _SqliteTxn:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def read(self, tenant: str, keys: Sequence[str]) -> dict[str, tuple[int, int]]:
        out: dict[str, tuple[int, int]] = {}
        # Chunked: SQLite caps the number of bound parameters per statement.
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._conn.execute(
                "SELECT key, settled, reserved FROM budget_counters "
                f"WHERE tenant = ? AND key IN ({marks})",
                (tenant, *chunk),
            )
            out.update({key: (settled, reserved) for key, settled, reserved in rows})
        return out

    def add(self, tenant: str, key: str, settled: int, reserved: int) -> None:
        self._conn.execute(
            "INSERT INTO budget_counters (tenant, key, settled, reserved) VALUES (?, ?, ?, MAX(?, 0))"
            " ON CONFLICT (tenant, key) DO UPDATE SET settled = settled + excluded.settled,"
            " reserved = MAX(reserved + ?, 0)",
            (tenant, key, settled, reserved, reserved),
        )

    def load(self, request_id: str) -> Record | None:
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM budget_reservations WHERE request_id = ?", (request_id,)
        ).fetchone()
        return None if row is None else _record(row)

    def save(self, r: Record) -> None:
        self._conn.execute(
            f"INSERT OR REPLACE INTO budget_reservations ({_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                r.request_id,
                r.tenant,
                r.amount,
                json.dumps(r.reserve_keys),
                json.dumps(r.settle_keys),
                r.created_at,
                r.expires_at,
                r.state,
                r.actual,
                r.settled_at,
            ),
        )

    def expired(self, tenant: str, now: float) -> list[Record]:
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM budget_reservations "
            "WHERE tenant = ? AND state = 'reserved' AND expires_at <= ?",
            (tenant, now),
        )
        return [_record(row) for row in rows]


class SqliteLedger(StoreLedger):
    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: str = "FULL",
        busy_timeout_s: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(clock=clock)
        if synchronous.upper() not in ("FULL", "NORMAL", "EXTRA"):
            raise ValueError(f"synchronous must be FULL, NORMAL or EXTRA: {synchronous!r}")
        # isolation_level=None: we issue BEGIN IMMEDIATE / COMMIT ourselves.
        self._conn = sqlite3.connect(
            str(path), isolation_level=None, check_same_thread=False, timeout=busy_timeout_s
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(f"PRAGMA synchronous={synchronous.upper()}")
        self._txn = _SqliteTxn(self._conn)
        self._limiter = anyio.CapacityLimiter(1)
        self._conn.executescript(SCHEMA)

    def _transaction(self, work: Callable[[], T]) -> T:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            result = work()
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")
        return result

    async def _run(self, work: Callable[[], T]) -> T:
        return await anyio.to_thread.run_sync(self._transaction, work, limiter=self._limiter)

    async def _reserve(
        self,
        tenant: str,
        checks: Sequence[Check],
        amount: int,
        request_id: str,
        now: float,
        expires_at: float,
    ) -> Reservation | Refusal:
        return await self._run(
            lambda: engine.reserve(self._txn, tenant, checks, amount, request_id, now, expires_at)
        )

    async def _settle(self, reservation: Reservation, actual: int, now: float) -> Settlement:
        return await self._run(lambda: engine.settle(self._txn, reservation, actual, now))

    async def _release(self, reservation: Reservation, now: float) -> None:
        await self._run(lambda: engine.release(self._txn, reservation, now))

    async def _read(
        self, tenant: str, keys: Sequence[str], now: float
    ) -> dict[str, tuple[int, int]]:
        def work() -> dict[str, tuple[int, int]]:
            engine.reclaim(self._txn, tenant, now)
            return self._txn.read(tenant, keys)

        return await self._run(work)

    async def aclose(self) -> None:
        await anyio.to_thread.run_sync(self._conn.close, limiter=self._limiter)
