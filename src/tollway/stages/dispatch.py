"""Call the candidates in order, failing over on retryable errors; relay streams."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import anyio

from ..catalog import ModelSpec
from ..cost import request_cost
from ..decision import Attempt, Decision, Usage
from ..errors import AllCandidatesFailed, UpstreamError
from ..parts import Parts
from ..pipeline import Call, ChatRequest, Next, Reply
from ..stats import OutputStats
from .token_floor import apply_floor


class Dispatch:
    """The terminal stage. ``timeout`` bounds a whole completion; ``first_chunk_timeout`` bounds
    the wait for a stream's first event (after which a stream can no longer fail over)."""

    def __init__(self, parts: Parts) -> None:
        self.catalog = parts.catalog
        self.upstream = parts.upstream
        self.health = parts.health
        self.stats = parts.stats
        self.timeout = parts.timeout
        self.first_chunk_timeout = parts.first_chunk_timeout

    async def __call__(self, call: Call, next: Next) -> Reply:
        last: UpstreamError | None = None
        for slug in call.decision.candidates:
            model = self.catalog.get(slug)
            body = upstream_body(call.request, model, call.decision.token_floor)
            _note_floor(call, model, body)
            started = time.perf_counter()
            try:
                if call.request.stream:
                    return await self._open_stream(call, model, body, started)
                return await self._complete(call, model, body, started)
            except UpstreamError as exc:
                self._failed(call.decision, slug, started, exc)
                if not exc.retryable:
                    raise
                last = exc
        tried = ", ".join(a.model for a in call.decision.attempts)
        raise AllCandidatesFailed(
            f"every candidate model failed ({tried}); last error: {last.message if last else 'none'}",
            model=call.decision.attempts[-1].model if call.decision.attempts else "",
            retryable=True,
            status=last.status if last and last.status == 504 else 502,
            code="all_candidates_failed",
        )

    async def _complete(self, call: Call, model: ModelSpec, body: dict[str, Any], started: float) -> Reply:
        try:
            with anyio.fail_after(self.timeout):
                data = await self.upstream.complete(model, body)
        except TimeoutError:
            raise timed_out(model.slug, self.timeout) from None
        elapsed = _ms(started)
        self._succeeded(call.decision, model, elapsed, elapsed)
        data["model"] = model.slug
        settle(call.decision, model, data.get("usage"), self.stats)
        return Reply(decision=call.decision, body=data)

    async def _open_stream(self, call: Call, model: ModelSpec, body: dict[str, Any], started: float) -> Reply:
        events: AsyncIterator[dict[str, Any]] | None = None
        try:
            with anyio.fail_after(self.first_chunk_timeout):
                events = await self.upstream.open_stream(model, body)
                first = await anext(events)
        except TimeoutError:
            await _close(events)
            raise timed_out(model.slug, self.first_chunk_timeout) from None
        except StopAsyncIteration:
            raise UpstreamError(
                f"model {model.slug!r}: the stream ended before any event",
                model=model.slug,
                retryable=True,
            ) from None
        except UpstreamError:
            await _close(events)
            raise
        self._succeeded(call.decision, model, _ms(started), None)
        relay = _relay(call, model, first, events, started, wants_usage(call.request), self.stats)
        return Reply(decision=call.decision, stream=relay)

    def _succeeded(self, decision: Decision, model: ModelSpec, ttft: float, latency: float | None) -> None:
        self.health.success(model.slug, ttft)
        decision.model = model.slug
        decision.attempts.append(Attempt(model.slug, True, latency or ttft, ttft_ms=ttft))

    def _failed(self, decision: Decision, slug: str, started: float, exc: UpstreamError) -> None:
        if exc.retryable:
            self.health.failure(slug)
        decision.attempts.append(
            Attempt(slug, False, _ms(started), error=exc.message, status=exc.upstream_status)
        )


def upstream_body(request: ChatRequest, model: ModelSpec, floor: int | None) -> dict[str, Any]:
    """The request as ``model``'s upstream wants it: its name, the floor, its max-tokens field."""
    params = apply_floor(request.params, floor) if model.reasoning else dict(request.params)
    legacy = params.pop("max_tokens", None)
    limit = params.pop("max_completion_tokens", None) or legacy
    if limit is not None:
        params[model.token_param] = limit
    if request.stream:
        # Ask for usage in streams: settlement needs it even when the client did not ask.
        options = params.get("stream_options")
        params["stream_options"] = {**(options if isinstance(options, dict) else {}), "include_usage": True}
    return {**params, "model": model.served_as, "messages": request.messages}


def _note_floor(call: Call, model: ModelSpec, body: dict[str, Any]) -> None:
    asked = call.request.max_tokens()
    sent = body.get(model.token_param)
    if asked is not None and sent != asked:
        call.decision.notes.append(
            f"max_completion_tokens {asked} raised to the reasoning floor {sent} for {model.slug}"
        )


def wants_usage(request: ChatRequest) -> bool:
    options = request.params.get("stream_options")
    return isinstance(options, dict) and bool(options.get("include_usage"))


def settle(decision: Decision, model: ModelSpec, usage: dict[str, Any] | None, stats: OutputStats) -> None:
    decision.usage = Usage.from_openai(usage)
    decision.actual_cost = request_cost(model, decision.usage)
    stats.observe(decision.route, model.slug, decision.usage.completion_tokens)


async def _relay(
    call: Call,
    model: ModelSpec,
    first: dict[str, Any],
    events: AsyncIterator[dict[str, Any]],
    started: float,
    client_wants_usage: bool,
    stats: OutputStats,
) -> AsyncIterator[dict[str, Any]]:
    """Relay chunks, naming the serving model. The chunk with ``finish_reason`` is held back until
    usage arrives so that the cost can ride on it (clients that asked for usage get the usage
    chunk itself, with the cost on it)."""
    held: dict[str, Any] | None = None
    chunk: dict[str, Any] | None = first
    try:
        while chunk is not None:
            chunk["model"] = model.slug
            if chunk.get("usage") and not chunk.get("choices"):
                settle(call.decision, model, chunk["usage"], stats)
                if client_wants_usage:
                    chunk["tollway"] = cost_fields(call.decision)
                    if held is not None:
                        yield held
                        held = None
                    yield chunk
                elif held is not None:
                    held["usage"] = chunk["usage"]
                    held["tollway"] = cost_fields(call.decision)
            elif _finishes(chunk):
                held = chunk
            else:
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
    finally:
        call.decision.attempts[-1].latency_ms = _ms(started)
        await _close(events)


def _finishes(chunk: dict[str, Any]) -> bool:
    return any(c.get("finish_reason") for c in chunk.get("choices") or [])


def cost_fields(decision: Decision) -> dict[str, Any]:
    return {
        "route": decision.route,
        "model": decision.model,
        "cost_usd": str(decision.actual_cost) if decision.actual_cost is not None else None,
        "estimated_cost_usd": str(decision.estimated_cost) if decision.estimated_cost is not None else None,
    }


def timed_out(model: str, seconds: float) -> UpstreamError:
    return UpstreamError(
        f"model {model!r}: no answer within {seconds:g} s",
        model=model,
        retryable=True,
        status=504,
        code="upstream_timeout",
    )


async def _close(events: AsyncIterator[dict[str, Any]] | None) -> None:
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        with anyio.CancelScope(shield=True):
            await aclose()


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
