"""Run an ASGI app (the tollway server, or an app with the middleware) on a free loopback port in
a background thread: for tests and demos.

    with ServerThread(app) as base_url:   # http://127.0.0.1:PORT
        ...
"""

from __future__ import annotations

from typing import Literal

from ..loopback import LoopbackServer
from .asgi import ASGIApp


class ServerThread(LoopbackServer):
    def __init__(
        self, app: ASGIApp, *, lifespan: Literal["auto", "on", "off"] = "on", startup_timeout: float = 10.0
    ) -> None:
        super().__init__(app, name="tollway-server", lifespan=lifespan, startup_timeout=startup_timeout)
