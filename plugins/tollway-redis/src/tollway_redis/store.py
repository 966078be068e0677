"""The Redis ledger: the store-independent logic of :class:`tollway.budget.StoreLedger`, with
each primitive one Lua script, so reserve / settle / release are atomic on the server and the
cap invariant holds across every replica sharing the Redis.

Keys, all under the tenant's hash tag (one cluster slot per tenant):

* ``tollway:{tenant}:c:<window key>`` hash ``{s: settled, r: reserved}``, integer picodollars;
  calendar counters expire ``retention_s`` after their window ends, rolling buckets once they
  have left the window.
* ``tollway:{tenant}:res:<request id>`` the reservation record; kept ``record_retention_s``
  after it finishes so a repeated settle returns the first result.
* ``tollway:{tenant}:leases`` sorted set of live reservations by lease end, for reclaiming.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from importlib import resources
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis

from tollway.budget import Refusal, Reservation, Settlement, StoreLedger
from tollway.budget.windows import Check

DEFAULT_RETENTION_S = 40 * 86_400  # calendar counters outlive their window for reports
DEFAULT_RECORD_RETENTION_S = 86_400
KEY_PREFIX = "tollway"


def _script(name: str) -> str:
    lua = resources.files(__package__).joinpath("lua")
    return lua.joinpath("common.lua").read_text() + "\n" + lua.joinpath(f"{name}.lua").read_text()


def _ts(value: float) -> str:
    return repr(value)  # round-trips exactly, so a re-read reservation equals the original


class RedisLedger(StoreLedger):
    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = KEY_PREFIX,
        retention_s: int = DEFAULT_RETENTION_S,
        record_retention_s: int = DEFAULT_RECORD_RETENTION_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(clock=clock)
        self._client = client
        self._prefix = prefix
        self._retention_s = retention_s
        self._keep = record_retention_s
        self._scripts = {
            name: client.register_script(_script(name))
            for name in ("reserve", "settle", "release", "read")
        }

    def _keys(self, tenant: str) -> tuple[str, str]:
        prefix = f"{self._prefix}:{{{tenant}}}:"
        return prefix, prefix + "leases"

    async def _call(self, name: str, tenant: str, payload: dict[str, Any]) -> Any:
        prefix, leases = self._keys(tenant)
        return await self._scripts[name](keys=[leases], args=[prefix, json.dumps(payload)])

    def _ttl(self, chk: Check, lease_end: float) -> int:
        keep = 60 if isinstance(chk.window, int) else self._retention_s
        return int(max(chk.expire_at, lease_end)) + keep

    async def _reserve(
        self,
        tenant: str,
        checks: Sequence[Check],
        amount: int,
        request_id: str,
        now: float,
        expires_at: float,
    ) -> Reservation | Refusal:
        rkeys = list(dict.fromkeys(c.reserve_key for c in checks))
        skeys = list(dict.fromkeys(c.settle_key for c in checks))
        ttl: dict[str, int] = {}
        for c in checks:
            for key in (c.reserve_key, c.settle_key):
                ttl[key] = max(ttl.get(key, 0), self._ttl(c, expires_at))
        payload = {
            "rid": request_id,
            "tenant": tenant,
            "amount": str(amount),
            "now": _ts(now),
            "exp": _ts(expires_at),
            "keep": self._keep,
            "checks": [
                {"index": c.cap_index, "limit": str(c.limit_units), "r": c.reserve_key,
                 "s": list(c.sum_keys)}
                for c in checks
            ],
            "rkeys": rkeys,
            "skeys": skeys,
            "ttl": ttl,
        }
        out = await self._call("reserve", tenant, payload)
        if out[0] == "ok":
            return Reservation(
                request_id, tenant, amount, tuple(rkeys), tuple(skeys), now, expires_at
            )
        if out[0] == "existing":
            return Reservation(
                request_id,
                tenant,
                int(out[1]),
                tuple(json.loads(out[2]) or ()),
                tuple(json.loads(out[3]) or ()),
                float(out[4]),
                float(out[5]),
            )
        return Refusal(int(out[1]), int(out[2]), tuple(int(v) for v in out[3:]))

    async def _settle(self, reservation: Reservation, actual: int, now: float) -> Settlement:
        payload = {
            "rid": reservation.request_id,
            "tenant": reservation.tenant,
            "actual": str(actual),
            "now": _ts(now),
            "keep": self._keep,
            "ttl": self._retention_s,
            "res": {
                "amount": str(reservation.amount_units),
                "rkeys": list(reservation.windows),
                "skeys": list(reservation.settle_windows),
            },
        }
        state, amount, settled = await self._call("settle", reservation.tenant, payload)
        return Settlement(
            reservation.request_id,
            reservation.tenant,
            int(amount),
            int(settled),
            state == "settled_late",
        )

    async def _release(self, reservation: Reservation, now: float) -> None:
        payload = {"rid": reservation.request_id, "now": _ts(now), "keep": self._keep}
        await self._call("release", reservation.tenant, payload)

    async def _read(
        self, tenant: str, keys: Sequence[str], now: float
    ) -> dict[str, tuple[int, int]]:
        payload = {"now": _ts(now), "keep": self._keep, "keys": list(keys)}
        flat = await self._call("read", tenant, payload)
        return {
            key: (int(flat[2 * i]), int(flat[2 * i + 1])) for i, key in enumerate(keys)
        }

    async def aclose(self) -> None:
        await self._client.aclose()
        # A client given an explicit pool does not close it: do so, or sockets leak.
        await self._client.connection_pool.disconnect()


def from_url(url: str, *, max_connections: int = 64, **kwargs: Any) -> RedisLedger:
    """The ``tollway.stores`` entry point: ``redis://``, ``rediss://`` or ``unix://`` URLs.

    A blocking pool: a burst of more concurrent requests than connections waits for one
    instead of failing (redis-py's default pool raises ``Too many connections``).
    """
    pool = BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=30, decode_responses=True
    )
    return RedisLedger(Redis(connection_pool=pool), **kwargs)
