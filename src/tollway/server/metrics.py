"""Request counters for ``GET /metrics`` in the Prometheus text format.

Counters live in this process: with several workers each serves its own (scrape them per worker,
or use the OpenTelemetry metrics of the telemetry stage for a fleet view).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from ..decision import Decision

Labels = tuple[tuple[str, str], ...]


class Metrics:
    def __init__(self) -> None:
        self.requests: defaultdict[Labels, int] = defaultdict(int)
        self.seconds: defaultdict[Labels, float] = defaultdict(float)
        self.cost: defaultdict[Labels, Decimal] = defaultdict(Decimal)
        self.rejected: defaultdict[Labels, int] = defaultdict(int)

    def observe(self, decision: Decision | None, status: int, seconds: float) -> None:
        """One finished request (for a stream: when it ended). A request that failed after it was
        routed (a budget 429, an upstream 502) keeps its router, route and model labels (``model``
        is empty when no model was called); one refused before routing counts as rejected."""
        if decision is None or not (decision.model or decision.candidates):
            labels: Labels = (("status", str(status)),)
            if decision is not None:
                labels = (("router", decision.router), *labels)
            self.rejected[labels] += 1
            return
        route = (("router", decision.router), ("route", decision.route))
        model = decision.model or ""
        self.requests[(*route, ("model", model), ("status", str(status)))] += 1
        self.seconds[route] += seconds
        if decision.actual_cost is not None and decision.model:
            self.cost[(*route, ("model", model))] += decision.actual_cost

    def render(self) -> str:
        lines: list[str] = []
        _family(
            lines,
            "tollway_requests_total",
            "counter",
            "Routed chat completions by route, model and status.",
            self.requests,
        )
        counts: defaultdict[Labels, int] = defaultdict(int)
        for labels, n in self.requests.items():
            counts[labels[:2]] += n
        _family(lines, "tollway_request_seconds_sum", "counter", "Time spent in routed calls.", self.seconds)
        _family(lines, "tollway_request_seconds_count", "counter", "Routed calls timed.", counts)
        _family(lines, "tollway_cost_usd_total", "counter", "Settled spend in USD.", self.cost)
        _family(
            lines,
            "tollway_rejected_requests_total",
            "counter",
            "Requests answered with an error before they were routed.",
            self.rejected,
        )
        return "\n".join(lines) + "\n"


def _family(
    lines: list[str],
    name: str,
    kind: str,
    help_: str,
    values: dict[Labels, int] | dict[Labels, float] | dict[Labels, Decimal],
) -> None:
    lines.append(f"# HELP {name} {help_}")
    lines.append(f"# TYPE {name} {kind}")
    for labels, value in sorted(values.items()):
        rendered = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
        lines.append(f"{name}{{{rendered}}} {value}")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
