"""End to end over real processes: three ``tollway serve --simulate`` replicas share one real
``redis-server`` for the budget ledger and the affinity pins, and are called with the ``openai``
SDK over loopback HTTP.

- Budget: 500 concurrent requests spread over the 3 replicas against a $0.05 daily cap never
  overspend; the served responses' ``x-tollway-cost`` headers add up to the settled spend exactly,
  and every refusal is a non-retryable 429 ``budget_exceeded`` naming the daily cap.
- Affinity: a session pinned on replica A keeps its model on replica B for a follow-up that
  would route elsewhere on its own.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import openai
import pytest
from openai import AsyncOpenAI

from replicas import RedisServer, Replicas
from tollway.budget import load_ledger
from tollway.money import from_units, to_units

TUTORIAL = Path(__file__).parent.parent / "examples" / "tutorial-router.json"
ROUTER = "router:cost-governance-demo"
REQUEST_TIMEOUT = 60.0  # per SDK call; the first call in a replica loads the sentence encoder

if RedisServer.binary() is None:
    pytest.skip("redis-server is not installed (apt-get install -y redis-server)", allow_module_level=True)
pytest.importorskip(
    "tollway_redis", reason="the tollway-redis plugin is not installed (pip install -e plugins/tollway-redis)"
)

DAILY_CAP = Decimal("0.05")
TENANTS = {
    "acme": {"api_keys": ["plain:sk-acme"], "budget": {"day": str(DAILY_CAP)}},
    "globex": {"api_keys": ["plain:sk-globex"]},  # no caps: the affinity test
    "warmup": {"api_keys": ["plain:sk-warmup"]},  # no caps: loads each replica's classifier
}
QA_PROMPT = "How do I change the billing email on my account?"
# Follow-ups for the affinity test; the first one the classifier sends elsewhere on its own is used.
FOLLOW_UPS = [
    "Prove that the sum of the first n odd numbers is n squared, tracing every step of the induction.",
    "Classify this support message into exactly one of billing, bug, how-to or account: "
    "'The export button crashes the app.'",
    "Compare two database architectures for a multi-region deployment, reasoning step by step "
    "about consistency, latency and failure modes, and conclude with a recommendation.",
]


@dataclass
class Cluster:
    redis_url: str
    base_urls: list[str]
    replicas: Replicas


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    workdir = tmp_path_factory.mktemp("replicas")
    with RedisServer(workdir) as redis_url:
        config = json.loads(TUTORIAL.read_text("utf-8"))
        config["settings"] = {"budget_store": redis_url, "affinity_store": redis_url}
        config["tenants"] = TENANTS
        path = workdir / "router.json"
        path.write_text(json.dumps(config), "utf-8")
        replicas = Replicas(path, 3, workdir)
        with replicas as base_urls:
            try:
                warm_up(base_urls)
            except Exception as exc:
                raise RuntimeError(f"warm-up failed: {exc!r}\n{replicas.logs_text()}") from exc
            yield Cluster(redis_url, base_urls, replicas)


def warm_up(base_urls: list[str]) -> None:
    """One routed call per replica (tenant ``warmup``, no caps), so the classifier is loaded
    before the measured traffic; all replicas load it at the same time."""

    def one(base_url: str) -> None:
        messages = [{"role": "user", "content": QA_PROMPT}]
        body = {"model": ROUTER, "messages": messages, "max_completion_tokens": 8}
        headers = {"authorization": "Bearer sk-warmup"}
        reply = httpx.post(
            f"{base_url}/v1/chat/completions", json=body, headers=headers, timeout=REQUEST_TIMEOUT
        )
        assert reply.status_code == 200, reply.text

    with ThreadPoolExecutor(len(base_urls)) as pool:
        list(pool.map(one, base_urls))


def client(base_url: str, key: str) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=f"{base_url}/v1", api_key=key, max_retries=0, timeout=REQUEST_TIMEOUT)


async def test_three_replicas_never_overspend_a_shared_daily_cap(cluster: Cluster) -> None:
    day = datetime.now(UTC).date()
    clients = [client(url, "sk-acme") for url in cluster.base_urls]
    served: list[tuple[int, Decimal, Decimal | None]] = []  # (replica, cost, remaining)
    refused: list[tuple[int, openai.RateLimitError]] = []
    other: list[tuple[int, BaseException]] = []

    async def one(i: int) -> None:
        replica = i % len(clients)
        try:
            raw = await clients[replica].chat.completions.with_raw_response.create(
                model=ROUTER,
                messages=[{"role": "user", "content": QA_PROMPT}],
                max_completion_tokens=300,
            )
        except openai.RateLimitError as exc:
            refused.append((replica, exc))
            return
        except Exception as exc:
            other.append((replica, exc))
            return
        raw.parse()
        remaining = raw.headers.get("x-tollway-budget-remaining")
        served.append(
            (replica, Decimal(raw.headers["x-tollway-cost"]), Decimal(remaining) if remaining else None)
        )

    try:
        await asyncio.gather(*(one(i) for i in range(500)))
    finally:
        for c in clients:
            await c.close()

    if datetime.now(UTC).date() != day:
        pytest.skip("the run crossed midnight UTC: the daily window rolled over mid-test")
    assert not other, (
        f"{len(other)} requests failed otherwise, e.g. {other[0]!r}\n{cluster.replicas.logs_text()}"
    )
    assert len(served) + len(refused) == 500
    assert served and refused, (len(served), len(refused))

    ledger = load_ledger(cluster.redis_url)
    try:
        settled, reserved = await ledger.spend("acme", "day")
    finally:
        await ledger.aclose()
    print(f"served {len(served)}, refused {len(refused)}, settled ${from_units(settled)}")
    assert reserved == 0  # every reservation was settled or released
    assert 0 < settled <= to_units(DAILY_CAP)  # no overspend
    # The ledger holds exactly what the clients were told they were charged.
    costs = [cost for _, cost, _ in served]
    assert sum(to_units(c) for c in costs) == settled
    assert sum(costs) == from_units(settled)
    assert all(r is None or r >= 0 for _, _, r in served)

    for _, exc in refused:
        assert exc.status_code == 429
        assert isinstance(exc.body, dict), exc.body
        assert exc.code == "budget_exceeded" and exc.body["type"] == "insufficient_quota"
        assert "daily cap of $0.05" in exc.body["message"], exc.body["message"]
        assert exc.response.headers["x-should-retry"] == "false"
        assert exc.response.headers["x-tollway-budget-cap"] == "daily"
    # The traffic really was spread: every replica took part.
    assert {replica for replica, _, _ in served} | {replica for replica, _ in refused} == {0, 1, 2}


async def route(c: AsyncOpenAI, prompt: str, session: str | None = None) -> dict[str, str]:
    extra = {"X-Model-Affinity": session} if session else None
    raw = await c.chat.completions.with_raw_response.create(
        model=ROUTER,
        messages=[{"role": "user", "content": prompt}],
        max_completion_tokens=200,
        extra_headers=extra,
    )
    completion = raw.parse()
    assert completion.model == raw.headers["x-tollway-model"]
    return dict(raw.headers.items())


async def test_a_session_pinned_on_one_replica_keeps_its_model_on_another(cluster: Cluster) -> None:
    a, b = (client(url, "sk-globex") for url in cluster.base_urls[:2])
    try:
        first = await route(a, QA_PROMPT, session="s-1")
        pinned = first["x-tollway-model"]
        assert first["x-model-affinity"] == "s-1"
        assert first["x-tollway-affinity"] == "new"

        # A follow-up that replica B, on its own, routes to another model.
        unpinned = {}
        for prompt in FOLLOW_UPS:
            unpinned[prompt] = (await route(b, prompt))["x-tollway-model"]
            if unpinned[prompt] != pinned:
                break
        else:
            pytest.fail(f"no follow-up routes away from {pinned} without affinity: {unpinned}")

        # B never saw s-1: only the pin in Redis, written by A, can keep the model.
        follow = await route(b, prompt, session="s-1")
        assert follow["x-tollway-model"] == pinned
        assert follow["x-model-affinity"] == "s-1"
        assert follow["x-tollway-affinity"] == "hit"
        assert follow["x-model-router-selected-route"] == first["x-model-router-selected-route"]

        # And back on A the session still holds, while a fresh session routes normally.
        again = await route(a, prompt, session="s-1")
        assert (again["x-tollway-model"], again["x-tollway-affinity"]) == (pinned, "hit")
        fresh = await route(a, prompt, session="s-2")
        assert (fresh["x-tollway-model"], fresh["x-tollway-affinity"]) == (unpinned[prompt], "new")
    finally:
        await a.close()
        await b.close()
