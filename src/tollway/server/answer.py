"""An HTTP answer that every edge can send: the ASGI app and middleware, and the httpx transport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import RequestError
from .codec import dumps
from .errors import control_body

Headers = list[tuple[bytes, bytes]]

JSON = (b"content-type", b"application/json")
EVENT_STREAM = (b"content-type", b"text/event-stream; charset=utf-8")


@dataclass
class Answer:
    """Status, headers and either a whole ``body`` or a ``stream`` of byte chunks."""

    status: int
    headers: Headers = field(default_factory=list)
    body: bytes = b""
    stream: AsyncIterator[bytes] | None = None


def encode_headers(headers: Iterable[tuple[str, str]]) -> Headers:
    return [(k.lower().encode("latin-1"), v.encode("latin-1", "replace")) for k, v in headers]


def json_answer(status: int, body: Any, headers: Iterable[tuple[str, str]] = ()) -> Answer:
    return Answer(status, [JSON, *encode_headers(headers)], dumps(body))


def error_answer(exc: RequestError, headers: Iterable[tuple[str, str]] = ()) -> Answer:
    """The OpenAI error body (data plane)."""
    return json_answer(exc.status, exc.to_body(), [*exc.headers.items(), *headers])


def control_error_answer(exc: RequestError, request_id: str) -> Answer:
    """The managed router's error body (control plane)."""
    return json_answer(exc.status, control_body(exc, request_id), exc.headers.items())
