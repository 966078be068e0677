"""The ledger of calls and what `tollway report` makes of it."""

import asyncio
import contextlib
import json
from decimal import Decimal
from pathlib import Path

from tollway import Router, RulesClassifier
from tollway.cli import main
from tollway.config import load_config
from tollway.cost import request_cost
from tollway.decision import Usage
from tollway.money import from_units
from tollway.records import SqliteRecords
from tollway.report import summarize
from tollway.simulate import Fault, SimulatedProvider

TUTORIAL = json.loads((Path(__file__).parent.parent / "examples" / "tutorial-router.json").read_text())
RULES = RulesClassifier({"classify": r"\bclassify\b", "customer-qa": r"account"})
QA = [{"role": "user", "content": "How do I close my account?"}]
CLASSIFY = [{"role": "user", "content": "Classify this ticket: the app crashes on start."}]
OTHER = [{"role": "user", "content": "Write a limerick about cats."}]


async def route_some_traffic(router):
    completions = [await router.chat(m) for m in (QA, QA, CLASSIFY, OTHER)]
    stream = await router.stream(QA)
    await stream.text()
    router.simulator.faults["llama3.3-70b-instruct"] = Fault(status=503)
    with contextlib.suppress(Exception):
        await router.chat(OTHER)
    return completions, stream


async def test_every_call_leaves_a_record_with_route_model_and_exact_cost(tmp_path):
    async with Router(
        load_config(TUTORIAL), classifier=RULES, simulate=True, records=f"sqlite://{tmp_path}/calls.db"
    ) as router:
        completions, stream = await route_some_traffic(router)
        records = await router.records.query()
    assert [r.route for r in records] == [
        "customer-qa",
        "customer-qa",
        "classify",
        "fallback",
        "customer-qa",
        "fallback",
    ]
    assert [r.status for r in records][-1] == "all_candidates_failed"
    for record, served in zip(records, [*completions, stream], strict=False):
        assert record.model == served.decision.model
        assert from_units(record.actual_units) == served.decision.actual_cost
    # Durable: a new store on the same file reads them back.
    again = SqliteRecords(str(tmp_path / "calls.db"))
    assert [r.request_id for r in await again.query()] == [r.request_id for r in records]
    await again.aclose()


async def test_the_summary_adds_up(tmp_path):
    async with Router(load_config(TUTORIAL), classifier=RULES, simulate=True) as router:
        completions, stream = await route_some_traffic(router)
        records = await router.records.query()
        catalog = router.catalog
    summary = summarize(records, catalog, compare=["openai-gpt-5"])
    served = [*completions, stream]
    assert Decimal(summary["spend_usd"]) == sum(c.decision.actual_cost for c in served)
    assert summary["requests"] == 6
    assert summary["match_rate"] == 4 / 6 and summary["fallback_rate"] == 2 / 6
    assert summary["by_route"]["customer-qa"]["requests"] == 3
    assert all(row["over_estimate"] == 0 for row in summary["estimate_error"].values())
    gpt5 = catalog.get("openai-gpt-5")
    expected = sum(
        request_cost(gpt5, Usage(c.usage.prompt_tokens, c.usage.completion_tokens)) for c in completions
    )
    expected += request_cost(gpt5, stream.decision.usage)
    assert Decimal(summary["counterfactual"]["openai-gpt-5"]) == expected


async def test_prompt_cache_savings_are_reported():
    provider = SimulatedProvider(prompt_cache=True)
    long_system = {"role": "system", "content": "Policy handbook. " * 900}
    messages = [long_system, {"role": "user", "content": "How do I close my account?"}]
    async with Router(load_config(TUTORIAL), classifier=RULES, simulate=provider) as router:
        await router.chat(messages, session="s-1")
        second = await router.chat(
            [
                *messages,
                {"role": "assistant", "content": "Go to settings."},
                {"role": "user", "content": "And my account data?"},
            ],
            session="s-1",
        )
        records = await router.records.query()
    assert second.usage.cached_tokens >= 1024
    summary = summarize(records, router.catalog)
    sonnet = router.catalog.get("anthropic-claude-4.6-sonnet")
    saved = sonnet.input_cost(second.usage.cached_tokens) - sonnet.input_cost(
        second.usage.cached_tokens, second.usage.cached_tokens
    )
    assert Decimal(summary["cache"]["savings_usd"]) == saved > 0


def test_tollway_report_reads_a_sqlite_ledger(tmp_path, capsys):
    async def traffic():
        async with Router(
            load_config(TUTORIAL), classifier=RULES, simulate=True, records=f"sqlite://{tmp_path}/calls.db"
        ) as router:
            await route_some_traffic(router)

    asyncio.run(traffic())
    capsys.readouterr()  # the calls' own log events
    assert main(["report", "--store", f"sqlite://{tmp_path}/calls.db", "--since", "1h", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["requests"] == 6 and "anthropic-claude-4.6-sonnet" in summary["by_model"]
    assert main(["report", "--store", f"sqlite://{tmp_path}/calls.db", "--compare", "openai-gpt-5"]) == 0
    out = capsys.readouterr().out
    assert "match rate 66.7%" in out and "openai-gpt-5" in out
