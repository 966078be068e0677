"""Where call records go: a protocol, and the in-memory store (the default)."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Protocol

from .record import CallRecord


class RecordStore(Protocol):
    async def add(self, record: CallRecord) -> None: ...

    async def query(self, since: float = 0.0, until: float | None = None) -> Sequence[CallRecord]:
        """Records with ``since <= ts < until``, oldest first."""
        ...

    async def aclose(self) -> None: ...


class MemoryRecords:
    """The newest ``limit`` records of this process."""

    def __init__(self, limit: int = 100_000) -> None:
        self._records: deque[CallRecord] = deque(maxlen=limit)

    async def add(self, record: CallRecord) -> None:
        self._records.append(record)

    async def query(self, since: float = 0.0, until: float | None = None) -> Sequence[CallRecord]:
        return [r for r in self._records if r.ts >= since and (until is None or r.ts < until)]

    async def aclose(self) -> None:
        return None
