"""The affinity store seam: where session pins live, and what a pin holds.

A store keeps opaque keys (hex digests from ``keys``) and small pin records, never prompt text.
Pins expire after an idle TTL; writing a pin again restarts its clock.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass
from typing import Protocol


@dataclass(frozen=True)
class Pin:
    """A session's model. ``prompt_tokens`` is the last call's prompt size and ``at`` the wall-clock
    time it ended: together they say how much of the next prompt is likely cached upstream."""

    model: str
    task: str | None
    prompt_tokens: int = 0
    at: float = 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, data: str | bytes) -> Pin:
        raw = json.loads(data)
        return cls(
            model=str(raw["model"]),
            task=None if raw.get("task") is None else str(raw["task"]),
            prompt_tokens=int(raw.get("prompt_tokens") or 0),
            at=float(raw.get("at") or 0.0),
        )


class AffinityStore(Protocol):
    """Session pins by key. Implementations: ``MemoryAffinityStore`` (one process) and
    ``tollway_redis.affinity.RedisAffinityStore`` (shared by every replica)."""

    async def get(self, key: str) -> Pin | None:
        """The live pin under ``key``, or None when there is none or it expired."""
        ...

    async def put(self, key: str, pin: Pin, ttl: float) -> None:
        """Pin ``key`` for ``ttl`` seconds from now (replacing any pin it had)."""
        ...

    async def delete(self, key: str) -> None: ...

    async def salt(self) -> bytes:
        """The secret mixed into every key. Replicas sharing a store must share it, so a shared
        store keeps it; a process-local store makes one up."""
        ...


def new_salt() -> bytes:
    return secrets.token_bytes(32)
