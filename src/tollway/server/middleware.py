"""Mount tollway in an existing ASGI app (FastAPI, Starlette, anything ASGI).

``TollwayMiddleware(app, router=router)`` answers ``POST /v1/chat/completions`` whose ``model``
starts with ``router:`` and hands every other request, including lifespan and websocket scopes,
to ``app`` untouched. A chat request it does not answer reaches ``app`` with its body replayed
byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .asgi import (
    ASGIApp,
    BodyTooLarge,
    ClientGone,
    Message,
    Receive,
    Scope,
    Send,
    header_map,
    read_body,
    send_answer,
)
from .auth import Credentials
from .chat import MAX_BODY_BYTES, PREFIX, ChatEndpoint
from .codec import loads

if TYPE_CHECKING:
    from ..router import Router

TenantOf = Callable[[Scope], str]


class TollwayMiddleware:
    """Options: ``path`` (default ``/v1/chat/completions``); ``credentials`` (tenant API keys, as
    the server checks them; default: the config's ``tenants:``); or ``tenant``, a function of the
    ASGI scope naming the tenant when the host app has already authenticated the caller."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        router: Router,
        path: str = "/v1/chat/completions",
        credentials: Credentials | None = None,
        tenant: TenantOf | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.app = app
        self.path = path
        self.tenant = tenant
        self.max_body_bytes = max_body_bytes
        if credentials is None:
            credentials = Credentials(tenants=router.tenants)
        self.chat = ChatEndpoint(router, credentials, max_body_bytes=max_body_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        try:
            body = await read_body(receive, self.max_body_bytes)
        except BodyTooLarge as big:
            # Too big for a routed call, so not ours: the app gets it as it came.
            await self.app(scope, _replay(big.chunks, receive, more=True), send)
            return
        except ClientGone:
            return
        if not _addressed_to_router(body):
            await self.app(scope, _replay([body], receive, more=False), send)
            return
        tenant = self.tenant(scope) if self.tenant is not None else None
        answer = await self.chat(header_map(scope), body, tenant)
        await send_answer(answer, receive, send)


def _addressed_to_router(body: bytes) -> bool:
    # Cheap test first: a body without the prefix anywhere cannot name a router.
    if PREFIX.encode() not in body:
        return False
    try:
        data = loads(body)
    except ValueError:
        return False
    model = data.get("model") if isinstance(data, dict) else None
    return isinstance(model, str) and model.startswith(PREFIX)


def _replay(chunks: list[bytes], receive: Receive, *, more: bool) -> Receive:
    """A ``receive`` that first returns the chunks already read, then defers to the real one."""
    pending = list(chunks) or [b""]

    async def replay() -> Message:
        if pending:
            chunk = pending.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(pending) or more}
        return await receive()

    return replay
