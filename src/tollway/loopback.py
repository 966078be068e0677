"""Run an ASGI app with uvicorn on a loopback port in a background thread: for tests, demos and
the simulator. A context manager, sync (``with``) or async (``async with``); both give the base
URL and shut the server down on exit.

    with LoopbackServer(app) as base_url:   # http://127.0.0.1:PORT
        ...
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

import anyio


class LoopbackServer:
    """``options`` go to ``uvicorn.Config`` (``lifespan``, ``http``, ``loop`` …); ``path`` is
    appended to the base URL (``/v1`` for an OpenAI-style API)."""

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str = "",
        name: str = "tollway-loopback",
        startup_timeout: float = 10.0,
        **options: Any,
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.path = path
        self.name = name
        self.startup_timeout = startup_timeout
        self.options: dict[str, Any] = {
            "log_config": None,
            "access_log": False,
            "ws": "none",
            "timeout_graceful_shutdown": 1,
        }
        self.options.update(options)
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._error: BaseException | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}{self.path}"

    def start(self) -> str:
        import uvicorn  # the `server` extra

        # Bind first, so that the port is known and taken before the thread starts.
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((self.host, self.port))
        self.port = self._socket.getsockname()[1]
        self._server = uvicorn.Server(uvicorn.Config(self.app, **self.options))
        self._thread = threading.Thread(target=self._run, name=f"{self.name}:{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} did not start on {self.base_url}") from self._error
            time.sleep(0.005)
        return self.base_url

    def _run(self) -> None:
        # Kept for start() to report, rather than raised in the thread where nobody would see it.
        try:
            self._server.run(sockets=[self._socket])
        except BaseException as exc:
            self._error = exc

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            if self._thread.is_alive():
                raise RuntimeError(f"the {self.name} thread did not stop")
            self._thread = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> str:
        return await anyio.to_thread.run_sync(self.start)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await anyio.to_thread.run_sync(self.stop)
