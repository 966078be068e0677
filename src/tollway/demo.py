"""``tollway demo``: the tutorial's three-path router against the simulated upstream."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from .catalog import Catalog
from .config import RouterConfig, load_config
from .cost import load_profiles
from .projection import format_table, project
from .result import Completion
from .router import Router

PROMPTS: list[tuple[str, list[dict[str, Any]], dict[str, Any]]] = [
    (
        "classify a ticket",
        [
            {
                "role": "user",
                "content": (
                    "Classify this support message as billing, bug, how-to or account. "
                    "Reply with one word.\n\n"
                    "Message: I was charged twice for my Pro subscription this month."
                ),
            }
        ],
        {},
    ),
    (
        "product question",
        [{"role": "user", "content": "How do I change the email address on my account?"}],
        {},
    ),
    (
        "multi-step reasoning",
        [
            {
                "role": "user",
                "content": (
                    "Our API gateway handles 1,200 requests per second at peak with a p99 of 180 ms. "
                    "If we add "
                    "a cache with an 80% hit rate and 5 ms hits, estimate the new p99 and the load on the "
                    "origin, step by step, and explain whether the origin can be scaled down by half."
                ),
            }
        ],
        {"max_completion_tokens": 1024},
    ),
    (
        "follow-up in a conversation",
        [
            {"role": "user", "content": "Can I switch from the monthly plan to the annual plan?"},
            {"role": "assistant", "content": "Yes. Go to Settings > Billing and choose Annual."},
            {"role": "user", "content": "And will I get a refund for the rest of this month?"},
        ],
        {},
    ),
    (
        "classify another ticket",
        [
            {
                "role": "user",
                "content": (
                    "Label this ticket with exactly one category (billing, bug, how-to, account): "
                    "'The export button crashes the app on Safari.'"
                ),
            }
        ],
        {},
    ),
    (
        "something else entirely",
        [{"role": "user", "content": "Write a short poem about autumn leaves for a greeting card."}],
        {},
    ),
]


def tutorial_config() -> dict[str, Any]:
    text = resources.files("tollway").joinpath("data/tutorial/router.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def tutorial_profile_path() -> str:
    return str(resources.files("tollway").joinpath("data/tutorial/profile.yaml"))


async def run_demo(print_: Any = print) -> list[Completion]:
    config = load_config(tutorial_config(), Catalog.default())
    results = []
    async with Router(config, simulate=True) as router:
        print_(f"router:{next(iter(config.routers))} on the simulated upstream (no keys, no network)\n")
        print_(f"{'request':<28} {'route':<12} {'model':<28} {'in':>5} {'out':>6} {'reason':>6}  cost")
        for label, messages, params in PROMPTS:
            completion = await router.chat(messages, **params)
            results.append(completion)
            print_(_line(label, completion))
            for note in completion.decision.notes:
                print_(f"{'':<29}note: {note}")
        print_("")
        print_(_projection(next(iter(config.routers.values())), config.catalog))
    return results


def _line(label: str, c: Completion) -> str:
    d, u = c.decision, c.usage
    cost = "-" if d.actual_cost is None else f"${d.actual_cost:.8f}"
    return (
        f"{label:<28} {d.route:<12} {c.model:<28} {u.prompt_tokens:>5} {u.completion_tokens:>6} "
        f"{u.reasoning_tokens:>6}  {cost}"
    )


def _projection(router: RouterConfig, catalog: Catalog) -> str:
    profile = load_profiles(tutorial_profile_path())
    mix = profile.mix
    rows, routed = project(router, catalog, mix, profile.routes, profile.compare)
    lines = ["Monthly projection (token profiles from the tutorial's live runs):", ""]
    lines.append(format_table(rows, list(mix)))
    lines.append("")
    for route, model in routed.items():
        p = profile.routes[route]
        lines.append(
            f"  {route}: {mix[route]:,}/month on {model.slug}, {p.input_tokens} in / "
            f"{p.output_tokens} out per request"
        )
    return "\n".join(lines)
