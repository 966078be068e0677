"""Server-sent events for streamed completions: one ``data:`` event per chunk, then ``[DONE]``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ..streams import aclose
from .codec import dumps

DONE = b"data: [DONE]\n\n"


def event(chunk: dict[str, Any]) -> bytes:
    return b"data: " + dumps(chunk) + b"\n\n"


class encode:  # named like the function it replaced: ``sse.encode(chunks)``
    """Chunks as SSE bytes. An ``{"error": ...}`` chunk from a stream that broke after content was
    sent is relayed as a data event too (what OpenAI does), and the stream still ends with
    ``[DONE]`` so that clients stop reading.

    A class rather than an async generator: a generator closed before its first ``__anext__``
    never runs its ``finally``, so the chunk stream (and the budget reservation and call record
    behind it) would never be closed when a client hangs up before reading. ``aclose()`` always
    closes ``chunks``, once."""

    def __init__(self, chunks: AsyncIterator[dict[str, Any]]) -> None:
        self._chunks = chunks
        self._done = False  # [DONE] was sent
        self._closed = False

    def __aiter__(self) -> encode:
        return self

    async def __anext__(self) -> bytes:
        if self._done:
            await self.aclose()
            raise StopAsyncIteration
        try:
            chunk = await anext(self._chunks)
        except StopAsyncIteration:
            self._done = True
            await self.aclose()
            return DONE
        except BaseException:
            await self.aclose()
            raise
        return event(chunk)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._done = True
        await aclose(self._chunks)
