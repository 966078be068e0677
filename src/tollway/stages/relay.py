"""Relay an upstream stream to the client once its first event has arrived.

Chunks are renamed to the serving model. The chunk with ``finish_reason`` is held back until
usage arrives so that the cost can ride on it; clients that asked for usage get the usage chunk
itself, with the cost on it. Usage is read from whichever chunk carries it (some servers put it
on the last content chunk). When the stream ends without usage (the client left, the upstream
broke), the call is settled from what is known: see ``estimate.unreported_usage``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from ..catalog import ModelSpec
from ..errors import UpstreamError
from ..pipeline import Call
from ..stats import OutputStats
from ..streams import Watched, aclose
from .settle import cost_fields, settle, settle_unreported

Chunk = dict[str, Any]


def relay(
    call: Call,
    model: ModelSpec,
    first: Chunk,
    events: AsyncIterator[Chunk],
    started: float,
    stats: OutputStats,
) -> Watched[Chunk]:
    delivered: list[str] = []

    async def ended(error: BaseException | None, completed: bool) -> None:
        await aclose(events)
        call.decision.attempts[-1].latency_ms = (time.perf_counter() - started) * 1000
        if call.decision.usage is None:
            settle_unreported(call, model, "".join(delivered), stats)

    def seen(chunk: Chunk) -> None:
        for choice in chunk.get("choices") or ():
            delivered.append((choice.get("delta") or {}).get("content") or "")

    chunks = _chunks(call, model, first, events, stats)
    return Watched(chunks, on_chunk=seen, on_end=ended)


async def _chunks(
    call: Call, model: ModelSpec, first: Chunk, events: AsyncIterator[Chunk], stats: OutputStats
) -> AsyncIterator[Chunk]:
    wants_usage = _wants_usage(call)
    held: Chunk | None = None
    chunk: Chunk | None = first
    try:
        while chunk is not None:
            chunk["model"] = model.slug
            if chunk.get("usage"):
                settle(call.decision, model, chunk["usage"], stats)
            if chunk.get("choices"):
                if held is not None:
                    yield held
                    held = None
                if _finishes(chunk) and call.decision.usage is None:
                    held = chunk  # wait for the usage chunk, so that the cost can ride on this one
                else:
                    if call.decision.usage is not None:
                        chunk["tollway"] = cost_fields(call.decision)
                    yield chunk
            elif chunk.get("usage"):
                if held is not None:
                    held["tollway"] = cost_fields(call.decision)
                    if not wants_usage:
                        held["usage"] = chunk["usage"]
                    yield held
                    held = None
                if wants_usage:
                    chunk["tollway"] = cost_fields(call.decision)
                    yield chunk
            chunk = await anext(events, None)
        if held is not None:
            yield held
    except UpstreamError as exc:
        # Content already reached the client, so there is no failing over: say what happened.
        call.decision.attempts[-1].ok = False
        call.decision.attempts[-1].error = exc.message
        yield {
            "error": {"message": exc.message, "type": exc.type, "param": None, "code": "stream_interrupted"}
        }


def _finishes(chunk: Chunk) -> bool:
    return any(c.get("finish_reason") for c in chunk.get("choices") or [])


def _wants_usage(call: Call) -> bool:
    options = call.request.params.get("stream_options")
    return isinstance(options, dict) and bool(options.get("include_usage"))
