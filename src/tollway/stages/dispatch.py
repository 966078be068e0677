"""Call the candidates in order, failing over on retryable errors; relay streams."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import anyio

from ..catalog import ModelSpec
from ..decision import Attempt, Decision
from ..errors import AllCandidatesFailed, UpstreamError
from ..parts import Parts
from ..pipeline import Call, ChatRequest, Next, Reply
from ..result import message_content
from ..streams import aclose
from .relay import relay
from .settle import settle, settle_unreported
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
            # Set while a request is out: a call cancelled now may still be billed upstream.
            call.decision.in_flight = slug
            try:
                if call.request.stream:
                    return await self._open_stream(call, model, body, started)
                return await self._complete(call, model, body, started)
            except UpstreamError as exc:
                call.decision.in_flight = None
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
        self._succeeded(call.decision, model, elapsed, None)
        data["model"] = model.slug
        if data.get("usage"):
            settle(call.decision, model, data["usage"], self.stats)
        else:
            settle_unreported(call, model, message_content(data) or "", self.stats)
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
            await _close(events)
            raise UpstreamError(
                f"model {model.slug!r}: the stream ended before any event",
                model=model.slug,
                retryable=True,
            ) from None
        except UpstreamError:
            await _close(events)
            raise
        ttft = _ms(started)
        self._succeeded(call.decision, model, ttft, ttft)
        return Reply(decision=call.decision, stream=relay(call, model, first, events, started, self.stats))

    def _succeeded(self, decision: Decision, model: ModelSpec, latency: float, ttft: float | None) -> None:
        # Only streams measure time to first token; a whole answer's latency would rank models
        # by answer length under ``fastest``.
        self.health.success(model.slug, ttft)
        decision.in_flight = None
        decision.model = model.slug
        decision.attempts.append(Attempt(model.slug, True, latency, ttft_ms=ttft))

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


def timed_out(model: str, seconds: float) -> UpstreamError:
    return UpstreamError(
        f"model {model!r}: no answer within {seconds:g} s",
        model=model,
        retryable=True,
        status=504,
        code="upstream_timeout",
    )


async def _close(events: AsyncIterator[dict[str, Any]] | None) -> None:
    with anyio.CancelScope(shield=True):
        await aclose(events)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
