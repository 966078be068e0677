"""tollway eval: metrics, report and command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tollway.classify import Match
from tollway.config import RouterConfig, load_config
from tollway.evaluate import eval_command, evaluate, format_report, load_rows

BODY: dict[str, Any] = {
    "name": "r",
    "policies": [
        {"custom_task": {"name": "a", "description": "Task a."}, "models": ["openai-gpt-oss-20b"]},
        {"custom_task": {"name": "b", "description": "Task b."}, "models": ["openai-gpt-5"]},
    ],
    "fallback_models": ["llama3.3-70b-instruct"],
}
ROUTER: RouterConfig = next(iter(load_config(BODY).routers.values()))


class ByWord:
    """Picks the task named by the prompt's first word ('x' = fallback)."""

    async def classify(self, router: RouterConfig, messages: Any) -> Match:
        words = messages[-1]["content"].split()
        margin = float(words[1]) if len(words) > 1 else 0.0  # "a 0.5": task a with margin 0.5
        return Match(words[0] if words[0] in router.task_names else None, margin=margin)


def rows(*pairs: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"messages": [{"role": "user", "content": t}], "route": r} for t, r in pairs]


def test_metrics() -> None:
    data = rows(
        ("a 1", "a"), ("a 2", "a"), ("b 3", "a"), ("b 4", "b"), ("x 5", "fallback"), ("a 6", "fallback")
    )
    result = evaluate(ROUTER, ByWord(), data)
    assert result["accuracy"] == round(4 / 6, 4)
    assert result["confusion"]["a"] == {"a": 2, "b": 1, "fallback": 0}
    assert result["confusion"]["fallback"] == {"a": 1, "b": 0, "fallback": 1}
    a = result["per_route"]["a"]
    assert a["precision"] == round(2 / 3, 4) and a["recall"] == round(2 / 3, 4)
    assert result["per_route"]["b"]["precision"] == 0.5 and result["per_route"]["b"]["recall"] == 1.0
    assert result["match_rate"] == round(5 / 6, 4) and result["fallback_rate"] == round(1 / 6, 4)
    assert set(result["latency_ms"]) >= {"p50", "p99"}
    text = format_report(result)
    assert "accuracy" in text and "66.7%" in text and "confusion" in text and "fallback" in text


def test_unknown_route_is_reported() -> None:
    result = evaluate(ROUTER, ByWord(), rows(("a 1", "zzz")))
    assert result["unknown_routes"] == ["zzz"] and result["accuracy"] == 0.0


def test_load_rows_errors(tmp_path: Path) -> None:
    p = tmp_path / "d.jsonl"
    p.write_text('{"messages": [], "route": "a"}\n\n{"messages": 1}\n')
    with pytest.raises(ValueError, match=":3:"):
        load_rows(p)


def test_eval_command_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "r.json"
    cfg.write_text(json.dumps(BODY))
    data = tmp_path / "d.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows(("a 1", "a"), ("x", "fallback"))))
    assert eval_command(str(cfg), str(data), as_json=True, classifier=ByWord()) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["accuracy"] == 1.0 and out["match_rate"] == 0.5
    assert {"accuracy", "per_route", "confusion", "match_rate", "fallback_rate", "latency_ms"} <= set(out)
    assert eval_command(str(cfg), str(tmp_path / "missing.jsonl"), classifier=ByWord()) == 2


def test_confident_decisions_are_reported_apart() -> None:
    data = rows(("a 0.5", "a"), ("a 0.2", "fallback"), ("a 0.01", "a"), ("x", "fallback"))
    result = evaluate(ROUTER, ByWord(), data)
    # margins >= 0.10: "a 0.5" (right) and "a 0.2" (wrong)
    assert result["confident"] == {"margin": 0.1, "share": 0.5, "accuracy": 0.5}
    assert result["compiled"] is None  # ByWord cannot say how it compiled a router
    assert "confident      50.0% of requests have a margin >= 0.10, 50.0% of them right" in (
        format_report(result)
    )
    unsure = evaluate(ROUTER, ByWord(), rows(("a 0.01", "a"), ("x", "fallback")))
    assert unsure["confident"] == {"margin": 0.1, "share": 0.0, "accuracy": None}
    assert "0.0% of requests have a margin >= 0.10, n/a of them right" in format_report(unsure)


def test_eval_command_with_the_embedded_default(capsys: pytest.CaptureFixture[str]) -> None:
    root = Path(__file__).resolve().parents[1] / "examples" / "routers"
    assert eval_command(str(root / "polyglot-desk.yaml"), str(root / "polyglot-desk.jsonl")) == 0
    out = capsys.readouterr().out
    assert "router polyglot-desk" in out and "trip-planner" in out
    assert "how the router compiled" in out and "translate: translation" in out
    assert "confident " in out


def test_a_cascade_reports_how_its_primary_compiled_the_router() -> None:
    from tollway.classify import CascadeClassifier, default_classifier

    root = Path(__file__).resolve().parents[1] / "examples" / "routers"
    router = next(iter(load_config(root / "polyglot-desk.yaml").routers.values()))
    class Nobody:
        async def classify(self, router: RouterConfig, messages: Any) -> Match:
            return Match(None, explanation="secondary")

    cascade = CascadeClassifier(default_classifier(), Nobody(), min_margin=0.10)
    result = evaluate(router, cascade, load_rows(root / "polyglot-desk.jsonl")[:5])
    assert result["compiled"] == default_classifier().explain_router(router)
