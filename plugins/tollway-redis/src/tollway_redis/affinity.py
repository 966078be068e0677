"""Session pins in Redis, so every replica sends a session to the same model.

Keys are ``<prefix><digest>`` strings holding a small JSON pin, with the idle TTL as the Redis
expiry (each pin write restarts it). The salt for the key digests lives in Redis too
(``<prefix>salt``, set once with ``SET NX``): replicas agree on keys without configuration.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis

from tollway.affinity.store import Pin, new_salt

KEY_PREFIX = "tollway:affinity:"


class RedisAffinityStore:
    def __init__(self, client: Redis, *, prefix: str = KEY_PREFIX) -> None:
        self._client = client
        self._prefix = prefix
        self._salt: bytes | None = None

    @classmethod
    def from_url(cls, url: str, *, max_connections: int = 64, **options: Any) -> RedisAffinityStore:
        """The ``tollway.affinity_stores`` entry point: ``redis://``, ``rediss://`` or ``unix://``."""
        pool = BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=30)
        return cls(Redis.from_pool(pool), **options)  # the client owns (and closes) the pool

    async def get(self, key: str) -> Pin | None:
        raw = await self._client.get(self._prefix + key)
        return None if raw is None else Pin.from_json(raw)

    async def put(self, key: str, pin: Pin, ttl: float) -> None:
        await self._client.set(self._prefix + key, pin.to_json(), px=max(1, int(ttl * 1000)))

    async def delete(self, key: str) -> None:
        await self._client.delete(self._prefix + key)

    async def salt(self) -> bytes:
        if self._salt is None:
            name = self._prefix + "salt"
            await self._client.set(name, new_salt().hex(), nx=True)
            raw = await self._client.get(name)
            if raw is None:  # pragma: no cover - deleted between the two commands
                raise RuntimeError(f"the affinity salt at {name!r} vanished; retry")
            self._salt = bytes.fromhex(raw.decode() if isinstance(raw, bytes) else str(raw))
        return self._salt

    async def aclose(self) -> None:
        await self._client.aclose()
