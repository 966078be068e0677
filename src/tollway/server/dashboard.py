"""``GET /dashboard``: match rate, fallback rate, traffic, spend, estimate error, cache savings and the
counterfactual, from the router's ledger of calls (``router.records``) through ``report.summarize``.

Two routes:

- ``GET /dashboard``: one self-contained HTML page (its CSS and JS are shipped in
  ``tollway/server/static`` and inlined, so the page needs no network beyond this server);
- ``GET /dashboard/data.json?since=1h|24h|7d|all``: what the page draws (``summarize()`` plus the
  window). ``compare=a,b`` names the models of the counterfactual (default: the models that served
  traffic and those the routers are configured with).

The page holds no data, so it is served to anyone; the data is guarded. With an admin token
configured, ``data.json`` takes it like the control plane does, as ``Authorization: Bearer <admin
token>``, and only so: never in the query string, which lands in access logs and proxies. A
browser opens ``/dashboard#token=<admin token>``: the fragment never leaves the browser, and the
page moves it into ``sessionStorage`` (and out of the address bar) and sends it as the bearer
header. Without an admin token both are open.
"""

from __future__ import annotations

import base64
import hashlib
import time
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import anyio.to_thread

from ..errors import InvalidRequest, RequestError
from ..report import summarize
from ..report import window_seconds as parse_window
from .answer import Answer, error_answer, json_answer
from .asgi import Scope, header_map
from .errors import MethodNotAllowed, Unauthorized, clip

if TYPE_CHECKING:
    from ..router import Router
    from .auth import Credentials

PAGE_PATH = "/dashboard"
DATA_PATH = "/dashboard/data.json"
PATHS = frozenset({PAGE_PATH, f"{PAGE_PATH}/", DATA_PATH})
WINDOWS = ("1h", "24h", "7d", "all")
DEFAULT_WINDOW = "24h"
MATCH_RATE_TARGET = 0.9  # the managed router's rule of thumb: below it, descriptions are vague or overlap
# Bucket sizes for the timeline, smallest first; the first that gives at most 60 bars is used.
_BUCKETS = (60, 300, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 604800)
_NO_STORE = [("cache-control", "no-store"), ("referrer-policy", "no-referrer")]
_NO_STORE_RAW = [(k.encode(), v.encode()) for k, v in _NO_STORE]


def window_seconds(since: str) -> float | None:
    """``30m``/``1h``/``24h``/``7d`` as seconds; ``all`` is None. Raises 400 for anything else."""
    try:
        return parse_window(since)
    except ValueError:
        raise InvalidRequest(
            f"since: expected one of {', '.join(WINDOWS)} (or e.g. 30m, 12h, 30d), got {clip(since, 40)}",
            param="since",
        ) from None


def bucket_for(span_s: float) -> int:
    """A round bucket size that draws ``span_s`` seconds in at most 60 bars."""
    for size in _BUCKETS:
        if span_s / size <= 60:
            return size
    return _BUCKETS[-1]


class Dashboard:
    """The two dashboard routes of ``TollwayApp``: ``await dashboard(method, path, scope)``."""

    def __init__(self, router: Router, credentials: Credentials) -> None:
        self.router = router
        self.credentials = credentials

    async def __call__(self, method: str, path: str, scope: Scope) -> Answer:
        if method not in ("GET", "HEAD"):
            allow = ("GET", "HEAD")
            return error_answer(
                MethodNotAllowed(f"{clip(method, 20)} {path}: use GET", allow=allow), _NO_STORE
            )
        if path != DATA_PATH:
            return page_answer()  # the page holds no data: it asks data.json, with the token
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        try:
            self._check(header_map(scope))
            body = await self.data(_one(query, "since") or DEFAULT_WINDOW, _one(query, "compare"))
        except RequestError as exc:
            return error_answer(exc, _NO_STORE)
        return json_answer(200, body, _NO_STORE)

    def _check(self, headers: dict[str, str]) -> None:
        """Open without an admin token; with one, the bearer header must hold it."""
        if not self.credentials.control_enabled:
            return
        authorization = headers.get("authorization")
        if not authorization:
            raise Unauthorized(
                "the dashboard takes the admin token: send `Authorization: Bearer <admin token>`, "
                "or open /dashboard#token=<admin token> in a browser"
            )
        self.credentials.check_admin(authorization)

    async def data(self, since: str, compare: str | None = None) -> dict[str, Any]:
        """What ``/dashboard/data.json`` answers: the window and ``summarize()`` of its records."""
        seconds = window_seconds(since)
        now = time.time()
        start = 0.0 if seconds is None else now - seconds
        records = await self.router.records.query(since=start)
        if seconds is None:
            start = records[0].ts if records else now - 3600
        bucket = bucket_for(max(now - start, 60.0))
        catalog = self.router.catalog
        if compare:
            models = [m.strip() for m in compare.split(",") if m.strip()]
            unknown = [m for m in models if m not in catalog]
            if unknown:
                shown = ", ".join(clip(m, 60) for m in unknown[:5]) + (" …" if len(unknown) > 5 else "")
                raise InvalidRequest(f"compare: unknown model(s) {shown}", param="compare")
        else:
            configured = {m for r in self.router.config.routers.values() for m in r.models()}
            served = {r.model for r in records if r.model}
            models = sorted(m for m in configured | served if m in catalog)
        summary = await anyio.to_thread.run_sync(summarize, records, catalog, models, float(bucket))
        return {
            "window": since,
            "start": start,
            "now": now,
            "bucket_s": bucket,
            "match_rate_target": MATCH_RATE_TARGET,
            "routers": sorted(self.router.config.routers),
            "summary": summary,
        }


def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


@cache
def _asset(name: str) -> str:
    return resources.files("tollway.server").joinpath("static", name).read_text("utf-8")


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()


@cache
def _page() -> tuple[bytes, bytes]:
    """The page with its CSS and JS inlined, and a CSP that allows exactly those two and nothing
    from elsewhere (no CDN, no fonts, no beacons): ``connect-src 'self'`` is for data.json."""
    css, js = _asset("dashboard.css"), _asset("dashboard.js")
    text = _asset("dashboard.html").replace("/*__CSS__*/", css).replace("/*__JS__*/", js)
    csp = (
        f"default-src 'none'; style-src '{_sha256(css)}'; script-src '{_sha256(js)}'; "
        "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return text.encode("utf-8"), csp.encode()


def page_answer() -> Answer:
    body, csp = _page()
    headers = [(b"content-type", b"text/html; charset=utf-8"), (b"content-security-policy", csp)]
    return Answer(200, [*headers, *_NO_STORE_RAW, (b"x-content-type-options", b"nosniff")], body)
