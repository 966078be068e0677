"""``tollway serve``: the standalone server on uvicorn (uvloop and httptools when installed).

    tollway serve --config router.yaml [--host 127.0.0.1 --port 8000 --workers 1] [--simulate]
                  [env TOLLWAY_ADMIN_TOKEN | --admin-token TOKEN] [--store routers.sqlite3]

Workers are separate processes: each builds its app from ``TOLLWAY_SERVE_OPTIONS`` (set here),
and they share the control plane's SQLite store.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Any

import httpx
import structlog

from .catalog import Catalog
from .classify.base import Classifier
from .config import TollwayConfig, load_config
from .server.app import TollwayApp
from .server.auth import Credentials
from .server.chat import MAX_BODY_BYTES
from .stores.routers import SQLiteRouterStore
from .telemetry import configure_logging
from .upstream import Upstream

log = structlog.get_logger("tollway.serve")

OPTIONS_ENV = "TOLLWAY_SERVE_OPTIONS"
TOKEN_ENV = "TOLLWAY_ADMIN_TOKEN"
LOG_LEVEL_ENV = "TOLLWAY_LOG_LEVEL"
DEFAULT_STORE = ".tollway/routers.sqlite3"
UPSTREAM_CLIENTS = ("auto", "aiohttp", "httpx-aiohttp", "httpx")


@dataclass(frozen=True)
class ServeOptions:
    config: str | None = None
    simulate: bool = False
    store: str = DEFAULT_STORE
    max_body_bytes: int = MAX_BODY_BYTES
    upstream_client: str = "auto"


def add_serve_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``serve`` to the CLI's subparsers (``argparse._SubParsersAction``)."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "serve", help="the OpenAI-compatible server, control plane, health and metrics"
    )
    p.add_argument("--config", help="router file (default with --simulate: the tutorial's router)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--simulate", action="store_true", help="serve every model from the simulated upstream")
    p.add_argument(
        "--admin-token",
        help=f"control-plane and dashboard token; prefer env {TOKEN_ENV} (a flag is visible to "
        "other users in ps); without it the control plane is off and the dashboard open",
    )
    p.add_argument(
        "--store",
        default=os.environ.get("TOLLWAY_STORE", DEFAULT_STORE),
        help="SQLite file of routers created through the control plane (':memory:' for none)",
    )
    p.add_argument("--max-body-bytes", type=int, default=MAX_BODY_BYTES)
    p.add_argument(
        "--upstream-client",
        choices=UPSTREAM_CLIENTS,
        default="auto",
        help="HTTP client to the upstreams: aiohttp (native, several times faster than httpx; "
        "auto picks it when installed), httpx-aiohttp (httpx's API over aiohttp's pool) or httpx",
    )
    p.add_argument(
        "--log-level",
        default=os.environ.get(LOG_LEVEL_ENV, "warning"),
        help="info logs one structured event per call (JSON unless stderr is a terminal)",
    )
    p.add_argument("--access-log", action="store_true")
    p.set_defaults(run=serve_command)
    return p


def serve_command(args: argparse.Namespace) -> int:
    import uvicorn

    options = ServeOptions(
        config=args.config,
        simulate=args.simulate,
        store=args.store,
        max_body_bytes=args.max_body_bytes,
        upstream_client=args.upstream_client,
    )
    if args.admin_token:
        os.environ[TOKEN_ENV] = args.admin_token  # reaches the worker processes, never a log
    config = read_config(options)  # fail here, before uvicorn, with a clear message
    announce(config, options, args)
    os.environ[OPTIONS_ENV] = json.dumps(asdict(options))
    # Workers are fresh processes: they set up logging from the environment (app_from_env).
    os.environ[LOG_LEVEL_ENV] = args.log_level
    configure_logging(level=args.log_level)
    extra: dict[str, Any] = {}
    if importlib.util.find_spec("uvloop"):
        extra["loop"] = "uvloop"
    if importlib.util.find_spec("httptools"):
        extra["http"] = "httptools"
    uvicorn.run(
        "tollway.serve:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        access_log=args.access_log,
        ws="none",
        **extra,
    )
    return 0


def announce(config: TollwayConfig, options: ServeOptions, args: argparse.Namespace) -> None:
    credentials = Credentials(admin_token=os.environ.get(TOKEN_ENV), tenants=config.extra.get("tenants"))
    routers = ", ".join(f"router:{n}" for n in config.routers)
    print(f"tollway: serving {routers} on http://{args.host}:{args.port}/v1 ({args.workers} worker(s))")
    if options.simulate:
        print("tollway: --simulate: every model is answered by the built-in simulated upstream")
    else:
        print(f"tollway: upstream client: {upstream_client(options)}")
    if credentials.open:
        print(
            "tollway: no tenants configured: any bearer key is accepted and spend is booked to "
            "tenant 'default'"
        )
    else:
        print(f"tollway: tenants: {', '.join(sorted(credentials.tenants))} (API keys checked)")
    base = f"http://{args.host}:{args.port}"
    if credentials.control_enabled:
        print(f"tollway: control plane on /v2/gen-ai/models/routers; routers stored in {options.store}")
        # The token itself is never printed: it would land in whatever collects this output.
        print(
            f"tollway: dashboard on {base}/dashboard#token=<admin token> (the token never leaves the browser)"
        )
    else:
        print(f"tollway: control plane off (set {TOKEN_ENV} to enable it)")
        print(f"tollway: dashboard on {base}/dashboard (open: no admin token is set)")
    for warning in shared_state_warnings(config, args.workers):
        print(f"tollway: warning: {warning}")


def shared_state_warnings(config: TollwayConfig, workers: int) -> list[str]:
    """What goes wrong with several workers and in-process stores: each worker would keep its own
    budgets (so caps multiply), pins and call records."""
    if workers < 2:
        return []
    settings = config.extra.get("settings") or {}
    what = {
        "budget_store": "budgets are per worker, so every cap is multiplied by the worker count",
        "affinity_store": "session pins are per worker",
        "records_store": "call records (report, dashboard) are per worker",
    }
    return [
        f"{key} is memory:// with {workers} workers: {why}; use sqlite:///… or redis://…"
        for key, why in what.items()
        if str(settings.get(key, "memory://")).startswith("memory:")
        and (key != "budget_store" or config.extra.get("tenants"))
    ]


def read_config(options: ServeOptions) -> TollwayConfig:
    if options.config:
        return load_config(options.config)
    if not options.simulate:
        raise SystemExit("tollway serve: --config is required (or use --simulate for the tutorial's router)")
    text = resources.files("tollway").joinpath("data/tutorial/router.json").read_text("utf-8")
    return load_config(json.loads(text))


def build_app(
    options: ServeOptions, admin_token: str | None = None, classifier: Classifier | None = None
) -> TollwayApp:
    """The server app for ``options``: what each worker runs (``classifier``: the default one)."""
    from .router import Router

    config = read_config(options)
    if options.simulate:
        router = Router(config, simulate=True, classifier=classifier)
    else:
        router = Router(config, upstream=build_upstream(options, config.catalog), classifier=classifier)
    credentials = Credentials(admin_token=admin_token, tenants=router.tenants)
    store = SQLiteRouterStore(options.store)
    return TollwayApp(
        router, credentials=credentials, store=store, max_body_bytes=options.max_body_bytes, owns_router=True
    )


def upstream_client(options: ServeOptions) -> str:
    """The client ``options.upstream_client`` resolves to: ``auto`` is the native aiohttp client
    when aiohttp is importable, else httpx (over httpx-aiohttp when that is installed)."""
    choice = options.upstream_client
    if choice not in UPSTREAM_CLIENTS:
        raise SystemExit(f"tollway serve: unknown --upstream-client {choice!r}")
    if choice != "auto":
        return choice
    if importlib.util.find_spec("aiohttp"):
        return "aiohttp"
    return "httpx-aiohttp" if importlib.util.find_spec("httpx_aiohttp") else "httpx"


def build_upstream(options: ServeOptions, catalog: Catalog) -> Upstream:
    """The upstream client the server uses for ``options.upstream_client``."""
    if upstream_client(options) == "aiohttp":
        try:
            from .upstream_aiohttp import AiohttpUpstream
        except ImportError as exc:
            raise SystemExit(
                "tollway serve: --upstream-client aiohttp needs aiohttp (pip install 'tollway[server]')"
            ) from exc
        return AiohttpUpstream(catalog)
    from .upstream import HttpUpstream

    return HttpUpstream(catalog, transport=upstream_transport(options))


def upstream_transport(options: ServeOptions) -> httpx.AsyncBaseTransport | None:
    """The httpx transport for the httpx client paths: httpx-aiohttp's when it is chosen (or, for
    ``auto`` and ``aiohttp``, installed), else httpx's own pool."""
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=200)
    choice = options.upstream_client
    if choice in ("auto", "aiohttp"):
        choice = "httpx-aiohttp" if importlib.util.find_spec("httpx_aiohttp") else "httpx"
    if choice == "httpx-aiohttp":
        from httpx_aiohttp import AiohttpTransport

        return AiohttpTransport(limits=limits)
    return httpx.AsyncHTTPTransport(limits=limits)


def app_from_env() -> TollwayApp:
    """uvicorn's factory (``tollway.serve:app_from_env``) in each worker."""
    options = ServeOptions(**json.loads(os.environ.get(OPTIONS_ENV, "{}")))
    configure_logging(level=os.environ.get(LOG_LEVEL_ENV, "warning"))
    return build_app(options, admin_token=os.environ.get(TOKEN_ENV))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tollway.serve ...``: the same as ``tollway serve ...``."""
    parser = argparse.ArgumentParser(prog="tollway")
    add_serve_parser(parser.add_subparsers())
    args = parser.parse_args(["serve", *(argv if argv is not None else sys.argv[1:])])
    return serve_command(args)


if __name__ == "__main__":
    raise SystemExit(main())
