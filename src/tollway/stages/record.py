"""Write one call record when the call ends: after the reply, when a stream ends, or on error."""

from __future__ import annotations

import time
from typing import Any

import anyio

from ..catalog import Catalog
from ..errors import RequestError
from ..pipeline import Call, Next, Reply
from ..records import RecordStore, record_of
from ..streams import Watched


class Record:
    def __init__(self, catalog: Catalog, store: RecordStore) -> None:
        self.catalog = catalog
        self.store = store

    async def __call__(self, call: Call, next: Next) -> Reply:
        started = time.perf_counter()
        try:
            reply = await next(call)
        except RequestError as exc:
            await self._write(call, exc.code or "error", started)
            raise
        except BaseException:
            await self._write(call, "cancelled", started)
            raise
        if reply.stream is None:
            await self._write(call, "ok", started)
            return reply
        status = ["ok"]

        def seen(chunk: dict[str, Any]) -> None:
            if "error" in chunk:
                status[0] = str(chunk["error"].get("code") or "error")

        async def ended(error: BaseException | None, completed: bool) -> None:
            if error is not None:
                status[0] = getattr(error, "code", None) or "error"
            elif not completed and status[0] == "ok":
                status[0] = "client_closed"
            await self._write(call, status[0], started)

        reply.stream = Watched(reply.stream, on_chunk=seen, on_end=ended)
        return reply

    async def _write(self, call: Call, status: str, started: float) -> None:
        record = record_of(call, self.catalog, status, (time.perf_counter() - started) * 1000)
        with anyio.CancelScope(shield=True):
            await self.store.add(record)
