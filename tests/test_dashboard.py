"""``GET /dashboard`` and ``/dashboard/data.json``: the figures come from the ledger of calls through
``report.summarize``, the admin token guards them when one is configured, and the page, loaded in
a real headless Chromium, shows the same figures (a screenshot is saved under ``artifacts/``)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from tollway import Router, RulesClassifier
from tollway.config import load_config
from tollway.money import format_percent, format_usd
from tollway.records import CallRecord
from tollway.report import summarize
from tollway.server.app import TollwayApp
from tollway.server.auth import Credentials
from tollway.server.dashboard import bucket_for, window_seconds
from tollway.server.testing import ServerThread
from tollway.simulate import Fault, Latency, SimulatedProvider

ROOT = Path(__file__).parent.parent
TUTORIAL = json.loads((ROOT / "examples" / "tutorial-router.json").read_text())
RULES = RulesClassifier(
    {"classify": r"\b(classify|label)\b", "reasoning": r"step by step", "customer-qa": r"\b(account|plan)\b"}
)
MODEL = "router:cost-governance-demo"
ADMIN = "admin-token-for-dashboard-tests"
TENANTS = {
    "acme": {"api_keys": ["plain:sk-acme"]},
    "globex": {"api_keys": ["plain:sk-globex"]},
    "initech": {"api_keys": ["plain:sk-initech"]},
}
CLASSIFY = "Classify this support message: I was charged twice this month."
QA = "How do I change the email on my account?"
REASONING = "Work out step by step whether a write-through cache beats write-back for this workload."
OTHER = "Write a haiku about autumn."
HANDBOOK = {"role": "system", "content": "Support handbook: be brief and kind. " * 300}
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


@pytest.fixture
def provider() -> SimulatedProvider:
    return SimulatedProvider(latency={"*": Latency()}, prompt_cache=True)


@pytest.fixture
def router(provider: SimulatedProvider) -> Router:
    return Router(
        load_config(TUTORIAL), classifier=RULES, simulate=provider, timeout=5, first_chunk_timeout=5
    )


def serve(router: Router, admin_token: str | None, recorder: Recorder | None = None) -> ServerThread:
    app = TollwayApp(
        router, credentials=Credentials(admin_token=admin_token, tenants=TENANTS), owns_router=True
    )
    if recorder is not None:
        recorder.app = app
        return ServerThread(recorder)
    return ServerThread(app)


class Recorder:
    """Every request's path, query string and headers, as the server (and its access log) sees them."""

    def __init__(self) -> None:
        self.app: Any = None
        self.seen: list[tuple[str, str, dict[str, str]]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            self.seen.append((scope["path"], scope["query_string"].decode("latin-1"), headers))
        await self.app(scope, receive, send)


def ledger(router: Router, since: float = 0.0) -> Sequence[CallRecord]:
    # The in-memory store is plain Python: safe to read from the test thread while the server runs.
    return asyncio.run(router.records.query(since=since))


def send_traffic(base: str, provider: SimulatedProvider) -> None:
    """Several routes and tenants, a fallback, a pinned session with a warm prompt cache, a failure."""
    calls = [
        ("sk-acme", user(CLASSIFY), None),
        ("sk-acme", user(CLASSIFY), None),
        ("sk-acme", user(QA), None),
        ("sk-globex", user(REASONING), None),
        ("sk-globex", user(QA), None),
        ("sk-initech", user(OTHER), None),
        ("sk-initech", user(CLASSIFY), None),
        ("sk-acme", [HANDBOOK, *user(QA)], "s-1"),
        ("sk-acme", [HANDBOOK, *user(QA), {"role": "assistant", "content": "Settings."}, *user(QA)], "s-1"),
    ]
    with httpx.Client(base_url=base, timeout=10) as http:
        for key, messages, session in calls:
            headers = {"Authorization": f"Bearer {key}"}
            if session:
                headers["X-Model-Affinity"] = session
            r = http.post(
                "/v1/chat/completions", json={"model": MODEL, "messages": messages}, headers=headers
            )
            assert r.status_code == 200, r.text
        provider.faults["llama3.3-70b-instruct"] = Fault(status=503)
        r = http.post(
            "/v1/chat/completions",
            json={"model": MODEL, "messages": user(OTHER)},
            headers={"Authorization": "Bearer sk-globex"},
        )
        assert r.status_code >= 500
        del provider.faults["llama3.3-70b-instruct"]


def backfill(router: Router, hours: int = 20) -> None:
    """Copies of the live records spread over the past hours, so that the timeline has a shape.
    They are ordinary ledger entries: the page and ``summarize()`` both see them."""
    live = ledger(router)
    now = time.time()
    copies = []
    for h in range(hours, 0, -1):
        share = 1 + (h * 7) % 5  # a varying number of calls per hour
        for i, record in enumerate(live[: share + 3]):
            ts = now - h * 3600 + i * 60
            copies.append(dataclasses.replace(record, ts=ts, request_id=f"{record.request_id}-h{h}-{i}"))
    # The store keeps insertion order and the report wants the oldest first.
    everything = sorted([*copies, *live], key=lambda r: r.ts)

    async def rewrite() -> None:
        store: Any = router.records
        store._records.clear()
        for record in everything:
            await router.records.add(record)

    asyncio.run(rewrite())


# -- data.json over plain HTTP ----------------------------------------------------------------


def test_data_json_is_summarize_of_the_ledger(router: Router, provider: SimulatedProvider) -> None:
    with serve(router, ADMIN) as base:
        send_traffic(base, provider)
        r = httpx.get(
            f"{base}/dashboard/data.json",
            params={"since": "all"},
            headers={"Authorization": f"Bearer {ADMIN}"},
        )
        records = ledger(router)
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["window"] == "all" and body["routers"] == ["cost-governance-demo"]
    summary = body["summary"]
    compare = sorted(body["summary"]["counterfactual"])
    expected = summarize(records, router.catalog, compare, float(body["bucket_s"]))
    assert summary == json.loads(json.dumps(expected))
    # The traffic above, as the ledger saw it.
    assert summary["requests"] == 10
    assert set(summary["by_route"]) == {"classify", "customer-qa", "reasoning", "fallback"}
    assert set(summary["by_tenant"]) == {"acme", "globex", "initech"}
    assert summary["fallback_rate"] == 0.2 and summary["match_rate"] == 0.8
    assert summary["error_rate"] == 0.1
    assert Decimal(summary["cache"]["savings_usd"]) > 0
    # By default the counterfactual covers the configured models.
    assert {"openai-gpt-5", "anthropic-claude-4.6-sonnet", "llama3.3-70b-instruct"} <= set(compare)


def test_data_json_window_and_compare(router: Router, provider: SimulatedProvider) -> None:
    with serve(router, None) as base:
        send_traffic(base, provider)
        one_hour = httpx.get(f"{base}/dashboard/data.json", params={"since": "1h"}).json()
        chosen = httpx.get(
            f"{base}/dashboard/data.json", params={"since": "7d", "compare": "anthropic-claude-opus-4.7"}
        ).json()
        bad_window = httpx.get(f"{base}/dashboard/data.json", params={"since": "yesterday"})
        bad_model = httpx.get(f"{base}/dashboard/data.json", params={"compare": "gpt-nine"})
        default = httpx.get(f"{base}/dashboard/data.json").json()
    assert one_hour["bucket_s"] == 60 and one_hour["summary"]["requests"] == 10
    assert one_hour["now"] - one_hour["start"] == pytest.approx(3600)
    assert list(chosen["summary"]["counterfactual"]) == ["anthropic-claude-opus-4.7"]
    assert chosen["bucket_s"] == 10800
    assert default["window"] == "24h" and default["bucket_s"] == 1800
    assert bad_window.status_code == 400 and bad_window.json()["error"]["param"] == "since"
    assert bad_model.status_code == 400 and bad_model.json()["error"]["param"] == "compare"


def test_admin_token_guards_the_dashboard(router: Router) -> None:
    with serve(router, ADMIN) as base, httpx.Client(base_url=base) as http:
        data = "/dashboard/data.json"
        missing = http.get(data)
        assert missing.status_code == 401 and "#token=" in missing.json()["error"]["message"]
        assert http.get(data, headers={"Authorization": "Bearer wrong"}).status_code == 401
        tenant_key = http.get(data, headers={"Authorization": "Bearer sk-acme"})
        assert tenant_key.status_code == 403 and "tenant API key" in tenant_key.json()["error"]["message"]
        assert http.get(data, headers={"Authorization": f"Bearer {ADMIN}"}).status_code == 200
        # Never in the query string: it would land in access logs.
        assert http.get(data, params={"token": ADMIN}).status_code == 401
        # The page holds no data (the page's JS asks data.json with the token): it is served to anyone.
        page = http.get("/dashboard")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "<svg" not in page.text and "#token=" in page.text
        assert http.post(data, headers={"Authorization": f"Bearer {ADMIN}"}).status_code == 405


def test_page_is_self_contained_without_an_admin_token(router: Router) -> None:
    with serve(router, None) as base:
        page = httpx.get(f"{base}/dashboard")
        data = httpx.get(f"{base}/dashboard/data.json")
    assert page.status_code == 200 and data.status_code == 200  # open: no admin token configured
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp
    # No external resource of any kind: everything is inlined or fetched from this server.
    for marker in ("http://", "https://", "src=", "<link"):
        assert marker not in page.text.replace("http://www.w3.org/2000/svg", "")
    assert "/*__CSS__*/" not in page.text and "/*__JS__*/" not in page.text


def test_windows_and_buckets() -> None:
    assert (
        window_seconds("1h") == 3600 and window_seconds("7d") == 7 * 86400 and window_seconds("all") is None
    )
    assert [bucket_for(s) for s in (3600, 86400, 7 * 86400)] == [60, 1800, 10800]
    assert bucket_for(10 * 365 * 86400) == 604800


# -- the page in a real browser ---------------------------------------------------------------


class Figures(HTMLParser):
    """Text and attributes of every element with an ``id``, and the ``data-*`` rows of tables."""

    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, dict[str, Any]] = {}
        self.rows: list[dict[str, str | None]] = []
        self._open: list[str] = []
        self.body: dict[str, str | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "body":
            self.body = found
        if tag == "tr" and len(found) > 0:
            self.rows.append(found)
        if "id" in found and found["id"] is not None:
            self.by_id[found["id"]] = {"attrs": found, "text": ""}
            self._open.append(found["id"])
        elif self._open:
            self._open.append("")

    def handle_endtag(self, tag: str) -> None:
        if self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for name in self._open:
            if name:
                self.by_id[name]["text"] += data


def chromium(args: list[str], profile: Path, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium in its own process group, and make sure none of it outlives the call."""
    assert CHROMIUM is not None
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--force-color-profile=srgb",
        "--force-device-scale-factor=1",
        "--lang=en-US",
        f"--user-data-dir={profile}",
        *args,
    ]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        # Chromium leaves helper processes behind when it is killed: end the whole group.
        with _quiet():
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


class _quiet:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return exc[0] is ProcessLookupError


BUDGET = ["--virtual-time-budget=5000", "--enable-logging=stderr", "--v=0"]


def places_for(spend: Decimal) -> int:
    """The page's rule: money is shown with 2, 4 or 6 decimals by the size of the total spend."""
    return 2 if spend >= 100 or spend == 0 else 4 if spend >= 1 else 6


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install -y chromium)")
def test_dashboard_in_headless_chromium(router: Router, provider: SimulatedProvider, tmp_path: Path) -> None:
    recorder = Recorder()
    with serve(router, ADMIN, recorder) as base:
        send_traffic(base, provider)
        backfill(router)
        url = f"{base}/dashboard?since=24h#token={ADMIN}"
        budget = [*BUDGET, "--run-all-compositor-stages-before-draw"]
        started = time.time()
        dom = chromium([*budget, "--dump-dom", url], tmp_path / "profile-dom")
        finished = time.time()
        artifacts = ROOT / "artifacts"
        artifacts.mkdir(exist_ok=True)
        shot = artifacts / "dashboard.png"
        shot.unlink(missing_ok=True)
        chromium([*budget, "--window-size=1440,1230", f"--screenshot={shot}", url], tmp_path / "profile-shot")
        # The page's window is [now - 24h, now) at the moment it fetched: between started and
        # finished. Backfilled records are hours inside the window, so either bound gives the same set.
        records = ledger(router, since=started - 86400)
        assert len(records) == len(ledger(router, since=finished - 86400))

    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "Uncaught" not in dom.stderr, dom.stderr[-2000:]  # no script error in the page
    # The token went only in headers: no request line (what access logs keep) ever held it.
    assert not [seen for seen in recorder.seen if ADMIN in seen[0] + seen[1]]
    fetched = [headers for path, _, headers in recorder.seen if path == "/dashboard/data.json"]
    assert fetched and all(h.get("authorization") == f"Bearer {ADMIN}" for h in fetched)
    assert ADMIN not in dom.stdout  # nor is it left in the page
    page = Figures()
    page.feed(dom.stdout)
    assert page.body.get("data-state") == "ready", dom.stdout[-3000:]

    compare = sorted(
        {"openai-gpt-oss-20b", "llama3.3-70b-instruct", "anthropic-claude-4.6-sonnet", "openai-gpt-5"}
    )
    summary = summarize(records, router.catalog, compare)
    spend = Decimal(summary["spend_usd"])
    places = places_for(spend)

    def figure(name: str) -> tuple[str, str | None]:
        found = page.by_id[name]
        return found["text"].strip(), found["attrs"].get("data-raw")

    assert figure("v-requests") == (f"{summary['requests']:,}", str(summary["requests"]))
    text, raw = figure("v-match-rate")
    assert raw is not None and float(raw) == summary["match_rate"]
    assert text == format_percent(Decimal(repr(summary["match_rate"])))
    text, raw = figure("v-fallback-rate")
    assert raw is not None and float(raw) == summary["fallback_rate"]
    assert text == format_percent(Decimal(repr(summary["fallback_rate"])))
    assert figure("v-spend") == (format_usd(spend, places), summary["spend_usd"])
    savings = summary["cache"]["savings_usd"]
    assert figure("v-cache-savings") == (format_usd(Decimal(savings), places), savings)
    assert summary["match_rate"] < 0.9  # the fallback traffic: the page says what that usually means
    assert "vague or overlap" in page.by_id["match-hint"]["text"]

    # Every route, model and tenant of the ledger has its row; the counterfactual names the models.
    names = {row["data-name"] for row in page.rows if row.get("data-name")}
    assert {*summary["by_route"], *summary["by_model"], *summary["by_tenant"]} <= names
    models = {row["data-model"] for row in page.rows if row.get("data-model")}
    assert models == set(compare)
    keys = {row["data-key"] for row in page.rows if row.get("data-key")}
    assert keys == set(summary["estimate_error"])
    # The two timeline charts were drawn.
    assert dom.stdout.count("<rect") >= 2 * 10

    assert shot.exists() and shot.stat().st_size > 10_000
    print(f"\ndashboard screenshot: {shot}")


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install -y chromium)")
def test_dashboard_in_headless_chromium_without_calls(router: Router, tmp_path: Path) -> None:
    with serve(router, None) as base:
        dom = chromium([*BUDGET, "--dump-dom", f"{base}/dashboard?since=1h"], tmp_path / "profile")
    assert dom.returncode == 0 and "Uncaught" not in dom.stderr, dom.stderr[-2000:]
    page = Figures()
    page.feed(dom.stdout)
    assert page.body.get("data-state") == "empty"
    assert page.by_id["v-requests"]["text"] == "0" and page.by_id["v-spend"]["text"] == "$0.00"
    assert "No calls in this window" in page.by_id["by-route"]["text"]


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install -y chromium)")
def test_dashboard_in_headless_chromium_with_a_wrong_token(router: Router, tmp_path: Path) -> None:
    with serve(router, ADMIN) as base:
        dom = chromium([*BUDGET, "--dump-dom", f"{base}/dashboard#token=wrong"], tmp_path / "profile")
        bare = chromium([*BUDGET, "--dump-dom", f"{base}/dashboard"], tmp_path / "profile-bare")
    assert dom.returncode == 0
    assert "invalid admin token" in dom.stdout and "#token=" in dom.stdout
    assert 'id="token-form"' in dom.stdout  # the page offers to take the token
    assert bare.returncode == 0
    assert "missing admin token" in bare.stdout or "takes the admin token" in bare.stdout
