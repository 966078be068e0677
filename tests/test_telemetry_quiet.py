"""A library does not print: call events stay silent until the application sets up logging."""

import json
import logging
from pathlib import Path

from tollway import Router, RulesClassifier
from tollway.config import load_config

TUTORIAL = json.loads((Path(__file__).parent.parent / "examples" / "tutorial-router.json").read_text())
QA = [{"role": "user", "content": "How do I close my account?"}]


async def test_no_output_without_logging_configured(capsys):
    async with Router(
        load_config(TUTORIAL), classifier=RulesClassifier({"customer-qa": "account"}), simulate=True
    ) as router:
        await router.chat(QA)
    out, err = capsys.readouterr()
    assert out == "" and err == ""


async def test_the_event_reaches_standard_logging_when_the_app_asks(caplog):
    caplog.set_level(logging.INFO, logger="tollway")
    async with Router(
        load_config(TUTORIAL), classifier=RulesClassifier({"customer-qa": "account"}), simulate=True
    ) as router:
        completion = await router.chat(QA, tenant="acme")
    events = [json.loads(r.getMessage()) for r in caplog.records if r.name == "tollway"]
    assert events[-1]["event"] == "tollway.call"
    assert events[-1]["tollway.tenant"] == "acme"
    assert events[-1]["tollway.cost_usd"] == str(completion.decision.actual_cost)
    assert "close my account" not in caplog.text  # prompts are not logged unless opted in
