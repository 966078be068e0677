"""``tollway serve``'s parser and app factory (the uvicorn run itself is covered by the server tests)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import httpx
import pytest

from tollway.serve import ServeOptions, add_serve_parser, build_app, read_config, upstream_transport

TUTORIAL = Path(__file__).parent.parent / "examples" / "tutorial-router.json"


def test_parser_defaults_and_flags() -> None:
    parser = argparse.ArgumentParser()
    add_serve_parser(parser.add_subparsers())
    args = parser.parse_args(
        ["serve", "--config", "r.yaml", "--port", "9000", "--workers", "2", "--simulate"]
    )
    assert (args.config, args.port, args.workers, args.simulate, args.host) == (
        "r.yaml",
        9000,
        2,
        True,
        "127.0.0.1",
    )
    assert callable(args.run)


def test_simulate_without_config_serves_the_tutorial_router() -> None:
    assert list(read_config(ServeOptions(simulate=True)).routers) == ["cost-governance-demo"]
    with pytest.raises(SystemExit, match="--config is required"):
        read_config(ServeOptions())


def test_upstream_client_choice() -> None:
    assert isinstance(upstream_transport(ServeOptions(upstream_client="httpx")), httpx.AsyncHTTPTransport)
    pytest.importorskip("httpx_aiohttp")
    assert type(upstream_transport(ServeOptions(upstream_client="auto"))).__name__ == "AiohttpTransport"


@pytest.mark.skipif(
    not hasattr(__import__("tollway.classify", fromlist=["x"]), "default_classifier"),
    reason="the default classifier has not landed yet",
)
async def test_built_app_answers(tmp_path: Path) -> None:
    options = ServeOptions(config=str(TUTORIAL), simulate=True, store=str(tmp_path / "r.sqlite3"))
    app = build_app(options, admin_token="t")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        listed = await c.get("/v2/gen-ai/models/routers", headers={"authorization": "Bearer t"})
        assert listed.status_code == 200
        body = {"model": "router:cost-governance-demo", "messages": [{"role": "user", "content": "hi"}]}
        assert (await c.post("/v1/chat/completions", content=json.dumps(body))).status_code == 200
    await app.aclose()


@pytest.mark.parametrize("token", [None, "s3cret-admin-token"])
def test_start_up_announces_the_dashboard_without_the_token(
    token: str | None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tollway.serve import TOKEN_ENV, announce

    if token:
        monkeypatch.setenv(TOKEN_ENV, token)
    else:
        monkeypatch.delenv(TOKEN_ENV, raising=False)
    options = ServeOptions(simulate=True, upstream_client="httpx")
    args = argparse.Namespace(host="127.0.0.1", port=8123, workers=1)
    announce(read_config(options), options, args)
    out = capsys.readouterr().out
    if token:
        assert "dashboard on http://127.0.0.1:8123/dashboard#token=<admin token>" in out
        assert token not in out
    else:
        assert "dashboard on http://127.0.0.1:8123/dashboard " in out


def test_several_workers_with_in_process_stores_are_warned_about() -> None:
    from tollway.config import load_config
    from tollway.serve import shared_state_warnings

    root = Path(__file__).parent.parent
    body = json.loads((root / "examples" / "tutorial-router.json").read_text())
    capped = load_config({**body, "tenants": {"acme": {"budget": {"day": "1"}}}})
    warnings = shared_state_warnings(capped, workers=2)
    assert any("every cap is multiplied" in w for w in warnings)
    assert shared_state_warnings(capped, workers=1) == []
    shared = load_config(
        {
            **body,
            "tenants": {"acme": {"budget": {"day": "1"}}},
            "settings": {
                "budget_store": "redis://127.0.0.1:6379/0",
                "affinity_store": "redis://127.0.0.1:6379/0",
                "records_store": "sqlite:///calls.db",
            },
        }
    )
    assert shared_state_warnings(shared, workers=4) == []
