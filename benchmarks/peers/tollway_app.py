"""uvicorn factory for the overhead bench: ``tollway serve``'s app with every upstream pointed at
the fake upstream ($UPSTREAM_BASE) and the tutorial's router served as ``router:bench``.

TOLLWAY_UPSTREAM_CLIENT: ``auto`` (the native aiohttp client), ``aiohttp``, ``httpx-aiohttp`` or
``httpx``, as ``tollway serve --upstream-client``.
TOLLWAY_BENCH_CLASSIFIER: ``default`` (the shipped semantic classifier, when installed) or
``rules`` (a regular expression per task: isolates the doors' own overhead). Default: ``default``
if importable, else ``rules``.
"""

from __future__ import annotations

import json
import os
import tempfile
from importlib import resources
from typing import Any

from tollway.classify.base import Classifier
from tollway.classify.rules import RulesClassifier
from tollway.serve import ServeOptions, build_app
from tollway.server.app import TollwayApp
from tollway.telemetry import configure_logging

RULES = {"classify": r"\bclassify\b", "reasoning": r"step by step", "customer-qa": r"\b(account|plan)\b"}


def bench_config(upstream: str) -> dict[str, Any]:
    router = json.loads(resources.files("tollway").joinpath("data/tutorial/router.json").read_text("utf-8"))
    router["name"] = "bench"
    names = ("digitalocean", "openai", "anthropic")
    return {"upstreams": {n: {"base_url": upstream} for n in names}, "routers": [router]}


def classifier() -> Classifier | None:
    choice = os.environ.get("TOLLWAY_BENCH_CLASSIFIER", "auto")
    if choice == "auto":
        try:
            from tollway.classify import default_classifier  # noqa: F401
        except ImportError:
            choice = "rules"
    return RulesClassifier(RULES) if choice == "rules" else None


def app() -> TollwayApp:
    # What `tollway serve` does at start-up (cli.main): tollway's events at warning and above.
    configure_logging(level=os.environ.get("TOLLWAY_LOG_LEVEL", "warning"))
    upstream = os.environ.get("UPSTREAM_BASE", "http://127.0.0.1:18000/v1")
    path = os.path.join(tempfile.mkdtemp(prefix="tollway-bench-"), "bench.json")
    with open(path, "w") as f:
        json.dump(bench_config(upstream), f)
    options = ServeOptions(
        config=path,
        store=":memory:",
        upstream_client=os.environ.get("TOLLWAY_UPSTREAM_CLIENT", "auto"),
    )
    return build_app(options, classifier=classifier())
