"""Call records in SQLite, durable across restarts and readable by ``tollway report``.

Writes are batched: records wait in memory until ``batch`` of them are pending (or a query or
close flushes them), then go in one transaction in a worker thread. A crash can lose the last
batch of *records*; money is never lost that way, since budgets live in the ledger.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import astuple, fields

import anyio

from .record import CallRecord

COLUMNS = [f.name for f in fields(CallRecord)]
PINNED = COLUMNS.index("pinned")
_TYPES = {"ts": "REAL", "latency_ms": "REAL", "pinned": "INTEGER"}
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS calls ("
    + ", ".join(f"{c} {_TYPES.get(c, '')}".strip() for c in COLUMNS)
    + ", PRIMARY KEY (request_id))"
)


class SqliteRecords:
    def __init__(self, path: str, batch: int = 64) -> None:
        self.path = path
        self.batch = batch
        self._pending: list[CallRecord] = []
        self._lock = anyio.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(SCHEMA)
        self._db.execute("CREATE INDEX IF NOT EXISTS calls_ts ON calls (ts)")

    async def add(self, record: CallRecord) -> None:
        self._pending.append(record)
        if len(self._pending) >= self.batch:
            await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            pending, self._pending = self._pending, []
            if pending:
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(self._write, pending)

    def _write(self, records: list[CallRecord]) -> None:
        marks = ", ".join("?" * len(COLUMNS))
        with self._db:
            self._db.executemany(
                f"INSERT OR REPLACE INTO calls VALUES ({marks})", [astuple(r) for r in records]
            )

    async def query(self, since: float = 0.0, until: float | None = None) -> Sequence[CallRecord]:
        await self.flush()
        return await anyio.to_thread.run_sync(self._read, since, until)

    def _read(self, since: float, until: float | None) -> list[CallRecord]:
        sql = f"SELECT {', '.join(COLUMNS)} FROM calls WHERE ts >= ? AND ts < ? ORDER BY ts"
        rows = self._db.execute(sql, (since, until if until is not None else float("inf"))).fetchall()
        return [
            CallRecord(**{**dict(zip(COLUMNS, row, strict=True)), "pinned": bool(row[PINNED])})
            for row in rows
        ]

    async def aclose(self) -> None:
        await self.flush()
        self._db.close()
