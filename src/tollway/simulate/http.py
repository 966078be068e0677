"""The HTTP face of the simulator, shared by the in-process transport and the ASGI app.

``dispatch`` turns (method, path, headers, body) into a ``Reply``. A streamed reply's ``stream``
yields SSE frames and raises ``ConnectionCut`` where the connection should drop; each front
translates that into what a real dropped connection looks like to its clients.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._codec import dumps, loads
from .faults import ConnectionCut, SimulatedHTTPError
from .provider import SimulatedProvider

JSON = "application/json"


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    stream: AsyncGenerator[bytes, None] | None = field(default=None)


async def dispatch(
    provider: SimulatedProvider, method: str, path: str, headers: Mapping[str, str], body: bytes
) -> Reply:
    """Answer one request. ``headers`` keys are lower case."""
    path = path.rstrip("/")
    try:
        _authorize(provider, headers)
        if path.endswith("/chat/completions"):
            _allow(method, "POST", path)
            return await _chat(provider, _parse(body))
        if path.endswith("/models"):
            _allow(method, "GET", path)
            return _json(200, _model_list(provider))
        raise SimulatedHTTPError(404, f"Invalid URL ({method} {path})", code="unknown_url")
    except SimulatedHTTPError as exc:
        return _error(exc)


async def _chat(provider: SimulatedProvider, body: dict[str, Any]) -> Reply:
    if body.get("stream"):
        return await _open_stream(provider, body)
    try:
        response = await provider.complete(body)
    except ConnectionCut as cut:
        return Reply(200, _headers(JSON), stream=_cut_after(cut.partial))
    return _json(200, response)


async def _open_stream(provider: SimulatedProvider, body: dict[str, Any]) -> Reply:
    chunks = provider.stream(body)
    # Pull the first chunk before any header goes out: faults and validation errors must become
    # an HTTP status, as they do upstream, not a broken stream.
    try:
        first = await chunks.__anext__()
    except ConnectionCut:
        await chunks.aclose()
        return Reply(200, _headers("text/event-stream"), stream=_cut_after(b""))
    except BaseException:
        await chunks.aclose()
        raise
    return Reply(200, _headers("text/event-stream"), stream=_sse(first, chunks))


async def _sse(
    first: dict[str, Any], chunks: AsyncGenerator[dict[str, Any], None]
) -> AsyncGenerator[bytes, None]:
    async with contextlib.aclosing(chunks):
        yield _frame(first)
        async for chunk in chunks:
            yield _frame(chunk)
    yield b"data: [DONE]\n\n"


async def _cut_after(partial: bytes) -> AsyncGenerator[bytes, None]:
    if partial:
        yield partial
    raise ConnectionCut(partial)


def _frame(chunk: dict[str, Any]) -> bytes:
    return b"data: " + dumps(chunk) + b"\n\n"


def _parse(body: bytes) -> dict[str, Any]:
    try:
        data = loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        message = "We could not parse the JSON body of your request. The OpenAI API expects a JSON payload."
        raise SimulatedHTTPError(400, message)
    return data


def _authorize(provider: SimulatedProvider, headers: Mapping[str, str]) -> None:
    if provider.api_key is not None and headers.get("authorization") != f"Bearer {provider.api_key}":
        raise SimulatedHTTPError(401)


def _allow(method: str, allowed: str, path: str) -> None:
    if method.upper() != allowed:
        raise SimulatedHTTPError(405, f"Invalid method for URL ({method} {path})")


def _model_list(provider: SimulatedProvider) -> dict[str, Any]:
    data = [
        {"id": model, "object": "model", "created": provider.created, "owned_by": "tollway-sim"}
        for model in provider.model_ids()
    ]
    return {"object": "list", "data": data}


def _headers(content_type: str) -> list[tuple[str, str]]:
    return [("content-type", content_type), ("x-request-id", "req_simulated")]


def _json(status: int, data: Any) -> Reply:
    return Reply(status, _headers(JSON), dumps(data))


def _error(exc: SimulatedHTTPError) -> Reply:
    headers = _headers(JSON) + list(exc.headers.items())
    return Reply(exc.status, headers, dumps(exc.body))


__all__ = ["Reply", "dispatch"]
