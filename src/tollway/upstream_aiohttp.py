"""OpenAI-compatible upstream client on aiohttp directly: the server's default (``--upstream-client
auto`` when aiohttp is installed, the ``server`` extra).

Same interface and error translation as ``tollway.upstream.HttpUpstream``, without httpx's request
and response models in between, which cost more CPU per call than the rest of the pipeline.
One ``aiohttp.ClientSession`` (a pooled connector) is opened on first use, inside the running
event loop, and closed by ``aclose``. The API key is read from the environment at each call.

    upstream = AiohttpUpstream(catalog)
    router = Router(config, upstream=upstream)   # the router closes it
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import aiohttp
from yarl import URL

from .catalog import Catalog, ModelSpec
from .errors import UpstreamError
from .upstream import (
    invalid_event_error,
    invalid_json_error,
    request_headers,
    status_error,
    timeout_error,
    unreachable_error,
)

try:
    import orjson

    _loads: Callable[[bytes], Any] = orjson.loads
    _dumps: Callable[[Any], bytes] = orjson.dumps
except ImportError:  # pragma: no cover - orjson ships with the server extra
    _loads = json.loads

    def _dumps(value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":")).encode()


class AiohttpUpstream:
    """Calls each model's upstream (``catalog.upstream(model.upstream)``) over one pooled session.

    ``timeout``: per-call limits (default: connect 5 s, 120 s between reads; the pipeline bounds
    whole calls itself). ``limit``: open connections in the pool (all hosts together).
    """

    def __init__(
        self,
        catalog: Catalog,
        *,
        timeout: aiohttp.ClientTimeout | None = None,
        limit: int = 1000,
        keepalive_timeout: float = 30.0,
        env: Mapping[str, str] = os.environ,
    ) -> None:
        self.catalog = catalog
        self._timeout = timeout or aiohttp.ClientTimeout(total=None, sock_connect=5.0, sock_read=120.0)
        self._limit = limit
        self._keepalive_timeout = keepalive_timeout
        self._env = env
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self._urls: dict[str, URL] = {}

    def _client(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None:
            if self._closed:
                raise RuntimeError("this AiohttpUpstream has been closed")
            connector = aiohttp.TCPConnector(
                limit=self._limit, keepalive_timeout=self._keepalive_timeout, ttl_dns_cache=300
            )
            # No cookie jar: calls of different tenants share the session, and a cookie one
            # upstream answer sets must never ride on another's call.
            session = self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._timeout,
                raise_for_status=False,
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return session

    async def aclose(self) -> None:
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def _target(self, model: ModelSpec) -> tuple[URL, dict[str, str]]:
        upstream = self.catalog.upstream(model.upstream)
        url = self._urls.get(upstream.base_url)
        if url is None:
            url = self._urls[upstream.base_url] = URL(upstream.base_url.rstrip("/") + "/chat/completions")
        return url, request_headers(model, upstream, self._env)

    async def _post(self, model: ModelSpec, body: dict[str, Any]) -> aiohttp.ClientResponse:
        """Send the request and read the status line and headers; a non-200 raises."""
        url, headers = self._target(model)
        try:
            response = await self._client().post(url, data=_dumps(body), headers=headers)
        except TimeoutError as exc:  # aiohttp's own timeouts subclass it
            raise timeout_error(model.slug) from exc
        except aiohttp.ClientError as exc:
            raise unreachable_error(model.slug, type(exc).__name__) from exc
        if response.status != 200:
            try:
                content = await _read(model.slug, response)
            finally:
                response.release()
            raise status_error(model.slug, response.status, content)
        return response

    async def complete(self, model: ModelSpec, body: dict[str, Any]) -> dict[str, Any]:
        """One non-streaming completion; raises ``UpstreamError``."""
        response = await self._post(model, body)
        try:
            content = await _read(model.slug, response)
        finally:
            response.release()
        try:
            data: dict[str, Any] = _loads(content)
        except ValueError as exc:
            raise invalid_json_error(model.slug) from exc
        return data

    async def open_stream(self, model: ModelSpec, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Start a stream; errors before the first byte of the body raise here, later ones
        (a cut connection, an invalid event) raise ``UpstreamError`` from the iterator."""
        response = await self._post(model, body)
        return _events(model.slug, response)


async def _read(model: str, response: aiohttp.ClientResponse) -> bytes:
    try:
        return await response.read()
    except TimeoutError as exc:
        raise timeout_error(model) from exc
    except aiohttp.ClientError as exc:
        raise unreachable_error(model, type(exc).__name__) from exc


async def _events(model: str, response: aiohttp.ClientResponse) -> AsyncIterator[dict[str, Any]]:
    """``data:`` lines as JSON objects, up to ``[DONE]`` (comments and other fields skipped)."""
    done = False
    buffer = b""
    content = response.content
    try:
        try:
            while not done:
                chunk = await content.readany()
                if not chunk:
                    break
                buffer = buffer + chunk if buffer else chunk
                start = 0
                while True:
                    end = buffer.find(b"\n", start)
                    if end < 0:
                        break
                    line = buffer[start:end]
                    start = end + 1
                    if not line.startswith(b"data:"):
                        continue
                    data = line[5:].strip()
                    if data == b"[DONE]":
                        done = True
                        break
                    try:
                        event = _loads(data)
                    except ValueError as exc:
                        raise invalid_event_error(model) from exc
                    if not isinstance(event, dict):
                        raise invalid_event_error(model)
                    yield event
                buffer = buffer[start:]
            if done and not content.at_eof():
                # What follows [DONE] (the chunked terminator) has usually arrived with it; take it
                # without waiting, so that the connection can go back to the pool.
                content.read_nowait()
        except TimeoutError as exc:
            raise timeout_error(model) from exc
        except aiohttp.ClientError as exc:
            raise unreachable_error(model, type(exc).__name__) from exc
    finally:
        if done and content.at_eof():
            response.release()  # the connection goes back to the pool
        else:
            response.close()  # abandoned or broken mid-body: the connection cannot be reused


__all__ = ["AiohttpUpstream", "UpstreamError"]
