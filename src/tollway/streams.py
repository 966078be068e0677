"""Streams that always clean up.

An async generator that is closed before its first ``__anext__`` never runs its ``finally``
block, so a stage that settles a budget or ends a span in a generator's ``finally`` leaks when a
client opens a stream and hangs up at once. ``Watched`` is a plain class instead: closing it
always closes its source and runs ``on_end`` exactly once, whether iteration began or not.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Generic, TypeVar

import anyio

T = TypeVar("T")

# on_end(error, completed): ``error`` is what the source raised (None when it ended or was
# closed); ``completed`` is True when it was read to the end.
OnEnd = Callable[[BaseException | None, bool], Awaitable[None]]


class Watched(Generic[T]):
    def __init__(
        self,
        source: AsyncIterator[T],
        *,
        on_chunk: Callable[[T], object] | None = None,
        on_end: OnEnd | None = None,
    ) -> None:
        self._source = source
        self._on_chunk = on_chunk
        self._on_end = on_end
        self._ended = False

    def __aiter__(self) -> Watched[T]:
        return self

    async def __anext__(self) -> T:
        if self._ended:
            raise StopAsyncIteration
        try:
            chunk = await anext(self._source)
        except StopAsyncIteration:
            await self._end(None, completed=True)
            raise
        except (GeneratorExit, anyio.get_cancelled_exc_class()):
            await self._end(None, completed=False)  # the consumer went away: not an error
            raise
        except BaseException as exc:
            await self._end(exc, completed=False)
            raise
        if self._on_chunk is not None:
            self._on_chunk(chunk)
        return chunk

    async def aclose(self) -> None:
        await self._end(None, completed=False)

    async def _end(self, error: BaseException | None, *, completed: bool) -> None:
        if self._ended:
            return
        self._ended = True
        # Cleanup that must finish even when the consumer is being cancelled: a budget settle,
        # a span, a connection back to the pool.
        with anyio.CancelScope(shield=True):
            try:
                await aclose(self._source)
            finally:
                if self._on_end is not None:
                    await self._on_end(error, completed)


async def aclose(stream: Any) -> None:
    """Close an async iterator if it can be closed."""
    close = getattr(stream, "aclose", None)
    if close is not None:
        await close()
