"""Cost math: what a request cost, and what a traffic mix costs per month on each configuration."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from .catalog import Catalog, ModelSpec
from .decision import Usage
from .errors import ConfigError
from .money import ZERO


def request_cost(model: ModelSpec, usage: Usage) -> Decimal:
    """Exact cost of one call. Cached prompt tokens are billed at the cached price (once, not on
    top of the full price); reasoning tokens are already inside completion tokens."""
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    return model.input_cost(usage.prompt_tokens, cached) + model.output_cost(usage.completion_tokens)


@dataclass(frozen=True)
class Profile:
    """Typical tokens of one route's request."""

    input_tokens: int
    output_tokens: int
    cached_tokens: int = 0

    @property
    def usage(self) -> Usage:
        return Usage(self.input_tokens, self.output_tokens, self.cached_tokens)


@dataclass(frozen=True)
class Row:
    label: str
    per_route: dict[str, Decimal]
    total: Decimal
    saves: Decimal | None = None  # the share the routed configuration saves against this row


@dataclass(frozen=True)
class ProfileFile:
    """A profile file: ``routes: {task: {input_tokens, output_tokens}}``, and optionally the
    models to ``compare`` against and a default traffic ``mix``."""

    routes: dict[str, Profile]
    compare: list[str]
    mix: dict[str, int]


def load_profiles(path: str | Path) -> ProfileFile:
    data: Any = yaml.safe_load(Path(path).read_text("utf-8"))
    if not isinstance(data, Mapping) or not isinstance(data.get("routes"), Mapping):
        raise ConfigError(f"{path}: a profile file needs a `routes:` mapping of task -> tokens")
    routes = {}
    for route, fields in data["routes"].items():
        try:
            routes[route] = Profile(**fields)
        except TypeError as exc:
            raise ConfigError(f"{path}: routes.{route}: {exc}") from None
    return ProfileFile(routes, list(data.get("compare") or []), parse_mix(str(data.get("mix") or "")))


def monthly_rows(
    routed: Mapping[str, ModelSpec],
    mix: Mapping[str, int],
    profiles: Mapping[str, Profile],
    catalog: Catalog,
    compare: Sequence[str],
) -> list[Row]:
    """The routed row (each route on its routed model) and one row per comparison model."""
    missing = [route for route in mix if route not in profiles]
    if missing:
        raise ConfigError(f"no token profile for route(s) {', '.join(missing)}")
    routed_row = _row("routed", {r: routed[r] for r in mix}, mix, profiles)
    rows = [routed_row]
    for slug in compare:
        model = catalog.get(slug)
        row = _row(f"all {slug}", dict.fromkeys(mix, model), mix, profiles)
        saves = (row.total - routed_row.total) / row.total if row.total else None
        rows.append(Row(row.label, row.per_route, row.total, saves))
    return rows


def _row(
    label: str, models: Mapping[str, ModelSpec], mix: Mapping[str, int], profiles: Mapping[str, Profile]
) -> Row:
    per_route = {
        route: request_cost(models[route], profiles[route].usage) * count for route, count in mix.items()
    }
    return Row(label, per_route, sum(per_route.values(), ZERO))


def parse_mix(text: str) -> dict[str, int]:
    """``classify=700000,customer-qa=250000`` -> {"classify": 700000, ...}"""
    mix: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        route, sep, count = part.partition("=")
        if not sep or not count.strip().replace("_", "").isdigit():
            raise ConfigError(f"--mix: expected route=count, got {part!r}")
        mix[route.strip()] = int(count.strip().replace("_", ""))
    return mix
