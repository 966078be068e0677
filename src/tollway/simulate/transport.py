"""``SimulatedTransport``: the simulator as an httpx transport, with no socket.

It streams SSE chunk by chunk and honours the request's read timeout, so a client sees hangs,
slow tokens and dropped connections the way it would over a network.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator

import anyio
import httpx

from .faults import ConnectionCut
from .http import Reply, dispatch
from .provider import SimulatedProvider


class SimulatedTransport(httpx.AsyncBaseTransport):
    """Answers ``POST .../chat/completions`` and ``GET .../models`` from a ``SimulatedProvider``."""

    def __init__(self, provider: SimulatedProvider | None = None) -> None:
        self.provider = provider or SimulatedProvider()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        headers = {k.lower(): v for k, v in request.headers.items()}
        timeout = _read_timeout(request)
        try:
            with anyio.fail_after(timeout):
                reply = await dispatch(self.provider, request.method, request.url.path, headers, body)
        except TimeoutError:
            raise httpx.ReadTimeout("simulated upstream: read timed out", request=request) from None
        return _response(reply, request, timeout)


def _response(reply: Reply, request: httpx.Request, timeout: float | None) -> httpx.Response:
    if reply.stream is None:
        return httpx.Response(reply.status, headers=reply.headers, content=reply.body)
    stream = _ReplyStream(reply.stream, request, timeout)
    return httpx.Response(reply.status, headers=reply.headers, stream=stream)


def _read_timeout(request: httpx.Request) -> float | None:
    timeouts = request.extensions.get("timeout") or {}
    read = timeouts.get("read")
    return None if read is None else float(read)


class _ReplyStream(httpx.AsyncByteStream):
    """Hands the body over piece by piece, as the network would."""

    def __init__(
        self, source: AsyncGenerator[bytes, None], request: httpx.Request, timeout: float | None
    ) -> None:
        self._source = source
        self._request = request
        self._timeout = timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            try:
                with anyio.fail_after(self._timeout):
                    piece = await self._source.__anext__()
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise httpx.ReadTimeout("simulated upstream: read timed out", request=self._request) from None
            except ConnectionCut:
                # The same error httpcore raises when a peer closes mid-body.
                raise httpx.RemoteProtocolError(
                    "peer closed connection without sending complete message body",
                    request=self._request,
                ) from None
            yield piece

    async def aclose(self) -> None:
        await self._source.aclose()
