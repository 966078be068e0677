"""The control plane: the managed router's CRUD shape, its errors, persistence, credentials."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tollway import Router, RulesClassifier
from tollway.config import load_config
from tollway.server.app import TollwayApp
from tollway.server.auth import Credentials
from tollway.server.chat import MAX_BODY_BYTES
from tollway.simulate import Latency, SimulatedProvider
from tollway.stores.routers import SQLiteRouterStore

TUTORIAL = json.loads((Path(__file__).parent.parent / "examples" / "tutorial-router.json").read_text())
RULES = RulesClassifier({"classify": r"classify", "customer-qa": r"account", "reasoning": r"step by step"})
ADMIN = "admin-secret-1"
ACME_KEY = "sk-acme-123"
PATH = "/v2/gen-ai/models/routers"
NEW = {**TUTORIAL, "name": "support-router"}


def make_app(db: Path, max_body_bytes: int = MAX_BODY_BYTES, **credentials: Any) -> TollwayApp:
    router = Router(
        load_config(TUTORIAL), classifier=RULES, simulate=SimulatedProvider(latency={"*": Latency()})
    )
    options = {"admin_token": ADMIN, **credentials}
    return TollwayApp(
        router,
        credentials=Credentials(**options),
        store=SQLiteRouterStore(db),
        max_body_bytes=max_body_bytes,
        owns_router=True,
    )


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[TollwayApp]:
    app = make_app(tmp_path / "routers.sqlite3", tenants={"acme": {"api_keys": [f"plain:{ACME_KEY}"]}})
    yield app
    await app.aclose()


@pytest.fixture
async def admin(app: TollwayApp) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"authorization": f"Bearer {ADMIN}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://t", headers=headers
    ) as c:
        yield c


@pytest.fixture
async def tenant(app: TollwayApp) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"authorization": f"Bearer {ACME_KEY}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://t", headers=headers
    ) as c:
        yield c


def chat(name: str) -> dict[str, Any]:
    return {"model": f"router:{name}", "messages": [{"role": "user", "content": "please classify this"}]}


async def test_create_returns_the_managed_shape_and_is_invocable_at_once(
    admin: httpx.AsyncClient, tenant: httpx.AsyncClient
) -> None:
    response = await admin.post(PATH, json=NEW)
    assert response.status_code == 200, response.text
    router = response.json()["model_router"]
    assert router["name"] == "support-router"
    assert set(router) >= {"uuid", "name", "description", "config", "created_at", "updated_at"}
    assert router["config"]["fallback_models"] == ["llama3.3-70b-instruct"]
    assert [p["custom_task"]["name"] for p in router["config"]["policies"]] == [
        "classify",
        "customer-qa",
        "reasoning",
    ]
    served = await tenant.post("/v1/chat/completions", json=chat("support-router"))
    assert served.status_code == 200
    assert served.headers["x-model-router-selected-route"] == "classify"
    listed = await tenant.get("/v1/models")
    assert "router:support-router" in [m["id"] for m in listed.json()["data"]]


async def test_duplicate_name_is_the_managed_routers_400(admin: httpx.AsyncClient) -> None:
    assert (await admin.post(PATH, json=NEW)).status_code == 200
    again = await admin.post(PATH, json=NEW)
    assert again.status_code == 400
    body = again.json()
    assert body["id"] == "invalid_argument"
    assert body["message"].endswith("model router name already exists")
    from_file = await admin.post(PATH, json=TUTORIAL)  # the config file's router holds that name
    assert from_file.status_code == 400 and "already exists" in from_file.json()["message"]


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (
            {
                "policies": [
                    {
                        **TUTORIAL["policies"][0],
                        "models": [
                            "openai-gpt-5",
                            "openai-gpt-5-mini",
                            "openai-gpt-5-nano",
                            "openai-gpt-oss-20b",
                        ],
                    }
                ]
            },
            "at most 3",
        ),
        ({"fallback_models": ["no-such-model"]}, "unknown model"),
        ({"colour": "blue"}, "unknown field"),
        ({"name": "bad name!"}, "name"),
    ],
)
async def test_invalid_bodies_are_400_invalid_argument(
    admin: httpx.AsyncClient, change: dict[str, Any], needle: str
) -> None:
    response = await admin.post(PATH, json={**NEW, **change})
    assert response.status_code == 400
    assert response.json()["id"] == "invalid_argument"
    assert needle in response.json()["message"]


async def test_malformed_json_on_the_control_plane(admin: httpx.AsyncClient) -> None:
    response = await admin.post(PATH, content=b"{oops")
    assert response.status_code == 400 and response.json()["id"] == "invalid_argument"


async def test_get_list_update_delete(admin: httpx.AsyncClient, tenant: httpx.AsyncClient) -> None:
    uuid = (await admin.post(PATH, json=NEW)).json()["model_router"]["uuid"]
    got = await admin.get(f"{PATH}/{uuid}")
    assert got.json()["model_router"]["name"] == "support-router"
    listed = (await admin.get(PATH)).json()
    assert [r["name"] for r in listed["model_routers"]] == ["cost-governance-demo", "support-router"]
    assert listed["meta"]["total"] == 2

    updated = await admin.put(
        f"{PATH}/{uuid}", json={"name": "support-v2", "fallback_models": ["openai-gpt-5"]}
    )
    assert updated.status_code == 200
    assert updated.json()["model_router"]["config"]["fallback_models"] == ["openai-gpt-5"]
    assert (await tenant.post("/v1/chat/completions", json=chat("support-router"))).status_code == 404
    assert (await tenant.post("/v1/chat/completions", json=chat("support-v2"))).status_code == 200

    deleted = await admin.delete(f"{PATH}/{uuid}")
    assert deleted.json() == {"uuid": uuid}
    assert (await admin.get(f"{PATH}/{uuid}")).status_code == 404
    assert (await tenant.post("/v1/chat/completions", json=chat("support-v2"))).status_code == 404


async def test_config_file_routers_are_listed_read_only(admin: httpx.AsyncClient) -> None:
    listed = (await admin.get(PATH)).json()["model_routers"]
    uuid = listed[0]["uuid"]
    assert listed[0]["source"] == "config"
    assert (await admin.get(f"{PATH}/{uuid}")).json()["model_router"]["name"] == "cost-governance-demo"
    refused = await admin.delete(f"{PATH}/{uuid}")
    assert refused.status_code == 409 and "config file" in refused.json()["message"]


async def test_routers_survive_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "routers.sqlite3"
    first = make_app(db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(first), base_url="http://t") as c:
        created = await c.post(PATH, json=NEW, headers={"authorization": f"Bearer {ADMIN}"})
        assert created.status_code == 200
    await first.aclose()
    second = make_app(db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(second), base_url="http://t") as c:
        served = await c.post("/v1/chat/completions", json=chat("support-router"))
        assert served.status_code == 200
    await second.aclose()


async def test_another_process_sees_changes_through_the_shared_store(tmp_path: Path) -> None:
    db = tmp_path / "routers.sqlite3"
    one, two = make_app(db), make_app(db)
    auth = {"authorization": f"Bearer {ADMIN}"}
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(one), base_url="http://t") as a,
        httpx.AsyncClient(transport=httpx.ASGITransport(two), base_url="http://t") as b,
    ):
        assert (await a.post(PATH, json=NEW, headers=auth)).status_code == 200
        assert (await b.post("/v1/chat/completions", json=chat("support-router"))).status_code == 200
    await one.aclose()
    await two.aclose()


@pytest.mark.parametrize(
    ("path", "key", "status", "needle"),
    [
        (PATH, None, 401, "missing admin token"),
        (PATH, "wrong", 401, "invalid admin token"),
        (PATH, ACME_KEY, 403, "the control plane takes the admin token"),
        ("/v1/chat/completions", ADMIN, 403, "inference takes a tenant API key"),
        ("/v1/chat/completions", None, 401, "missing API key"),
        ("/v1/chat/completions", "sk-unknown", 401, "unknown API key"),
    ],
)
async def test_each_credential_is_refused_on_the_other_plane(
    app: TollwayApp, path: str, key: str | None, status: int, needle: str
) -> None:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        if path == PATH:
            response = await c.get(path, headers=headers)
            message = response.json()["message"]
        else:
            response = await c.post(path, json=chat("cost-governance-demo"), headers=headers)
            message = response.json()["error"]["message"]
    assert response.status_code == status
    assert needle in message
    assert not key or key not in response.text


async def test_control_plane_is_off_without_an_admin_token(tmp_path: Path) -> None:
    app = make_app(tmp_path / "r.sqlite3", admin_token=None)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        response = await c.post(PATH, json=NEW, headers={"authorization": "Bearer anything"})
    assert response.status_code == 403 and "TOLLWAY_ADMIN_TOKEN" in response.json()["message"]
    await app.aclose()


async def test_an_oversize_body_is_413_request_too_large(tmp_path: Path) -> None:
    app = make_app(tmp_path / "r.sqlite3", max_body_bytes=2_000)
    big = {**NEW, "description": "x" * 5_000}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        response = await c.post(PATH, json=big, headers={"authorization": f"Bearer {ADMIN}"})
    assert response.status_code == 413, response.text
    assert response.json()["id"] == "request_too_large"
    assert "empty" not in response.json()["message"]
    await app.aclose()


async def test_an_empty_body_asks_for_a_router(admin: httpx.AsyncClient) -> None:
    response = await admin.post(PATH, content=b"")
    assert response.status_code == 400
    message = response.json()["message"]
    assert "empty" in message and "router" in message and "chat completion" not in message


async def test_put_with_an_unknown_field_is_a_400(admin: httpx.AsyncClient) -> None:
    uuid = (await admin.post(PATH, json=NEW)).json()["model_router"]["uuid"]
    response = await admin.put(f"{PATH}/{uuid}", json={"colour": "blue"})
    assert response.status_code == 400
    assert response.json()["id"] == "invalid_argument" and "unknown field" in response.json()["message"]


async def test_the_managed_apis_region_and_project_fields_are_accepted_and_echoed(
    admin: httpx.AsyncClient, tenant: httpx.AsyncClient
) -> None:
    created = await admin.post(PATH, json={**NEW, "regions": ["tor1"], "project_id": "p-123"})
    assert created.status_code == 200, created.text
    router = created.json()["model_router"]
    assert router["regions"] == ["tor1"] and router["project_id"] == "p-123"
    assert (await tenant.post("/v1/chat/completions", json=chat("support-router"))).status_code == 200
    updated = await admin.put(f"{PATH}/{router['uuid']}", json={"region": "nyc3", "regions": None})
    assert updated.status_code == 200, updated.text
    assert updated.json()["model_router"]["regions"] == ["nyc3"]


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"policies": "x"}, "policies: must be an array"),
        ({"fallback_models": "abc"}, "fallback_models: must be an array"),
        ({"policies": [1]}, "policies[0]: must be an object"),
        ({"description": 5}, "description: must be a string"),
    ],
)
async def test_validation_messages_are_plain(
    admin: httpx.AsyncClient, change: dict[str, Any], needle: str
) -> None:
    response = await admin.post(PATH, json={**NEW, **change})
    assert response.status_code == 400
    message = response.json()["message"]
    assert needle in message and "Input should be" not in message


async def test_paths_need_a_boundary(admin: httpx.AsyncClient) -> None:
    glued = await admin.get(f"{PATH}X")
    assert glued.status_code == 404 and "no model router" not in glued.text
    assert glued.json()["error"]["code"] == "unknown_url"
    nested = await admin.get(f"{PATH}/abc/def")
    assert nested.status_code == 404 and "no model router" not in nested.text


async def test_405_names_the_allowed_methods(admin: httpx.AsyncClient) -> None:
    response = await admin.delete(PATH)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.json()["id"] == "method_not_allowed"


async def test_errors_do_not_echo_unbounded_input(admin: httpx.AsyncClient) -> None:
    long = "x" * 10_000
    responses = [
        await admin.get(f"{PATH}/{long}"),
        await admin.post(PATH, json={**NEW, long: 1}),
        await admin.post(PATH, json={**NEW, "fallback_models": [long]}),
        await admin.request(long[:2000], PATH),
    ]
    for response in responses:
        assert 400 <= response.status_code < 500
        assert len(response.text) < 1_500, response.text[:200]
