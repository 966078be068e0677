"""Pins in this process: a cachetools TLRU cache, each entry living for its own idle TTL."""

from __future__ import annotations

import time
from collections.abc import Callable

from cachetools import TLRUCache

from .store import Pin, new_salt


def _expires(key: str, value: tuple[Pin, float], now: float) -> float:
    return now + value[1]


class MemoryAffinityStore:
    """The default store. ``maxsize`` bounds memory: past it the least recently used pins go first.

    Pins are lost on restart and not shared between processes; use the Redis store for replicas.
    """

    def __init__(
        self,
        maxsize: int = 100_000,
        *,
        salt: bytes | None = None,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pins: TLRUCache[str, tuple[Pin, float]] = TLRUCache(maxsize, _expires, timer=timer)
        self._salt = salt or new_salt()

    def __len__(self) -> int:
        self._pins.expire()
        return len(self._pins)

    async def get(self, key: str) -> Pin | None:
        entry = self._pins.get(key)
        return None if entry is None else entry[0]

    async def put(self, key: str, pin: Pin, ttl: float) -> None:
        self._pins[key] = (pin, ttl)

    async def delete(self, key: str) -> None:
        self._pins.pop(key, None)

    async def salt(self) -> bytes:
        return self._salt
