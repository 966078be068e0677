"""The commands a user types first: demo, route, eval, models."""

import json
from pathlib import Path

from tollway.cli import main

ROOT = Path(__file__).parent.parent
TUTORIAL = ROOT / "examples" / "tutorial-router.json"


def test_the_demo_routes_each_prompt_and_prints_the_projection(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    rows = {line[:28].strip(): line[28:].split() for line in out.splitlines() if line[:28].strip()}
    assert rows["classify a ticket"][:2] == ["classify", "openai-gpt-oss-20b"]
    assert rows["product question"][:2] == ["customer-qa", "anthropic-claude-4.6-sonnet"]
    assert rows["multi-step reasoning"][:2] == ["reasoning", "openai-gpt-5"]
    assert rows["follow-up in a conversation"][:2] == ["customer-qa", "anthropic-claude-4.6-sonnet"]
    assert rows["something else entirely"][:2] == ["fallback", "llama3.3-70b-instruct"]
    assert "raised to the reasoning floor 4096" in out
    assert "$2,850.30" in out and "39.6%" in out


def test_route_explains_without_calling_a_model(capsys):
    prompt = "Classify this support ticket as billing, bug, how-to or account: I cannot log in."
    assert main(["route", "--config", str(TUTORIAL), prompt]) == 0
    out = capsys.readouterr().out
    assert "route:      classify" in out and "policy:     cheapest" in out
    assert "1. openai-gpt-oss-20b" in out and "2. llama3.3-70b-instruct" in out
    assert "scores:" in out


def test_eval_reports_accuracy_as_json(tmp_path, capsys):
    rows = [
        {
            "messages": [
                {
                    "role": "user",
                    "content": "Label this ticket (billing, bug, how-to, account): refund please",
                }
            ],
            "route": "classify",
        },
        {
            "messages": [{"role": "user", "content": "How do I change my subscription plan?"}],
            "route": "customer-qa",
        },
        {"messages": [{"role": "user", "content": "Write a sonnet about the sea."}], "route": "fallback"},
    ]
    data = tmp_path / "rows.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows))
    assert main(["eval", "--config", str(TUTORIAL), "--data", str(data), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) >= {"accuracy", "per_route", "confusion", "match_rate", "fallback_rate", "latency_ms"}
    assert 0 <= result["accuracy"] <= 1 and set(result["latency_ms"]) >= {"p50", "p99"}


def test_models_lists_the_catalog(capsys):
    assert main(["models"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("openai-gpt-5 "))
    assert line.split()[1:3] == ["$1.25", "$10.00"]


def test_a_bad_config_is_a_clear_error_not_a_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\npolicies: []\n")
    assert main(["route", "--config", str(bad), "hi"]) == 2
    assert "at least one policy" in capsys.readouterr().err


def test_a_reader_that_leaves_early_gets_no_traceback():
    """`tollway models | head -1`: the pipe closes under the command; it stops quietly."""
    import os
    import subprocess
    import sys

    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line is written
    code = "import sys; from tollway.cli import main; sys.exit(main(['models']))"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # stdout block-buffered
    proc = subprocess.run(
        [sys.executable, "-c", code], stdout=write, stderr=subprocess.PIPE, text=True, env=env
    )
    os.close(write)
    assert proc.returncode == 1
    assert proc.stderr == ""
