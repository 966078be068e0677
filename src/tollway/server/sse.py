"""Server-sent events for streamed completions: one ``data:`` event per chunk, then ``[DONE]``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from .codec import dumps

DONE = b"data: [DONE]\n\n"


def event(chunk: dict[str, Any]) -> bytes:
    return b"data: " + dumps(chunk) + b"\n\n"


async def encode(chunks: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    """Chunks as SSE bytes. An ``{"error": ...}`` chunk from a stream that broke after content was
    sent is relayed as a data event too (what OpenAI does), and the stream still ends with
    ``[DONE]`` so that clients stop reading."""
    try:
        async for chunk in chunks:
            yield event(chunk)
        yield DONE
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()
