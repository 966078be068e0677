"""The simulator on a socket: a plain ASGI app, ``serve`` (uvicorn), and ``SimulatorServer``,
which runs it on a free loopback port in a background thread for tests and demos."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio
import anyio.to_thread

from ..loopback import LoopbackServer
from .faults import ConnectionCut
from .http import Reply, dispatch
from .provider import SimulatedProvider

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def simulator_app(provider: SimulatedProvider | None = None) -> ASGIApp:
    """A plain ASGI app serving ``provider`` (``POST .../chat/completions``, ``GET .../models``)."""
    sim = provider or SimulatedProvider()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
        elif scope["type"] == "http":
            await _http(sim, scope, receive, send)

    return app


async def _http(provider: SimulatedProvider, scope: Scope, receive: Receive, send: Send) -> None:
    body = await _read_body(receive)
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    cut = False
    async with anyio.create_task_group() as tg:
        # A client that gives up (a timeout) must end a hung call, or it would hang on forever.
        tg.start_soon(_cancel_on_disconnect, receive, tg.cancel_scope)
        try:
            reply = await dispatch(provider, scope["method"], scope["path"], headers, body)
            await _send_reply(reply, send)
        except ConnectionCut:
            cut = True
        tg.cancel_scope.cancel()
    if cut:
        # ASGI has no "abort": raising after the response started makes the server drop the
        # connection, which is exactly what the client should see.
        raise ConnectionCut()


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _cancel_on_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()


async def _send_reply(reply: Reply, send: Send) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers]
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    if reply.stream is None:
        await send({"type": "http.response.body", "body": reply.body})
        return
    try:
        async for piece in reply.stream:
            await send({"type": "http.response.body", "body": piece, "more_body": True})
    finally:
        await reply.stream.aclose()
    await send({"type": "http.response.body", "body": b""})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


class _QuietCuts(logging.Filter):
    """Drops uvicorn's traceback for a deliberate simulated cut; other errors still log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ConnectionCut))


_QUIET_CUTS = _QuietCuts()


def _uvicorn_server(provider: SimulatedProvider, **options: Any) -> Any:
    import uvicorn  # the `server` extra: only the socket fronts need it

    logging.getLogger("uvicorn.error").addFilter(_QUIET_CUTS)
    config = uvicorn.Config(simulator_app(provider), ws="none", **options)
    return uvicorn.Server(config)


def serve(provider: SimulatedProvider | None = None, host: str = "127.0.0.1", port: int = 8001) -> None:
    """Serve the simulator with uvicorn until interrupted (blocking)."""
    server = _uvicorn_server(provider or SimulatedProvider(), host=host, port=port, lifespan="off")
    server.run()


class SimulatorServer(LoopbackServer):
    """Runs the simulator on loopback in a background thread. Use it as a context manager,
    sync (``with``) or async (``async with``); either form yields the base URL
    (``http://127.0.0.1:PORT/v1``) and shuts the server down on exit."""

    def __init__(
        self,
        provider: SimulatedProvider | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        startup_timeout: float = 10.0,
    ) -> None:
        self.provider = provider or SimulatedProvider()
        logging.getLogger("uvicorn.error").addFilter(_QUIET_CUTS)
        super().__init__(
            simulator_app(self.provider),
            host=host,
            port=port,
            path="/v1",
            name="tollway-sim",
            startup_timeout=startup_timeout,
            lifespan="off",
            http="h11",
            loop="asyncio",
        )
