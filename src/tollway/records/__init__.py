"""The ledger of calls: one record per routed call, for reports and the dashboard."""

from __future__ import annotations

from ..errors import ConfigError
from .record import CallRecord, record_of
from .sqlite import SqliteRecords
from .store import MemoryRecords, RecordStore

__all__ = ["CallRecord", "MemoryRecords", "RecordStore", "SqliteRecords", "open_records", "record_of"]


def open_records(url: str = "memory://") -> RecordStore:
    """``memory://`` (the default) or ``sqlite:///path/to/calls.db``."""
    scheme, sep, rest = url.partition("://")
    if scheme == "memory" and sep:
        return MemoryRecords()
    if scheme == "sqlite" and rest:
        return SqliteRecords(rest)
    raise ConfigError(f"records store: expected memory:// or sqlite:///path.db, got {url!r}")
