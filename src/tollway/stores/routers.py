"""Routers created through the control plane, kept in SQLite so they survive a restart.

The store's methods are plain blocking calls: a write can wait up to ``busy_timeout_ms`` for
another process's lock, so the control plane runs them in a worker thread
(``anyio.to_thread.run_sync``), never on the event loop. Reads and writes use separate
connections, so that a write waiting for a lock never holds up a read (WAL readers do not wait for
writers).

``version()`` lets other processes sharing the file (uvicorn workers) notice writes: SQLite's
``data_version`` moves when another connection commits. It is the one call made on the event
loop, on every data-plane request, so it never waits: its own connection, no busy timeout, and
``None`` (not known now) instead of blocking when the connection is in use or the file is locked.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

_SCHEMA = """
CREATE TABLE IF NOT EXISTS model_routers (
    uuid TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
)
"""
_COLUMNS = "uuid, name, body, created_at, updated_at"
DEFAULT_BUSY_TIMEOUT_MS = 5000

T = TypeVar("T")


class DuplicateName(Exception):
    """Another router already has this name."""


class StoreUnavailable(Exception):
    """The store could not be read or written (locked past the busy timeout, I/O error …)."""


@dataclass(frozen=True)
class StoredRouter:
    uuid: str
    name: str
    body: dict[str, Any]
    created_at: str
    updated_at: str


class RouterStore(Protocol):
    """Blocking calls (run them in a worker thread), except ``version()``, which never waits.
    Failures other than ``DuplicateName`` are raised as ``StoreUnavailable``."""

    def list(self) -> list[StoredRouter]: ...
    def get(self, router_id: str) -> StoredRouter | None: ...
    def create(self, name: str, body: Mapping[str, Any]) -> StoredRouter: ...
    def update(self, router_id: str, name: str, body: Mapping[str, Any]) -> StoredRouter | None: ...
    def delete(self, router_id: str) -> StoredRouter | None: ...
    def version(self) -> int | None: ...
    def close(self) -> None: ...


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Connection:
    """One SQLite connection and the lock that serialises its use across threads."""

    def __init__(self, path: str, busy_timeout_ms: int) -> None:
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.lock = threading.Lock()
        self.db.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")

    def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        with self.lock:
            try:
                return work(self.db)
            except sqlite3.IntegrityError:
                raise
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        with self.lock:
            self.db.close()


class SQLiteRouterStore:
    """``path=":memory:"`` keeps routers for the life of the process only."""

    def __init__(
        self, path: str | Path = ":memory:", *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS
    ) -> None:
        self._memory = str(path) == ":memory:"
        if not self._memory:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._write = _Connection(str(path), busy_timeout_ms)
        self._write.run(lambda db: db.execute("PRAGMA journal_mode=WAL"))
        self._write.run(lambda db: db.execute(_SCHEMA))
        # A second in-memory connection would be another database: one connection serves all.
        self._read = self._write if self._memory else _Connection(str(path), busy_timeout_ms)
        self._watch = None if self._memory else _Connection(str(path), 0)

    def close(self) -> None:
        for connection in {id(c): c for c in (self._write, self._read, self._watch) if c}.values():
            connection.close()

    def version(self) -> int | None:
        """SQLite's ``data_version`` as the watch connection sees it (it moves when any other
        connection commits, this store's own writes included); ``None`` when it cannot be read
        without waiting. In memory there is no other process: always 0."""
        watch = self._watch
        if watch is None:
            return 0
        if not watch.lock.acquire(blocking=False):
            return None
        try:
            return int(watch.db.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.Error:
            return None
        finally:
            watch.lock.release()

    def _rows(self, sql: str, *args: Any) -> list[StoredRouter]:
        rows = self._read.run(lambda db: db.execute(sql, args).fetchall())
        return [StoredRouter(r[0], r[1], json.loads(r[2]), r[3], r[4]) for r in rows]

    def list(self) -> list[StoredRouter]:
        return self._rows(f"SELECT {_COLUMNS} FROM model_routers ORDER BY created_at, name")

    def get(self, router_id: str) -> StoredRouter | None:
        rows = self._rows(f"SELECT {_COLUMNS} FROM model_routers WHERE uuid = ?", router_id)
        return rows[0] if rows else None

    def create(self, name: str, body: Mapping[str, Any]) -> StoredRouter:
        stamp = now()
        record = StoredRouter(str(uuid.uuid4()), name, dict(body), stamp, stamp)
        values = (record.uuid, name, json.dumps(record.body), stamp, stamp)
        try:
            self._write.run(lambda db: db.execute("INSERT INTO model_routers VALUES (?, ?, ?, ?, ?)", values))
        except sqlite3.IntegrityError:
            raise DuplicateName(name) from None
        return record

    def update(self, router_id: str, name: str, body: Mapping[str, Any]) -> StoredRouter | None:
        values = (name, json.dumps(dict(body)), now(), router_id)
        try:
            cursor = self._write.run(
                lambda db: db.execute(
                    "UPDATE model_routers SET name = ?, body = ?, updated_at = ? WHERE uuid = ?", values
                )
            )
        except sqlite3.IntegrityError:
            raise DuplicateName(name) from None
        return self.get(router_id) if cursor.rowcount else None

    def delete(self, router_id: str) -> StoredRouter | None:
        record = self.get(router_id)
        if record is not None:
            self._write.run(lambda db: db.execute("DELETE FROM model_routers WHERE uuid = ?", (router_id,)))
        return record
