"""One span, one set of metrics and one log event per routed call, streams included.

The span starts as ``chat router:<name>`` (the model is not known yet) and is renamed
``chat <model>`` once dispatch picked one. It is current while the inner stages run, so spans of
instrumented clients (httpx) nest under it. Each upstream attempt becomes a child span, rebuilt
from ``decision.attempts`` when the call ends.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import structlog
from opentelemetry import metrics, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from ..catalog import Catalog
from ..decision import Attempt
from ..errors import RequestError
from ..pipeline import Call, Next, Reply
from ..streams import Watched
from ..telemetry import (
    NAME,
    OPERATION,
    Fields,
    Instruments,
    decision_fields,
    metric_attributes,
    quiet_logger,
    request_fields,
)
from ..telemetry import version as tollway_version


class Telemetry:
    """Spans and metrics through the OTel API (``tracer_provider``/``meter_provider`` default to the
    global ones) and a ``tollway.call`` structlog event. Prompt text is logged only when
    ``log_prompts`` is set; headers and secrets never are."""

    def __init__(
        self,
        *,
        catalog: Catalog | None = None,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
        logger: Any = None,
        log_prompts: bool = False,
    ) -> None:
        self.catalog = catalog
        self.tracer = trace.get_tracer(NAME, tollway_version(), tracer_provider)
        self.meter_provider = meter_provider
        self.instruments = Instruments.create(meter_provider)
        self._logger = logger
        self.log_prompts = log_prompts

    @property
    def log(self) -> Any:
        """The given logger; else structlog's when the application configured structlog; else a
        logger on the standard library's ``tollway`` logger, silent unless logging is set up
        there (a library does not print on its own)."""
        if self._logger is not None:
            return self._logger
        if structlog.is_configured():
            return structlog.get_logger(NAME)
        return quiet_logger()

    async def __call__(self, call: Call, next: Next) -> Reply:
        started = time.perf_counter()
        span = self.tracer.start_span(f"{OPERATION} router:{call.router.name}", kind=SpanKind.CLIENT)
        try:
            if span.get_span_context().is_valid:
                with trace.use_span(span, record_exception=False, set_status_on_exception=False):
                    reply = await next(call)
            else:  # no SDK: there is no context worth making current
                reply = await next(call)
        except BaseException as exc:
            self._finish(call, span, started, _routing_s(started, call), exc)
            raise
        if not self._active(span):
            span.end()
            return reply
        routing_s = _routing_s(started, call)
        if reply.stream is None:
            seen = StreamSeen()
            if reply.body is not None:
                seen.add(reply.body)
            self._finish(call, span, started, routing_s, None, seen=seen)
        else:
            reply.stream = self._watch(call, span, started, routing_s, reply.stream)
        return reply

    def _active(self, span: Span) -> bool:
        """Whether anything would record this call: a span, metrics or the log event."""
        if span.is_recording() or self._metrics_on():
            return True
        log = self.log
        if log is quiet_logger():
            return logging.getLogger(NAME).isEnabledFor(logging.INFO)
        enabled = getattr(log, "is_enabled_for", None)
        return enabled is None or bool(enabled(logging.INFO))

    def _metrics_on(self) -> bool:
        # The API's own providers (no-op, or the proxy that stands in until an SDK is set) record
        # nothing; any other provider is an SDK.
        provider = self.meter_provider or metrics.get_meter_provider()
        return not type(provider).__module__.startswith("opentelemetry.metrics")

    def _watch(
        self, call: Call, span: Span, started: float, routing_s: float, stream: AsyncIterator[dict[str, Any]]
    ) -> Watched[dict[str, Any]]:
        seen = StreamSeen()

        async def ended(error: BaseException | None, completed: bool) -> None:
            # The inner stream is closed first, so dispatch has recorded the attempt's duration.
            self._finish(call, span, started, routing_s, error, seen=seen, completed=completed)

        return Watched(stream, on_chunk=seen.add, on_end=ended)

    def _finish(
        self,
        call: Call,
        span: Span,
        started: float,
        routing_s: float,
        error: BaseException | None,
        *,
        seen: StreamSeen | None = None,
        completed: bool = True,
    ) -> None:
        # Telemetry must never fail a request: a broken exporter or logger is swallowed here.
        try:
            fields = {**request_fields(call), **decision_fields(call, self.catalog)}
            if seen is not None:
                fields.update(seen.fields())
            error_type = _error_type(error) or (seen.error if seen is not None else None)
            if error_type:
                fields["error.type"] = error_type
            duration = time.perf_counter() - started
            self._record_span(call, span, fields, error, error_type, completed)
            self._record_metrics(call, fields, duration, routing_s)
            self._record_log(call, fields, duration, routing_s, completed)
        except Exception:  # pragma: no cover - defensive
            structlog.get_logger(NAME).exception("telemetry failed")

    def _record_span(
        self,
        call: Call,
        span: Span,
        fields: Fields,
        error: BaseException | None,
        error_type: str | None,
        completed: bool,
    ) -> None:
        if not span.is_recording():
            span.end()
            return
        if call.decision.model:
            span.update_name(f"{OPERATION} {call.decision.model}")
        span.set_attributes(fields)
        if not completed:
            span.set_attribute("tollway.stream.completed", False)
        if error is not None:
            span.record_exception(error)
        if error_type:
            span.set_status(Status(StatusCode.ERROR, str(error) if error else error_type))
        attempt_spans(self.tracer, span, call.decision.attempts, self.catalog)
        span.end()

    def _record_metrics(self, call: Call, fields: Fields, duration: float, routing_s: float) -> None:
        attrs = metric_attributes(fields)
        ins = self.instruments
        ins.requests.add(1, attrs)
        ins.duration.record(duration, attrs)
        ins.decision.record(routing_s, attrs)
        usage = call.decision.usage
        if usage is not None:
            ins.tokens.record(usage.prompt_tokens, {**attrs, "gen_ai.token.type": "input"})
            ins.tokens.record(usage.completion_tokens, {**attrs, "gen_ai.token.type": "output"})
        cost = fields.get("tollway.cost_usd")
        if isinstance(cost, float):
            ins.cost.add(cost, attrs)
        savings = fields.get("tollway.cache_savings_usd")
        if isinstance(savings, float) and savings:
            ins.savings.add(savings, attrs)

    def _record_log(
        self, call: Call, fields: Fields, duration: float, routing_s: float, completed: bool
    ) -> None:
        event: dict[str, Any] = dict(fields)
        event["duration_ms"] = round(duration * 1000, 3)
        event["decision_ms"] = round(routing_s * 1000, 3)
        event["tollway.attempt_models"] = [a.model for a in call.decision.attempts]
        if call.decision.actual_cost is not None:
            event["tollway.cost_usd"] = str(call.decision.actual_cost)  # exact in logs
        if call.decision.notes:
            event["tollway.notes"] = list(call.decision.notes)
        if not completed:
            event["tollway.stream.completed"] = False
        if self.log_prompts:
            event["gen_ai.input.messages"] = call.request.messages
        if "error.type" in fields:
            self.log.warning("tollway.call", **event)
        else:
            self.log.info("tollway.call", **event)


class StreamSeen:
    """What a stream's chunks said that the span wants: response id, finish reasons, errors."""

    def __init__(self) -> None:
        self.response_id: str | None = None
        self.finish_reasons: list[str] = []
        self.error: str | None = None

    def add(self, chunk: dict[str, Any]) -> None:
        if self.response_id is None and isinstance(chunk.get("id"), str):
            self.response_id = chunk["id"]
        for choice in chunk.get("choices") or ():
            reason = choice.get("finish_reason")
            if reason:
                self.finish_reasons.append(str(reason))
        if "error" in chunk:  # dispatch reports a stream cut mid-way in band
            self.error = str((chunk["error"] or {}).get("code") or "stream_error")

    def fields(self) -> Fields:
        fields: Fields = {}
        if self.response_id:
            fields["gen_ai.response.id"] = self.response_id
        if self.finish_reasons:
            fields["gen_ai.response.finish_reasons"] = self.finish_reasons
        return fields


