"""Routers created through the control plane, kept in SQLite so they survive a restart.

Operations are single-row statements on a local file, so they run inline (microseconds); the
control plane is not a hot path. ``changed()`` lets other processes sharing the file (uvicorn
workers) notice writes: SQLite's ``data_version`` moves when another connection commits.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

_SCHEMA = """
CREATE TABLE IF NOT EXISTS model_routers (
    uuid TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
)
"""


class DuplicateName(Exception):
    """Another router already has this name."""


@dataclass(frozen=True)
class StoredRouter:
    uuid: str
    name: str
    body: dict[str, Any]
    created_at: str
    updated_at: str


class RouterStore(Protocol):
    def list(self) -> list[StoredRouter]: ...
    def get(self, router_id: str) -> StoredRouter | None: ...
    def create(self, name: str, body: Mapping[str, Any]) -> StoredRouter: ...
    def update(self, router_id: str, name: str, body: Mapping[str, Any]) -> StoredRouter | None: ...
    def delete(self, router_id: str) -> StoredRouter | None: ...
    def changed(self) -> bool: ...
    def close(self) -> None: ...


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SQLiteRouterStore:
    """``path=":memory:"`` keeps routers for the life of the process only."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.execute(_SCHEMA)
        self._version = self._data_version()

    def close(self) -> None:
        self._db.close()

    def _data_version(self) -> int:
        with self._lock:
            return int(self._db.execute("PRAGMA data_version").fetchone()[0])

    def changed(self) -> bool:
        version = self._data_version()
        moved, self._version = version != self._version, version
        return moved

    def _rows(self, sql: str, *args: Any) -> list[StoredRouter]:
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [StoredRouter(r[0], r[1], json.loads(r[2]), r[3], r[4]) for r in rows]

    def list(self) -> list[StoredRouter]:
        return self._rows(
            "SELECT uuid, name, body, created_at, updated_at FROM model_routers ORDER BY created_at, name"
        )

    def get(self, router_id: str) -> StoredRouter | None:
        rows = self._rows(
            "SELECT uuid, name, body, created_at, updated_at FROM model_routers WHERE uuid = ?", router_id
        )
        return rows[0] if rows else None

    def create(self, name: str, body: Mapping[str, Any]) -> StoredRouter:
        stamp = now()
        record = StoredRouter(str(uuid.uuid4()), name, dict(body), stamp, stamp)
        try:
            with self._lock:
                self._db.execute(
                    "INSERT INTO model_routers VALUES (?, ?, ?, ?, ?)",
                    (record.uuid, name, json.dumps(record.body), stamp, stamp),
                )
        except sqlite3.IntegrityError:
            raise DuplicateName(name) from None
        return record

    def update(self, router_id: str, name: str, body: Mapping[str, Any]) -> StoredRouter | None:
        stamp = now()
        try:
            with self._lock:
                cursor = self._db.execute(
                    "UPDATE model_routers SET name = ?, body = ?, updated_at = ? WHERE uuid = ?",
                    (name, json.dumps(dict(body)), stamp, router_id),
                )
        except sqlite3.IntegrityError:
            raise DuplicateName(name) from None
        return self.get(router_id) if cursor.rowcount else None

    def delete(self, router_id: str) -> StoredRouter | None:
        record = self.get(router_id)
        if record is not None:
            with self._lock:
                self._db.execute("DELETE FROM model_routers WHERE uuid = ?", (router_id,))
        return record
