"""Plain ASGI plumbing shared by the app and the middleware (the starlette ``types.py`` shape)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio

from ..streams import aclose
from .answer import Answer

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyTooLarge(Exception):
    """The body went over the limit; ``chunks`` holds what was read so it can be replayed."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks


class ClientGone(Exception):
    """The client disconnected before the body was read."""


def header_map(scope: Scope) -> dict[str, str]:
    """Request headers as a dict of lower-case names (ASGI servers lower-case them already)."""
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body; raises ``BodyTooLarge`` as soon as it passes ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        if chunk:
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(chunks)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def send_answer(answer: Answer, receive: Receive, send: Send) -> None:
    start = {"type": "http.response.start", "status": answer.status, "headers": answer.headers}
    if answer.stream is None:
        await send(start)
        await send({"type": "http.response.body", "body": answer.body})
        return
    try:
        # Inside the ``try``: a stream whose start could not be sent is closed all the same.
        await send(start)
        async with anyio.create_task_group() as tg:
            # Stop reading the upstream as soon as the client goes away (uvicorn drops writes
            # to a closed connection silently, so the relay would otherwise run to the end).
            tg.start_soon(_cancel_on_disconnect, receive, tg.cancel_scope)
            try:
                async for chunk in answer.stream:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
            finally:
                tg.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            await aclose(answer.stream)


async def _cancel_on_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()
