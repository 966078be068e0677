"""The monthly projection: a traffic mix priced on the routed configuration and on single models."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from . import select
from .catalog import Catalog, ModelSpec
from .config import RouterConfig
from .cost import Profile, Row, monthly_rows, request_cost
from .money import format_percent, format_usd


def routed_model(router: RouterConfig, route: str, catalog: Catalog, profile: Profile) -> ModelSpec:
    """The model a request of ``profile`` on ``route`` goes to first, by the task's policy."""
    task = router.task(route)
    if task is None:
        if not router.fallback_models:
            raise KeyError(f"route {route!r} is not a task of router {router.name!r}")
        return catalog.get(router.fallback_models[0])
    policy = task.selection_policy
    models = list(task.models)
    if policy is None:
        order = select.ranked(models)
    elif policy.prefer == "fastest":
        order = select.fastest(models, lambda m: catalog.get(m).ttft_ms)
    else:

        def cost(m: str):  # type: ignore[no-untyped-def]
            return request_cost(catalog.get(m), profile.usage)

        if policy.prefer == "cheapest":
            order = select.cheapest(models, cost)
        else:
            order = select.optimal(
                models,
                select.PRESETS[policy.task_slug or ""],
                cost,
                quality=lambda m: catalog.get(m).quality,
                reasoning=lambda m: catalog.get(m).reasoning,
            )
    return catalog.get(order[0])


def project(
    router: RouterConfig,
    catalog: Catalog,
    mix: Mapping[str, int],
    profiles: Mapping[str, Profile],
    compare: Sequence[str],
) -> tuple[list[Row], dict[str, ModelSpec]]:
    routed = {
        route: routed_model(router, route, catalog, profiles[route]) for route in mix if route in profiles
    }
    return monthly_rows(routed, mix, profiles, catalog, compare), routed


def format_table(rows: Sequence[Row], routes: Sequence[str]) -> str:
    header = ["configuration", *routes, "total", "routing saves"]
    body = [
        [
            row.label,
            *(format_usd(row.per_route[r]) for r in routes),
            format_usd(row.total),
            "baseline" if row.saves is None else format_percent(row.saves),
        ]
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def fmt(line: list[str]) -> str:
        cells = [line[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(line[1:], widths[1:], strict=True)]
        return "  ".join(cells)

    return "\n".join([fmt(header), "  ".join("-" * w for w in widths), *(fmt(line) for line in body)])
