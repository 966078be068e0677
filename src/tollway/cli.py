"""The ``tollway`` command: demo, route, cost, models, eval, simulate, serve."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from .catalog import Catalog
from .config import load_config
from .cost import load_profiles, parse_mix, request_cost
from .decision import Usage
from .errors import ConfigError, RequestError
from .money import format_usd
from .projection import format_table, project
from .telemetry import configure_logging


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    # Events go to stderr, so that stdout stays the command's own output (tables, JSON).
    configure_logging(level=os.environ.get("TOLLWAY_LOG_LEVEL", "warning"))
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        code: int = args.run(args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
        return code
    except (ConfigError, RequestError) as exc:
        print(f"tollway: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `tollway eval ... | head`: the reader left; nothing to report
        _silence_stdout()
        return 1


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush does not fail again."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tollway", description="Route LLM requests by meaning; govern what they cost."
    )
    sub = parser.add_subparsers(metavar="COMMAND")

    p = sub.add_parser("demo", help="the tutorial's three-path router against the simulated upstream")
    p.set_defaults(run=_demo)

    p = sub.add_parser("route", help="explain one routing decision without calling any model")
    p.add_argument("--config", required=True)
    p.add_argument("--router", help="router name when the config holds several")
    p.add_argument("--max-tokens", type=int, help="max_completion_tokens of the imagined request")
    p.add_argument("prompt")
    p.set_defaults(run=_route)

    p = sub.add_parser("cost", help="per-request cost from tokens, or a monthly projection")
    p.add_argument("--model", help="price one request on this model")
    p.add_argument("--input", type=int, default=0, help="prompt tokens")
    p.add_argument("--output", type=int, default=0, help="completion tokens (reasoning included)")
    p.add_argument("--cached", type=int, default=0, help="prompt tokens read from the prompt cache")
    p.add_argument("--config", help="router config for a monthly projection")
    p.add_argument("--router", help="router name when the config holds several")
    p.add_argument("--profile", help="token profile file (routes, compare, mix)")
    p.add_argument("--mix", help="route=count,... per month (default: the profile's)")
    p.add_argument("--compare", help="models to compare against, comma-separated (default: the profile's)")
    p.set_defaults(run=_cost)

    p = sub.add_parser("models", help="list the model catalog and prices")
    p.add_argument("--config", help="include the config's model overrides")
    p.set_defaults(run=_models)

    p = sub.add_parser("report", help="spend, routing and estimate error from the ledger of calls")
    p.add_argument("--store", required=True, help="records store, e.g. sqlite:///tollway-calls.db")
    p.add_argument("--config", help="config whose catalog prices the counterfactuals")
    p.add_argument("--since", default="24h", help="window: 30m, 24h, 7d or 'all' (default 24h)")
    p.add_argument("--compare", help="models for the counterfactual, comma-separated")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_report)

    p = sub.add_parser("eval", help="measure routing accuracy on labelled prompts")
    p.add_argument("--config", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--router", help="router name when the config holds several")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_eval)

    from .serve import add_serve_parser

    add_serve_parser(sub)
    return parser


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    asyncio.run(run_demo())
    return 0


def _route(args: argparse.Namespace) -> int:
    from .router import Router

    async def explain() -> None:
        async with Router(load_config(args.config), simulate=True) as router:
            params: dict[str, Any] = {}
            if args.max_tokens:
                params["max_completion_tokens"] = args.max_tokens
            call = await router.explain(
                [{"role": "user", "content": args.prompt}], router=args.router, **params
            )
            print(format_decision(call.decision))

    asyncio.run(explain())
    return 0


def format_decision(decision: Any) -> str:
    lines = [f"route:      {decision.route}", f"policy:     {decision.policy}"]
    if decision.scores:
        scores = ", ".join(f"{t}={s:.3f}" for t, s in sorted(decision.scores.items(), key=lambda kv: -kv[1]))
        lines.append(f"scores:     {scores}")
    if decision.margin is not None:
        lines.append(f"margin:     {decision.margin:.3f}")
    if decision.reason:
        lines.append(f"why:        {decision.reason}")
    if decision.token_floor:
        lines.append(f"floor:      max_completion_tokens >= {decision.token_floor} on reasoning models")
    lines.append("candidates (in order, with estimated cost):")
    for i, model in enumerate(decision.candidates, 1):
        estimate = decision.estimates.get(model)
        lines.append(f"  {i}. {model:<32} {'-' if estimate is None else f'${estimate:.8f}'}")
    return "\n".join(lines)


def _cost(args: argparse.Namespace) -> int:
    if args.model:
        catalog = load_config(args.config).catalog if args.config else Catalog.default()
        cost = request_cost(catalog.get(args.model), Usage(args.input, args.output, args.cached))
        print(f"{args.model}: {args.input} in / {args.output} out = ${cost:.8f}")
        return 0
    if not (args.config and args.profile):
        raise ConfigError("give --model with --input/--output, or --config with --profile for a projection")
    config = load_config(args.config)
    router = next(iter(config.routers.values())) if args.router is None else config.router(args.router)
    profile = load_profiles(args.profile)
    mix = parse_mix(args.mix) if args.mix else profile.mix
    if not mix:
        raise ConfigError("give --mix route=count,... (or a `mix:` in the profile file)")
    compare = [m.strip() for m in args.compare.split(",") if m.strip()] if args.compare else profile.compare
    rows, routed = project(router, config.catalog, mix, profile.routes, compare)
    print(format_table(rows, list(mix)))
    print()
    for route, model in routed.items():
        per_request = request_cost(model, profile.routes[route].usage)
        print(f"  {route}: {model.slug}, ${per_request:.8f} per request, {mix[route]:,} per month")
    return 0


def _models(args: argparse.Namespace) -> int:
    catalog = load_config(args.config).catalog if args.config else Catalog.default()
    print(f"{'model':<34} {'input':>8} {'output':>8} {'cached':>8}  reasoning  context")
    for m in sorted(catalog, key=lambda m: m.slug):
        cached = "-" if m.cached_input is None else _price(m.cached_input)
        print(
            f"{m.slug:<34} {_price(m.input):>8} {_price(m.output):>8} {cached:>8}  "
            f"{'yes' if m.reasoning else 'no':<9}  {m.context_window:,}"
        )
    print("\nprices in USD per 1M tokens")
    return 0


def _price(value: Decimal) -> str:
    return format_usd(value, 2) if value == value.quantize(Decimal("0.01")) else f"${value.normalize()}"


def _report(args: argparse.Namespace) -> int:
    from .records import open_records
    from .report import format_summary, summarize

    catalog = load_config(args.config).catalog if args.config else Catalog.default()
    compare = [m.strip() for m in (args.compare or "").split(",") if m.strip()]

    async def read() -> Any:
        store = open_records(args.store)
        try:
            return await store.query(since=since_ts(args.since))
        finally:
            await store.aclose()

    summary = summarize(asyncio.run(read()), catalog, compare)
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 0


def since_ts(text: str) -> float:
    """``30m``/``24h``/``7d`` ago as UNIX seconds; ``all`` is the beginning of time."""
    import time

    from .report import window_seconds

    try:
        seconds = window_seconds(text)
    except ValueError as exc:
        raise ConfigError(f"--since: {exc}") from None
    return 0.0 if seconds is None else time.time() - seconds


def _eval(args: argparse.Namespace) -> int:
    from .evaluate import eval_command

    return eval_command(args.config, args.data, args.json, router_name=args.router)


if __name__ == "__main__":
    raise SystemExit(main())
