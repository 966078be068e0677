"""Write one call record when the call ends: after the reply, when a stream ends, or on error."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import anyio

from ..catalog import Catalog
from ..errors import RequestError
from ..pipeline import Call, Next, Reply
from ..records import RecordStore, record_of


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
        if reply.stream is None:
            await self._write(call, "ok", started)
        else:
            reply.stream = self._on_end(call, reply.stream, started)
        return reply

    async def _on_end(
        self, call: Call, stream: AsyncIterator[dict[str, Any]], started: float
    ) -> AsyncIterator[dict[str, Any]]:
        status = "ok"
        try:
            async for chunk in stream:
                if "error" in chunk:
                    status = str(chunk["error"].get("code") or "error")
                yield chunk
        finally:
            aclose = getattr(stream, "aclose", None)
            with anyio.CancelScope(shield=True):
                if aclose is not None:
                    await aclose()
                await self._write(call, status, started)

    async def _write(self, call: Call, status: str, started: float) -> None:
        record = record_of(call, self.catalog, status, (time.perf_counter() - started) * 1000)
        with anyio.CancelScope(shield=True):
            await self.store.add(record)
