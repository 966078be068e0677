"""An httpx transport into the pipeline: the official OpenAI SDK, in process, with no socket.

    client = openai.AsyncOpenAI(
        base_url="http://tollway/v1", api_key="unused",
        http_client=httpx.AsyncClient(transport=router.transport()),
    )

Same bodies, status codes and headers as the server (``with_raw_response`` works), and streams
arrive chunk by chunk as the upstream produces them: httpx's ``ASGITransport`` would buffer the
whole body first, which defeats streaming. Async only: httpx's sync ``Client`` gets a
``TypeError`` that says so.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import anyio
import httpx

from .errors import NotFound
from .server.answer import Answer, error_answer, json_answer
from .server.auth import Credentials
from .server.chat import MAX_BODY_BYTES, ChatEndpoint, too_large
from .server.errors import MethodNotAllowed, clip
from .server.models import models_body
from .streams import aclose

if TYPE_CHECKING:
    from .router import Router

SYNC_MESSAGE = (
    "RouterTransport is async: use openai.AsyncOpenAI with httpx.AsyncClient, or the server "
    "(tollway serve) for the sync openai.OpenAI client"
)


class RouterTransport(httpx.AsyncBaseTransport):
    """Answers ``POST …/chat/completions`` and ``GET …/models`` under any base URL.

    ``tenant`` books every call to that tenant (the application decides who pays); without it
    the API key is checked against the config's ``tenants:`` like the server does, and with no
    tenants configured calls go to ``default``.
    """

    def __init__(
        self,
        router: Router,
        *,
        tenant: str | None = None,
        credentials: Credentials | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.router = router
        if credentials is None:
            credentials = Credentials(tenants=router.tenants)
        self.chat = ChatEndpoint(router, credentials, max_body_bytes=max_body_bytes, tenant=tenant)

    # httpx's sync ``Client`` calls these; without them it would fail with an AttributeError.
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise TypeError(SYNC_MESSAGE)

    def __enter__(self) -> RouterTransport:
        raise TypeError(SYNC_MESSAGE)

    def __exit__(self, *exc: object) -> None:
        return None

    def close(self) -> None:
        return None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        answer = await self._answer(request)
        headers = list(answer.headers)
        if answer.stream is not None:
            return httpx.Response(
                answer.status, headers=headers, stream=_Chunks(answer.stream), request=request
            )
        headers.append((b"content-length", str(len(answer.body)).encode()))
        return httpx.Response(answer.status, headers=headers, content=answer.body, request=request)

    async def _answer(self, request: httpx.Request) -> Answer:
        path = request.url.path.rstrip("/")
        if path.endswith("/chat/completions"):
            if request.method != "POST":
                method = clip(request.method, 20)
                return error_answer(MethodNotAllowed(f"{method} {path}: use POST", allow=("POST",)))
            body = await request.aread()
            if len(body) > self.chat.max_body_bytes:
                return error_answer(too_large(self.chat.max_body_bytes))
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.headers.raw}
            return await self.chat(headers, body)
        if path.endswith("/models") and request.method == "GET":
            return json_answer(200, models_body(self.router))
        return error_answer(
            NotFound(f"no route for {clip(request.method, 20)} {clip(path)}", code="unknown_url")
        )


class _Chunks(httpx.AsyncByteStream):
    """Hands each SSE event to httpx as soon as the pipeline yields it. ``aclose()`` closes the
    pipeline's stream even when the response was never read (its budget reservation is settled
    and its call recorded), and reading stops at once after it."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            while not self._closed:
                try:
                    chunk = await anext(self._chunks)
                except StopAsyncIteration:
                    return
                yield chunk
        finally:
            # An async generator's ``finally`` runs only if iteration began: ``aclose`` below
            # covers the unread case.
            await self.aclose()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True):
            await aclose(self._chunks)


def transport(
    router: Router,
    *,
    tenant: str | None = None,
    credentials: Credentials | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> RouterTransport:
    """What ``Router.transport()`` returns; options as for ``RouterTransport``."""
    return RouterTransport(router, tenant=tenant, credentials=credentials, max_body_bytes=max_body_bytes)
