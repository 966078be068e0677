"""The standalone server as one plain ASGI app: data plane, control plane, health and metrics.

Routing is a dict lookup on (method, path); there is no framework between uvicorn and the
pipeline, which is what keeps the per-request overhead at a few dozen microseconds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import structlog

from ..errors import NotFound, RequestError
from .answer import Answer, error_answer, json_answer
from .asgi import BodyTooLarge, ClientGone, Receive, Scope, Send, header_map, read_body, send_answer
from .auth import Credentials
from .chat import MAX_BODY_BYTES, ChatEndpoint, too_large
from .codec import dumps
from .control import ControlPlane, is_control_path
from .dashboard import DATA_PATH, Dashboard
from .dashboard import PATHS as DASHBOARD_PATHS  # dashboard (see server/dashboard.py)
from .errors import MethodNotAllowed, clip
from .metrics import Metrics
from .models import models_body
from .openapi import openapi_document

if TYPE_CHECKING:
    from ..router import Router
    from ..stores.routers import RouterStore

log = structlog.get_logger("tollway.server")

CHAT_PATHS = frozenset({"/v1/chat/completions", "/chat/completions"})
Handler = Callable[[], Awaitable[Answer]]


class TollwayApp:
    """``TollwayApp(router, credentials=..., store=...)``; without a store there is no control plane.
    ``owns_router=True`` closes the router's upstream connections at lifespan shutdown."""

    def __init__(
        self,
        router: Router,
        *,
        credentials: Credentials | None = None,
        store: RouterStore | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
        owns_router: bool = False,
    ) -> None:
        self.router = router
        self.credentials = credentials or Credentials()
        self.metrics = Metrics()
        self.max_body_bytes = max_body_bytes
        self.chat = ChatEndpoint(
            router, self.credentials, max_body_bytes=max_body_bytes, metrics=self.metrics
        )
        self.store = store
        self.control = (
            ControlPlane(router, store, self.credentials, max_body_bytes=max_body_bytes)
            if store is not None
            else None
        )
        self.owns_router = owns_router
        self.dashboard = Dashboard(router, self.credentials)  # GET /dashboard, /dashboard/data.json
        openapi = dumps(openapi_document())

        async def health() -> Answer:
            return json_answer(200, {"status": "ok"})

        async def metrics() -> Answer:
            return Answer(
                200, [(b"content-type", b"text/plain; version=0.0.4")], self.metrics.render().encode()
            )

        async def openapi_json() -> Answer:
            return Answer(200, [(b"content-type", b"application/json")], openapi)

        self._get: dict[str, Handler] = {
            "/v1/models": self._models,
            "/healthz": health,
            "/readyz": self._ready,
            "/metrics": metrics,
            "/openapi.json": openapi_json,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        else:
            await send({"type": "websocket.close", "code": 1000})

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        try:
            answer = await self._route(method, path, scope, receive)
        except ClientGone:
            return
        await send_answer(answer, receive, send)

    async def _route(self, method: str, path: str, scope: Scope, receive: Receive) -> Answer:
        if path in CHAT_PATHS:
            if method != "POST":
                return error_answer(MethodNotAllowed(f"{clip(method, 20)} {path}: use POST", allow=("POST",)))
            body = await self._body(receive)
            if body is None:
                return error_answer(too_large(self.max_body_bytes))
            await self._refresh()
            return await self.chat(header_map(scope), body)
        if self.control is not None and is_control_path(path):
            body = await self._body(receive)
            return await self.control(method, path, header_map(scope), body)
        if path in DASHBOARD_PATHS:  # dashboard: GET /dashboard, /dashboard/data.json?since=…
            if path == DATA_PATH:
                await self._refresh()
            return await self.dashboard(method, path, scope)
        handler = self._get.get(path)
        if handler is not None:
            if method not in ("GET", "HEAD"):
                return error_answer(
                    MethodNotAllowed(f"{clip(method, 20)} {path}: use GET", allow=("GET", "HEAD"))
                )
            return await handler()
        return error_answer(NotFound(f"no route for {clip(method, 20)} {clip(path)}", code="unknown_url"))

    async def _models(self) -> Answer:
        await self._refresh()
        return json_answer(200, models_body(self.router))

    async def _refresh(self) -> None:
        """Routers other workers created or changed (never fails a request: see refresh_quietly)."""
        if self.control is not None:
            await self.control.refresh_quietly()

    async def _body(self, receive: Receive) -> bytes | None:
        try:
            return await read_body(receive, self.max_body_bytes)
        except BodyTooLarge:
            return None

    async def _ready(self) -> Answer:
        problems = []
        if self.control is not None:
            try:
                await self.control.refresh()
            except RequestError:
                problems.append("the router store is unreachable")
        if not self.router.config.routers:
            problems.append("no routers are configured")
        if problems:
            return json_answer(503, {"status": "unavailable", "problems": problems})
        return json_answer(200, {"status": "ready", "routers": sorted(self.router.config.routers)})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                # Ready means ready: the classifier's first decision on a router is its costliest.
                await self.router.warmup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def aclose(self) -> None:
        if self.owns_router:
            await self.router.aclose()
        if self.store is not None:
            self.store.close()
