"""Real processes for the multi-replica tests: a throwaway ``redis-server`` and several
``tollway serve`` processes on free loopback ports, always stopped (terminate, then kill).

    with RedisServer() as url, Replicas(config_path, 3, workdir) as base_urls:
        ...
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import httpx

STOP_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(proc: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM, then SIGKILL if the process has not exited within ``timeout`` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text("utf-8", "replace").splitlines()[-lines:])
    except OSError:
        return ""


class RedisServer:
    """A ``redis-server`` without persistence on a free loopback port; ``url`` is its db 0."""

    def __init__(self, workdir: Path, startup_timeout: float = 10.0) -> None:
        self.workdir = workdir
        self.startup_timeout = startup_timeout
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def binary() -> str | None:
        return shutil.which("redis-server")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> str:
        binary = self.binary()
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.port = free_port()
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        log = self.workdir / "redis.log"
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [*args, "--dir", str(self.workdir)], stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + self.startup_timeout
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return self.url
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not start on port {self.port}:\n{tail(log)}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self.proc = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class Replicas:
    """``count`` ``tollway serve --simulate`` processes sharing one config; ``base_urls`` are
    their ``http://127.0.0.1:PORT`` roots, each answering ``/readyz`` once started."""

    def __init__(
        self,
        config: Path,
        count: int,
        workdir: Path,
        *,
        extra_args: Sequence[str] = (),
        startup_timeout: float = 30.0,
    ) -> None:
        self.config = config
        self.count = count
        self.workdir = workdir
        self.extra_args = list(extra_args)
        self.startup_timeout = startup_timeout
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []
        self.base_urls: list[str] = []

    def start(self) -> list[str]:
        try:
            for i in range(self.count):
                port = free_port()
                log = self.workdir / f"replica-{i}.log"
                args = [
                    sys.executable, "-m", "tollway.cli", "serve",
                    "--config", str(self.config), "--simulate",
                    "--port", str(port), "--store", ":memory:",
                    *self.extra_args,
                ]  # fmt: skip
                with log.open("wb") as out:
                    proc = subprocess.Popen(args, cwd=self.workdir, stdout=out, stderr=subprocess.STDOUT)
                self.procs.append(proc)
                self.logs.append(log)
                self.base_urls.append(f"http://127.0.0.1:{port}")
            deadline = time.monotonic() + self.startup_timeout
            for i in range(self.count):
                self._wait_ready(i, deadline)
        except BaseException:
            self.stop()
            raise
        return self.base_urls

    def _wait_ready(self, i: int, deadline: float) -> None:
        url = self.base_urls[i] + "/readyz"
        while True:
            if self.procs[i].poll() is not None:
                raise RuntimeError(f"replica {i} exited with {self.procs[i].returncode}:\n{self.log(i)}")
            try:
                if httpx.get(url, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"replica {i} was not ready on {url}:\n{self.log(i)}")
            time.sleep(0.1)

    def log(self, i: int) -> str:
        return tail(self.logs[i])

    def logs_text(self) -> str:
        return "\n".join(f"--- replica {i} ---\n{self.log(i)}" for i in range(len(self.logs)))

    def stop(self) -> None:
        # Signal all first so that they shut down in parallel, then wait for each.
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            stop(proc)
        self.procs = []

    def __enter__(self) -> list[str]:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