def attempt_spans(
    tracer: trace.Tracer, parent: Span, attempts: list[Attempt], catalog: Catalog | None
) -> None:
    """A child span per upstream attempt. Attempts ran one after another and the last ended just
    now, so their start and end times are rebuilt backwards from their durations."""
    context = trace.set_span_in_context(parent)
    end = time.time_ns()
    for index in range(len(attempts) - 1, -1, -1):
        attempt = attempts[index]
        start = end - int(attempt.latency_ms * 1_000_000)
        child = tracer.start_span(
            f"{OPERATION} {attempt.model}",
            context,
            SpanKind.CLIENT,
            _attempt_fields(attempt, index, catalog),
            start_time=start,
        )
        if not attempt.ok:
            child.set_status(Status(StatusCode.ERROR, attempt.error or "failed"))
        child.end(end_time=end)
        end = start


def _attempt_fields(attempt: Attempt, index: int, catalog: Catalog | None) -> Fields:
    fields: Fields = {
        "gen_ai.operation.name": OPERATION,
        "gen_ai.request.model": attempt.model,
        "tollway.attempt": index,
    }
    if catalog is not None and attempt.model in catalog:
        fields["gen_ai.provider.name"] = catalog.get(attempt.model).provider
    if attempt.ttft_ms is not None:
        fields["gen_ai.response.time_to_first_chunk"] = attempt.ttft_ms / 1000
    if not attempt.ok:
        fields["error.type"] = str(attempt.status or "error")
    return fields


def _error_type(error: BaseException | None) -> str | None:
    if error is None:
        return None
    if isinstance(error, RequestError) and error.code:
        return error.code
    return type(error).__qualname__


def _routing_s(started: float, call: Call) -> float:
    """Time spent outside upstream calls so far: classifying, selecting, estimating, budgeting."""
    upstream = sum(a.latency_ms for a in call.decision.attempts) / 1000
    return max(0.0, time.perf_counter() - started - upstream)
