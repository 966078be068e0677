"""``tollway eval``: how well a classifier routes a labelled set of requests.

Rows are ``{"messages": [...], "route": "<task>|fallback"}``. The report has accuracy, per-route
precision / recall / F1, the confusion matrix, match rate and fallback rate (as the managed
router's dashboard defines them: the share of requests matched to a named task, and the share
sent to the fallback) and the decision latency p50 / p99.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .classify.base import Classifier, Match
from .classify.cascade import DEFAULT_MIN_MARGIN
from .config import FALLBACK, RouterConfig


def right_answers(matches: Iterable[Match], rows: Iterable[Mapping[str, Any]]) -> int:
    """How many ``matches`` name each row's labelled route (no task: the fallback)."""
    return sum((m.task or FALLBACK) == r["route"] for m, r in zip(matches, rows, strict=True))


def load_rows(path: str | Path) -> list[dict[str, Any]]:
    """Read a JSONL file of labelled rows (blank lines skipped); errors name the line."""
    rows: list[dict[str, Any]] = []
    with Path(path).open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise ValueError(f"{path}:{n}: not valid JSON ({exc})") from None
            if not isinstance(row, dict) or not isinstance(row.get("messages"), list):
                raise ValueError(f"{path}:{n}: a row needs a 'messages' list")
            if not isinstance(row.get("route"), str):
                raise ValueError(f"{path}:{n}: a row needs a 'route' (a task name or 'fallback')")
            rows.append(row)
    return rows


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


CONFIDENT_MARGIN = DEFAULT_MIN_MARGIN
"""Decisions with at least this margin are reported apart: the ones a ``CascadeClassifier`` with
its default ``min_margin`` keeps from its primary."""


async def evaluate_async(
    router: RouterConfig, classifier: Classifier, rows: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    routes = [*router.task_names, FALLBACK]
    confusion: dict[str, dict[str, int]] = {a: dict.fromkeys(routes, 0) for a in routes}
    latencies: list[float] = []
    total = correct = matched = 0
    confident = confident_correct = 0
    unknown: set[str] = set()
    # warm-up: compile the router and load the model outside the timed decisions
    rows = list(rows)
    if rows:
        await classifier.classify(router, rows[0]["messages"])
    for row in rows:
        expected = row["route"]
        if expected not in confusion:
            unknown.add(expected)
            confusion[expected] = dict.fromkeys(routes, 0)
        start = time.perf_counter()
        match = await classifier.classify(router, row["messages"])
        latencies.append((time.perf_counter() - start) * 1000)
        got = match.task or FALLBACK
        confusion[expected][got] = confusion[expected].get(got, 0) + 1
        total += 1
        correct += got == expected
        matched += match.task is not None
        if match.margin >= CONFIDENT_MARGIN:
            confident += 1
            confident_correct += got == expected
    per_route: dict[str, dict[str, float | int]] = {}
    for route in confusion:
        tp = confusion[route].get(route, 0)
        support = sum(confusion[route].values())
        predicted = sum(confusion[a].get(route, 0) for a in confusion)
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_route[route] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": support,
            "predicted": predicted,
        }
    return {
        "router": router.name,
        "rows": total,
        "accuracy": round(correct / total, 4) if total else 0.0,
        "per_route": per_route,
        "confusion": confusion,
        "match_rate": round(matched / total, 4) if total else 0.0,
        "fallback_rate": round((total - matched) / total, 4) if total else 0.0,
        "latency_ms": {
            "p50": round(_percentile(latencies, 50), 3),
            "p99": round(_percentile(latencies, 99), 3),
            "mean": round(sum(latencies) / len(latencies), 3) if latencies else 0.0,
        },
        "confident": {
            "margin": CONFIDENT_MARGIN,
            "share": round(confident / total, 4) if total else 0.0,
            "accuracy": round(confident_correct / confident, 4) if confident else None,
        },
        "compiled": _compiled(classifier, router),
        "unknown_routes": sorted(unknown),
    }


