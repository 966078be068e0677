"""OpenTelemetry spans and metrics with the GenAI semantic conventions, and structlog setup.

Only the OpenTelemetry *API* is used: with no SDK installed or configured every tracer, span and
instrument is a no-op, and the ``telemetry`` stage checks ``span.is_recording()`` before building
anything a no-op would throw away. Configure the SDK (exporters, sampling, views) in the
application, or pass providers to the stage.

The field names below are shared by spans, metrics and the per-call log event.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import structlog
from opentelemetry import metrics
from opentelemetry.util.types import AttributeValue

from .affinity.cache import cache_savings
from .affinity.state import affinity_state

if TYPE_CHECKING:
    from .catalog import Catalog
    from .pipeline import Call

NAME = "tollway"
OPERATION = "chat"
Fields = dict[str, AttributeValue]
# Request parameters worth a span attribute (numbers and flags only: never prompt text).
REQUEST_PARAMS = {
    "max_completion_tokens": "gen_ai.request.max_tokens",
    "max_tokens": "gen_ai.request.max_tokens",
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "seed": "gen_ai.request.seed",
    "stream": "gen_ai.request.stream",
}


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version(NAME)
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"


@dataclass(frozen=True)
class Instruments:
    """The metrics. Rates are ratios of ``tollway.requests`` by attribute: match rate is the share
    with ``tollway.matched=true``, fallback rate the share with ``tollway.fallback=true``."""

    requests: metrics.Counter
    tokens: metrics.Histogram
    duration: metrics.Histogram
    decision: metrics.Histogram
    cost: metrics.Counter
    savings: metrics.Counter

    @classmethod
    def create(cls, provider: metrics.MeterProvider | None = None) -> Instruments:
        meter = metrics.get_meter(NAME, version(), provider)
        return cls(
            requests=meter.create_counter("tollway.requests", "{request}", "Routed calls"),
            tokens=meter.create_histogram(
                "gen_ai.client.token.usage", "{token}", "Tokens used, by gen_ai.token.type"
            ),
            duration=meter.create_histogram(
                "gen_ai.client.operation.duration", "s", "Duration of routed calls, streams included"
            ),
            decision=meter.create_histogram(
                "tollway.decision.duration", "s", "Time spent deciding, outside upstream calls"
            ),
            cost=meter.create_counter("tollway.cost", "USD", "Settled spend"),
            savings=meter.create_counter("tollway.cache.savings", "USD", "Saved by prompt-cache reads"),
        )


def request_fields(call: Call) -> Fields:
    """What is known before routing."""
    fields: Fields = {
        "gen_ai.operation.name": OPERATION,
        "gen_ai.request.model": f"router:{call.router.name}",
        "tollway.router": call.router.name,
        "tollway.request_id": call.request_id,
    }
    for param, name in REQUEST_PARAMS.items():
        value = call.request.params.get(param)
        if isinstance(value, (bool, int, float)) and name not in fields:
            fields[name] = value
    return fields


def decision_fields(call: Call, catalog: Catalog | None = None) -> Fields:
    """What the decision says once the call is over (usage and cost when they are known)."""
    decision = call.decision
    state = affinity_state(call)
    task = call.task()
    # Fallback: no task matched, or the task's pool failed and a fallback model served.
    fallback = task is None or (decision.model is not None and decision.model not in task.models)
    fields: Fields = {
        "tollway.tenant": call.tenant,
        "tollway.route": decision.route,
        "tollway.matched": decision.task is not None,
        "tollway.fallback": fallback,
        "tollway.reframed": decision.reframed_from is not None or decision.reframed_model_from is not None,
        "tollway.affinity": state.status if state is not None else "none",
        "tollway.pinned": decision.pinned,
        "tollway.attempts": len(decision.attempts),
    }
    _put(fields, "tollway.policy", decision.policy)
    _put(fields, "tollway.reframed_from", decision.reframed_from)
    _put(fields, "tollway.reframed_from_model", decision.reframed_model_from)
    _put(fields, "tollway.affinity.kind", state.kind if state is not None else None)
    _put(fields, "gen_ai.conversation.id", decision.session)
    _put(fields, "gen_ai.response.model", decision.model)
    _put(fields, "tollway.cost_estimate_usd", _usd(decision.estimated_cost))
    _put(fields, "tollway.cost_usd", _usd(decision.actual_cost))
    if decision.model and catalog is not None and decision.model in catalog:
        model = catalog.get(decision.model)
        fields["gen_ai.provider.name"] = model.provider
        if decision.usage is not None:
            fields["tollway.cache_savings_usd"] = float(cache_savings(model, decision.usage))
    if decision.usage is not None:
        fields["gen_ai.usage.input_tokens"] = decision.usage.prompt_tokens
        fields["gen_ai.usage.output_tokens"] = decision.usage.completion_tokens
        fields["gen_ai.usage.cache_read.input_tokens"] = decision.usage.cached_tokens
        fields["gen_ai.usage.reasoning.output_tokens"] = decision.usage.reasoning_tokens
    return fields


def metric_attributes(fields: Mapping[str, AttributeValue]) -> Fields:
    """The low-cardinality subset of ``fields`` that metrics carry (no ids, no costs)."""
    return {k: fields[k] for k in METRIC_KEYS if k in fields}


METRIC_KEYS = frozenset(
    {
        "gen_ai.operation.name",
        "gen_ai.request.model",
        "gen_ai.response.model",
        "gen_ai.provider.name",
        "tollway.router",
        "tollway.route",
        "tollway.tenant",
        "tollway.matched",
        "tollway.fallback",
        "tollway.reframed",
        "tollway.affinity",
        "error.type",
    }
)


def _put(fields: Fields, key: str, value: AttributeValue | None) -> None:
    if value is not None:
        fields[key] = value


def _usd(amount: Decimal | None) -> float | None:
    return None if amount is None else float(amount)


# -- logs ---------------------------------------------------------------------------------------

SECRET_KEYS = frozenset({"authorization", "api_key", "x-api-key", "password", "secret", "token"})


def redact(logger: Any, method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A structlog processor that masks values under secret-looking keys, at any depth of dicts."""
    for key, value in event.items():
        if key.lower() in SECRET_KEYS:
            event[key] = "[redacted]"
        elif isinstance(value, dict):
            redact(logger, method, value)
    return event


@functools.cache
def quiet_logger() -> Any:
    """structlog over the standard library's ``tollway`` logger: JSON lines, silent until the
    application configures ``logging`` (warnings still reach stderr through its last resort)."""
    return structlog.wrap_logger(
        logging.getLogger(NAME),
        processors=[structlog.processors.add_log_level, redact, structlog.processors.JSONRenderer()],
        wrapper_class=structlog.stdlib.BoundLogger,
    )


def configure_logging(*, json: bool | None = None, level: int | str = logging.INFO) -> None:
    """Set up structlog for tollway's events: JSON lines in production, readable in a terminal.

    ``json=None`` picks JSON unless stderr is a terminal. Call once at start-up, or configure
    structlog yourself (keep ``redact`` in your processors).
    """
    if json is None:
        json = not sys.stderr.isatty()
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    numeric = level if isinstance(level, int) else logging.getLevelNamesMapping()[level.upper()]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
