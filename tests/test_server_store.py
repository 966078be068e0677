"""The router store never holds up the event loop, its failures are a 503 on the control plane
and never fail the data plane, and every worker sees the routers another one wrote."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from tollway import Router, RulesClassifier
from tollway.config import load_config
from tollway.server.app import TollwayApp
from tollway.server.auth import Credentials
from tollway.server.testing import ServerThread
from tollway.simulate import Latency, SimulatedProvider
from tollway.stores import routers as routers_module
from tollway.stores.routers import SQLiteRouterStore, StoredRouter

TUTORIAL = json.loads((Path(__file__).parent.parent / "examples" / "tutorial-router.json").read_text())
RULES = RulesClassifier({"classify": r"classify", "customer-qa": r"account", "reasoning": r"step by step"})
ADMIN = "admin-secret-store"
AUTH = {"authorization": f"Bearer {ADMIN}"}
PATH = "/v2/gen-ai/models/routers"
NEW = {**TUTORIAL, "name": "support-router"}
# What a store raises when it cannot be read (sqlite's own error where there is no such class).
Broken: type[Exception] = getattr(routers_module, "StoreUnavailable", sqlite3.OperationalError)


def chat(name: str) -> dict[str, Any]:
    return {"model": f"router:{name}", "messages": [{"role": "user", "content": "please classify this"}]}


def make_app(store: Any) -> TollwayApp:
    router = Router(
        load_config(TUTORIAL), classifier=RULES, simulate=SimulatedProvider(latency={"*": Latency()})
    )
    return TollwayApp(router, credentials=Credentials(admin_token=ADMIN), store=store, owns_router=True)


def client(app: TollwayApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t")


class Locked:
    """Another process's write transaction on the store's file."""

    def __init__(self, db: Path) -> None:
        self.db = sqlite3.connect(str(db), isolation_level=None, check_same_thread=False)

    def __enter__(self) -> Locked:
        self.db.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, *exc: object) -> None:
        self.db.execute("ROLLBACK")
        self.db.close()


class Watched(SQLiteRouterStore):
    """Says when a create has begun (and so is waiting for the lock)."""

    entered = threading.Event()

    def create(self, name: str, body: Mapping[str, Any]) -> StoredRouter:
        self.entered.set()
        return super().create(name, body)


def test_a_write_waiting_for_the_lock_does_not_freeze_the_server(tmp_path: Path) -> None:
    db = tmp_path / "routers.sqlite3"
    store = Watched(db)
    app = make_app(store)
    results: list[httpx.Response] = []
    with ServerThread(app) as base:
        with Locked(db):
            creating = threading.Thread(
                target=lambda: results.append(httpx.post(f"{base}{PATH}", json=NEW, headers=AUTH, timeout=60))
            )
            creating.start()
            assert store.entered.wait(30)
            # The create waits for the lock; the server answers everyone else meanwhile.
            assert httpx.get(f"{base}/healthz", timeout=60).status_code == 200
            served = httpx.post(f"{base}/v1/chat/completions", json=chat("cost-governance-demo"), timeout=60)
            assert served.status_code == 200
        creating.join(60)  # the lock is gone: the create goes through
        assert results and results[0].status_code == 200, results and results[0].text
        listed = httpx.get(f"{base}/v1/models", timeout=60).json()
    assert "router:support-router" in [m["id"] for m in listed["data"]]


async def test_a_locked_store_is_a_503_in_the_control_planes_shape(tmp_path: Path) -> None:
    db = tmp_path / "routers.sqlite3"
    app = make_app(SQLiteRouterStore(db, busy_timeout_ms=0))
    async with client(app) as c:
        with Locked(db):
            response = await c.post(PATH, json=NEW, headers=AUTH)
        assert response.status_code == 503, response.text
        body = response.json()
        assert set(body) == {"id", "message", "request_id"}
        assert body["id"] == "unavailable" and "router store" in body["message"]
        assert (await c.post(PATH, json=NEW, headers=AUTH)).status_code == 200  # and it recovers
    await app.aclose()


async def test_an_unreadable_store_never_fails_the_data_plane(tmp_path: Path) -> None:
    db = tmp_path / "routers.sqlite3"
    app = make_app(SQLiteRouterStore(db))
    async with client(app) as c:
        assert (await c.post(PATH, json=NEW, headers=AUTH)).status_code == 200
        other = sqlite3.connect(str(db), isolation_level=None)
        other.execute("DROP TABLE model_routers")  # every read of the store now fails
        other.close()
        served = await c.post("/v1/chat/completions", json=chat("support-router"))
        assert served.status_code == 200, served.text  # served from the routers loaded last
        assert (await c.get("/v1/models")).status_code == 200
        ready = await c.get("/readyz")
        assert ready.status_code == 503 and "router store" in ready.text
    await app.aclose()


class Flaky(SQLiteRouterStore):
    """``list()`` fails once when armed."""

    armed = False

    def list(self) -> list[StoredRouter]:
        if self.armed:
            self.armed = False
            raise Broken("disk I/O error")
        return super().list()


async def test_a_failed_reload_is_retried_on_the_next_request(tmp_path: Path) -> None:
    db = tmp_path / "routers.sqlite3"
    writer, flaky = make_app(SQLiteRouterStore(db)), Flaky(db)
    reader = make_app(flaky)
    async with client(writer) as w, client(reader) as r:
        flaky.armed = True
        assert (await w.post(PATH, json=NEW, headers=AUTH)).status_code == 200
        first = await r.post("/v1/chat/completions", json=chat("support-router"))
        assert first.status_code == 404  # the reload failed: the routers loaded last, no 500
        # Nothing changed in the store since; the change that failed to load is loaded now.
        assert (await r.post("/v1/chat/completions", json=chat("support-router"))).status_code == 200
    await writer.aclose()
    await reader.aclose()


async def test_models_and_dashboard_see_routers_another_worker_created(tmp_path: Path) -> None:
    db = tmp_path / "routers.sqlite3"
    one, two = make_app(SQLiteRouterStore(db)), make_app(SQLiteRouterStore(db))
    async with client(one) as a, client(two) as b:
        assert (await a.post(PATH, json=NEW, headers=AUTH)).status_code == 200
        models = (await b.get("/v1/models")).json()
        assert "router:support-router" in [m["id"] for m in models["data"]]
    three = make_app(SQLiteRouterStore(db))
    async with client(one) as a, client(three) as c:
        created = await a.post(PATH, json={**NEW, "name": "billing-router"}, headers=AUTH)
        assert created.status_code == 200
        data = await c.get("/dashboard/data.json", headers=AUTH)
        assert data.status_code == 200
        assert data.json()["routers"] == ["billing-router", "cost-governance-demo", "support-router"]
    for app in (one, two, three):
        await app.aclose()


@pytest.mark.parametrize("path", [":memory:"])
async def test_an_in_memory_store_still_works(path: str) -> None:
    app = make_app(SQLiteRouterStore(path))
    async with client(app) as c:
        assert (await c.post(PATH, json=NEW, headers=AUTH)).status_code == 200
        assert (await c.post("/v1/chat/completions", json=chat("support-router"))).status_code == 200
        listed = (await c.get(PATH, headers=AUTH)).json()
        assert listed["meta"]["total"] == 2
    await app.aclose()