def _compiled(classifier: Classifier, router: RouterConfig) -> str | None:
    """How the classifier (or a cascade's primary) compiled the router: for the embedded one,
    which library types each task claimed. None when it cannot say."""
    for candidate in (classifier, getattr(classifier, "primary", None)):
        explain = getattr(candidate, "explain_router", None)
        if callable(explain):
            return str(explain(router))
    return None


def evaluate(
    router: RouterConfig, classifier: Classifier, rows: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """Classify every row and score the decisions (runs its own event loop)."""
    return asyncio.run(evaluate_async(router, classifier, rows))


def format_report(result: Mapping[str, Any]) -> str:
    """A terminal report of an ``evaluate`` result."""
    lines = [
        f"router {result['router']}: {result['rows']} requests",
        f"accuracy       {result['accuracy']:.1%}",
        f"match rate     {result['match_rate']:.1%}   (requests matched to a named task)",
        f"fallback rate  {result['fallback_rate']:.1%}",
        f"latency        p50 {result['latency_ms']['p50']:.2f} ms   p99 {result['latency_ms']['p99']:.2f} ms",
    ]
    confident = result.get("confident")
    if confident:
        right = "n/a" if confident["accuracy"] is None else f"{confident['accuracy']:.1%}"
        lines.append(
            f"confident      {confident['share']:.1%} of requests have a margin >= "
            f"{confident['margin']:.2f}, {right} of them right "
            "(what a cascade with that min_margin keeps from its primary)"
        )
    lines.append("")
    routes = list(result["confusion"])
    width = max(len(r) for r in [*routes, "route"]) + 2
    lines.append(f"{'route':<{width}}{'precision':>10}{'recall':>8}{'f1':>7}{'support':>9}")
    for route in routes:
        m = result["per_route"][route]
        lines.append(
            f"{route:<{width}}{m['precision']:>10.3f}{m['recall']:>8.3f}{m['f1']:>7.3f}{m['support']:>9}"
        )
    lines += ["", "confusion (rows: expected, columns: got)"]
    cols = list(next(iter(result["confusion"].values())).keys()) if routes else []
    cw = max(len(c) for c in [*cols, "0000"]) + 2
    lines.append(" " * width + "".join(f"{c:>{cw}}" for c in cols))
    for route in routes:
        row = result["confusion"][route]
        lines.append(f"{route:<{width}}" + "".join(f"{row.get(c, 0):>{cw}}" for c in cols))
    if result.get("compiled"):
        lines += ["", "how the router compiled (library types claimed by each task):", result["compiled"]]
        if "(no library type" in result["compiled"]:
            lines.append(
                "tasks without a library type are matched by their description alone (its "
                "embedding, moved by the adapter, and its words); a CascadeClassifier with an "
                "LLM classifier behind the embedded one takes the low-margin decisions "
                "(docs/classifier.md)"
            )
    if result.get("unknown_routes"):
        lines += [
            "",
            f"routes in the data that the router does not have: {', '.join(result['unknown_routes'])}",
        ]
    return "\n".join(lines)


def eval_command(
    config_path: str,
    data_path: str,
    as_json: bool = False,
    router_name: str | None = None,
    classifier: Classifier | None = None,
) -> int:
    """``tollway eval``: print the report (or one JSON object); 0 on success, 2 on bad input."""
    import sys

    from .classify import default_classifier
    from .config import load_config
    from .errors import ConfigError

    try:
        config = load_config(config_path)
        rows = load_rows(data_path)
    except (ConfigError, OSError, ValueError) as exc:
        print(f"tollway eval: {exc}", file=sys.stderr)
        return 2
    if router_name is None:
        if len(config.routers) != 1:
            names = ", ".join(sorted(config.routers))
            print(f"tollway eval: the config has several routers ({names}); name one", file=sys.stderr)
            return 2
        router = next(iter(config.routers.values()))
    elif router_name in config.routers:
        router = config.routers[router_name]
    else:
        print(f"tollway eval: no router named {router_name!r}", file=sys.stderr)
        return 2
    result = evaluate(router, classifier or default_classifier(), rows)
    print(json.dumps(result) if as_json else format_report(result))
    return 0
