"""Spend, routing and estimate quality from the ledger of calls, for ``tollway report`` and the
dashboard."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from .catalog import Catalog
from .cost import request_cost
from .decision import Usage
from .money import ZERO, format_percent, format_usd, from_units
from .records import CallRecord

_WINDOW = re.compile(r"([1-9][0-9]{0,4})([mhd])")
_SECONDS = {"m": 60, "h": 3600, "d": 86400}


def window_seconds(since: str) -> float | None:
    """``30m``/``1h``/``24h``/``7d`` as seconds; ``all`` is None. Raises ValueError otherwise."""
    if since == "all":
        return None
    match = _WINDOW.fullmatch(since)
    if match is None:
        raise ValueError(f"expected e.g. 30m, 24h, 7d or all, got {since[:40]!r}")
    return int(match.group(1)) * _SECONDS[match.group(2)]


def summarize(
    records: Sequence[CallRecord],
    catalog: Catalog,
    compare: Iterable[str] = (),
    bucket_s: float = 3600.0,
) -> dict[str, Any]:
    """A JSON-ready summary. Money is given as decimal strings (exact)."""
    n = len(records)
    spend = from_units(sum(r.actual_units for r in records))
    models = list(compare) or sorted({r.model for r in records if r.model and r.model in catalog})
    return {
        "requests": n,
        "since": records[0].ts if records else None,
        "until": records[-1].ts if records else None,
        "match_rate": _rate(sum(1 for r in records if not r.fallback), n),
        "fallback_rate": _rate(sum(1 for r in records if r.fallback), n),
        "error_rate": _rate(sum(1 for r in records if r.status != "ok"), n),
        "spend_usd": str(spend),
        "by_tenant": _group(records, lambda r: r.tenant),
        "by_route": _group(records, lambda r: r.route),
        "by_model": _group(records, lambda r: r.model or "(none)"),
        "estimate_error": estimate_error(records),
        "cache": {
            "cached_tokens": sum(r.cached_tokens for r in records),
            "savings_usd": str(from_units(sum(r.cache_savings_units for r in records))),
        },
        "counterfactual": {m: str(on_model(records, catalog, m)) for m in models},
        "timeline": timeline(records, bucket_s),
    }


def _rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _group(records: Sequence[CallRecord], key: Any) -> dict[str, dict[str, Any]]:
    counts: dict[str, int] = defaultdict(int)
    units: dict[str, int] = defaultdict(int)
    for r in records:
        counts[key(r)] += 1
        units[key(r)] += r.actual_units
    ordered = sorted(counts, key=lambda k: (-units[k], k))
    return {k: {"requests": counts[k], "spend_usd": str(from_units(units[k]))} for k in ordered}


def estimate_error(records: Sequence[CallRecord]) -> dict[str, dict[str, Any]]:
    """Per ``route/model``: how the pre-call estimate compared with what was settled.

    ``mean_ratio`` is actual / estimate (the estimate is a bound, so below 1 is expected);
    ``over_estimate`` counts calls that cost more than their estimate (they should not)."""
    groups: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for r in records:
        if r.status == "ok" and r.model and r.estimated_units:
            groups[f"{r.route}/{r.model}"].append((r.estimated_units, r.actual_units))
    out = {}
    for key, pairs in sorted(groups.items()):
        ratios = [actual / estimate for estimate, actual in pairs]
        out[key] = {
            "calls": len(pairs),
            "mean_ratio": sum(ratios) / len(ratios),
            "over_estimate": sum(1 for estimate, actual in pairs if actual > estimate),
        }
    return out


def on_model(records: Sequence[CallRecord], catalog: Catalog, slug: str) -> Decimal:
    """What the served traffic would have cost on ``slug`` (same tokens, no prompt cache)."""
    model = catalog.get(slug)
    return sum(
        (
            request_cost(model, Usage(r.prompt_tokens, r.completion_tokens))
            for r in records
            if r.status == "ok"
        ),
        ZERO,
    )


def timeline(records: Sequence[CallRecord], bucket_s: float) -> list[dict[str, Any]]:
    buckets: dict[float, list[CallRecord]] = defaultdict(list)
    for r in records:
        buckets[r.ts - r.ts % bucket_s].append(r)
    return [
        {
            "t": start,
            "requests": len(rs),
            "matched": sum(1 for r in rs if not r.fallback),
            "fallback": sum(1 for r in rs if r.fallback),
            "spend_usd": str(from_units(sum(r.actual_units for r in rs))),
        }
        for start, rs in sorted(buckets.items())
    ]


def format_summary(summary: dict[str, Any]) -> str:
    if not summary["requests"]:
        return "no calls recorded in this window"
    spend = Decimal(summary["spend_usd"])
    lines = [
        f"requests {summary['requests']:,}   spend {format_usd(spend, 6)}   "
        f"match rate {format_percent(Decimal(summary['match_rate']))}   "
        f"fallback rate {format_percent(Decimal(summary['fallback_rate']))}   "
        f"errors {format_percent(Decimal(summary['error_rate']))}",
    ]
    for title in ("by_tenant", "by_route", "by_model"):
        lines += ["", f"{title.replace('_', ' ')}:"]
        for name, row in summary[title].items():
            lines.append(
                f"  {name:<34} {row['requests']:>8,}  {format_usd(Decimal(row['spend_usd']), 6):>14}"
            )
    if summary["estimate_error"]:
        lines += ["", "estimate vs settled (actual / estimate):"]
        for key, row in summary["estimate_error"].items():
            lines.append(
                f"  {key:<48} {row['calls']:>6,} calls  mean {row['mean_ratio']:.2f}  "
                f"over-estimate {row['over_estimate']}"
            )
    cache = summary["cache"]
    lines += [
        "",
        f"prompt cache: {cache['cached_tokens']:,} cached tokens saved "
        f"{format_usd(Decimal(cache['savings_usd']), 6)}",
    ]
    if summary["counterfactual"]:
        lines += ["", "the same traffic on one model:"]
        for model, cost in summary["counterfactual"].items():
            delta = Decimal(cost) - spend
            verdict = (
                f"routing saved {format_usd(delta, 6)}"
                if delta >= 0
                else f"costs {format_usd(-delta, 6)} less"
            )
            lines.append(f"  {model:<34} {format_usd(Decimal(cost), 6):>14}  ({verdict})")
    return "\n".join(lines)
