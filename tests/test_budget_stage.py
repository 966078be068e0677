"""Budget guardrails through the whole router: caps, reframe, clamp, reject, settle, release."""

import asyncio
import json
from decimal import Decimal
from pathlib import Path

import anyio
import pytest

from tollway import Router, RulesClassifier
from tollway.budget import BudgetExceeded, MemoryLedger, SqliteLedger
from tollway.config import load_config
from tollway.money import from_units, to_units
from tollway.simulate import Fault
from tollway.tenancy import Budget, Tenant, Tenants

TUTORIAL = json.loads((Path(__file__).parent.parent / "examples" / "tutorial-router.json").read_text())
RULES = RulesClassifier(
    {"classify": r"\bclassify\b", "reasoning": r"step by step", "customer-qa": r"account"}
)
QA = [{"role": "user", "content": "How do I close my account?"}]
REASONING = [{"role": "user", "content": "Work out step by step how many servers we need for 1,200 rps."}]


def tutorial(**task_changes):
    policies = [dict(p) for p in TUTORIAL["policies"]]
    for i, policy in enumerate(policies):
        policies[i] = {**policy, **task_changes.get(policy["custom_task"]["name"], {})}
    return load_config({**TUTORIAL, "policies": policies})


def router_for(budget, ledger=None, **task_changes):
    tenants = Tenants([Tenant(name="acme", budget=budget)])
    return Router(
        tutorial(**task_changes),
        classifier=RULES,
        simulate=True,
        tenants=tenants,
        ledger=ledger or MemoryLedger(),
    )


async def test_a_request_over_the_per_request_cap_is_rejected_with_the_cap_named():
    async with router_for(Budget(per_request=Decimal("0.01"))) as router:
        with pytest.raises(BudgetExceeded) as info:
            await router.chat(REASONING, tenant="acme", max_completion_tokens=8000)
        error = info.value
        assert error.status == 429 and error.code == "budget_exceeded"
        assert error.headers["x-should-retry"] == "false"
        assert "per-request" in error.message.lower() and "$0.01" in error.message
        assert sum(router.simulator.calls.values()) == 0  # nothing was called, nothing spent
        # Other tenants are not capped.
        assert (await router.chat(REASONING, tenant="other", max_completion_tokens=8000)).content


async def test_reframe_moves_an_over_budget_reasoning_request_to_the_cheaper_task():
    changes = {"reasoning": {"over_budget": "reframe", "reframe_to": "customer-qa"}}
    async with router_for(Budget(per_request=Decimal("0.01")), **changes) as router:
        completion = await router.chat(REASONING, tenant="acme", max_completion_tokens=600)
    decision = completion.decision
    assert decision.reframed_from == "reasoning" and decision.route == "customer-qa"
    assert completion.model == "anthropic-claude-4.6-sonnet"  # 600 tokens on Sonnet fit $0.01
    assert completion.headers["x-tollway-reframed-from"] == "reasoning"
    assert decision.actual_cost <= Decimal("0.01")


async def test_reframe_prefers_a_cheaper_model_of_the_same_pool():
    changes = {"customer-qa": {"over_budget": "reframe"}}
    async with router_for(Budget(per_request=Decimal("0.005")), **changes) as router:
        completion = await router.chat(QA, tenant="acme", max_completion_tokens=1000)
    assert completion.decision.route == "customer-qa"
    assert completion.model == "llama3.3-70b-instruct"
    assert completion.decision.reframed_model_from == "anthropic-claude-4.6-sonnet"
    assert completion.decision.reframed_from is None  # the task stayed
    assert completion.headers["x-tollway-reframed-from-model"] == "anthropic-claude-4.6-sonnet"


async def test_clamp_lowers_max_tokens_to_fit_but_never_below_the_reasoning_floor():
    changes = {"customer-qa": {"over_budget": "clamp"}, "reasoning": {"over_budget": "clamp"}}
    async with router_for(Budget(per_request=Decimal("0.003")), **changes) as router:
        completion = await router.chat(QA, tenant="acme", max_completion_tokens=4000)
        sent = router.simulator.requests[-1]
        assert completion.model == "anthropic-claude-4.6-sonnet"
        assert 16 <= sent["max_tokens"] < 200  # $0.003 buys under 200 Sonnet output tokens
        assert completion.decision.actual_cost <= Decimal("0.003")
        # GPT-5 needs 4,096 tokens of room on a reasoning path: $0.003 cannot buy that.
        with pytest.raises(BudgetExceeded):
            await router.chat(REASONING, tenant="acme", max_completion_tokens=8000)


async def test_settles_the_actual_cost_and_reports_the_remaining_budget():
    ledger = MemoryLedger()
    async with router_for(Budget(day=Decimal("1.00")), ledger=ledger) as router:
        completion = await router.chat(QA, tenant="acme")
        settled, reserved = await ledger.spend("acme", "day")
    assert reserved == 0
    assert settled == to_units(completion.decision.actual_cost)
    remaining = Decimal(completion.headers["x-tollway-budget-remaining"])
    assert remaining == Decimal("1.00") - from_units(settled)


async def test_a_failed_call_releases_its_reservation():
    ledger = MemoryLedger()
    async with router_for(Budget(day=Decimal("1.00")), ledger=ledger) as router:
        for model in ("anthropic-claude-4.6-sonnet", "llama3.3-70b-instruct"):
            router.simulator.faults[model] = Fault(status=503)
        with pytest.raises(Exception, match="every candidate model failed"):
            await router.chat(QA, tenant="acme")
        assert await ledger.spend("acme", "day") == (0, 0)


async def test_a_stream_settles_at_the_end_and_when_the_client_leaves_early():
    ledger = MemoryLedger()
    async with router_for(Budget(day=Decimal("1.00")), ledger=ledger) as router:
        stream = await router.stream(QA, tenant="acme")
        assert await stream.text()
        full = await ledger.spend("acme", "day")
        assert full == (to_units(stream.decision.actual_cost), 0)

        stream = await router.stream(QA, tenant="acme")
        async for _ in stream:
            break  # the client goes away after one chunk
        await stream.aclose()
        settled, reserved = await ledger.spend("acme", "day")
    assert reserved == 0
    partial = settled - full[0]
    assert 0 < partial < full[0]  # the prompt and what was delivered, not the whole answer
    note = "no usage reported by the upstream: billed the prompt and the tokens delivered"
    assert note in stream.decision.notes


@pytest.mark.parametrize("store", ["memory", "sqlite"])
async def test_500_concurrent_requests_never_overspend_a_small_cap(tmp_path, store):
    ledger = MemoryLedger() if store == "memory" else SqliteLedger(str(tmp_path / "ledger.db"))
    limit = Decimal("0.05")
    async with router_for(Budget(day=limit), ledger=ledger) as router:
        results = await asyncio.gather(
            *(router.chat(QA, tenant="acme", max_completion_tokens=300) for _ in range(500)),
            return_exceptions=True,
        )
        settled, reserved = await ledger.spend("acme", "day")
    served = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert served and refused
    assert all(isinstance(r, BudgetExceeded) and "daily cap of $0.05" in r.message for r in refused)
    assert reserved == 0
    assert from_units(settled) == sum(c.decision.actual_cost for c in served) <= limit


async def test_a_capped_tenant_without_max_tokens_gets_the_bound_it_is_reserved_for():
    async with router_for(Budget(day=Decimal("5"))) as router:
        completion = await router.chat(QA, tenant="acme")
        assert router.simulator.requests[-1]["max_tokens"] == 4096
        assert "tenant has budget caps" in " ".join(completion.decision.notes)
        await router.chat(QA, tenant="free")  # no caps: the request goes as sent
        assert "max_tokens" not in router.simulator.requests[-1]


async def test_a_stream_closed_before_it_is_read_still_settles_and_is_recorded():
    ledger = MemoryLedger()
    async with router_for(Budget(day=Decimal("1.00")), ledger=ledger) as router:
        stream = await router.stream(QA, tenant="acme")
        await stream.aclose()  # the client hung up before the first chunk
        settled, reserved = await ledger.spend("acme", "day")
        records = await router.records.query()
    assert reserved == 0 and settled == to_units(stream.decision.actual_cost) > 0  # the prompt was read
    assert records[-1].status == "client_closed"


async def test_a_call_cancelled_with_a_request_out_is_settled_in_full_not_released():
    ledger = MemoryLedger()
    async with router_for(Budget(day=Decimal("1.00")), ledger=ledger) as router:
        router.simulator.faults["anthropic-claude-4.6-sonnet"] = Fault(hang=True)
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: router.chat(QA, tenant="acme", max_completion_tokens=100))
            await anyio.sleep(0.2)
            tg.cancel_scope.cancel()
        settled, reserved = await ledger.spend("acme", "day")
        records = await router.records.query()
    assert reserved == 0
    assert settled > 0  # the upstream may bill a cancelled request: the reservation is kept as spend
    assert records[-1].status == "cancelled"


async def test_a_window_refusal_drops_a_pricey_fallback_before_rejecting():
    config = load_config({**TUTORIAL, "fallback_models": ["anthropic-claude-opus-4.7"]})
    tenants = Tenants([Tenant(name="acme", budget=Budget(day=Decimal("0.05")))])
    async with Router(config, classifier=RULES, simulate=True, tenants=tenants) as router:
        completion = await router.chat(QA, tenant="acme", max_completion_tokens=2500)
    # Sonnet's 2,500 tokens fit $0.05; Opus's would not, so the fallback is dropped, not fatal.
    assert completion.model == "anthropic-claude-4.6-sonnet"
    assert "anthropic-claude-opus-4.7" not in completion.decision.candidates


async def test_tenants_without_window_caps_never_touch_the_ledger():
    ledger = MemoryLedger()
    async with router_for(Budget(per_request=Decimal("1.00")), ledger=ledger) as router:
        await router.chat(QA, tenant="acme")
        await router.chat(QA, tenant="nobody")
        assert await ledger.spend("acme", "day") == (0, 0)
        assert await ledger.spend("nobody", "day") == (0, 0)


async def test_the_lease_comes_from_settings():
    config = load_config({**TUTORIAL, "settings": {"budget_lease_s": 3600}})
    async with Router(config, classifier=RULES, simulate=True) as router:
        assert router.pipeline["budget"].lease_s == 3600
    async with Router(load_config(TUTORIAL), classifier=RULES, simulate=True) as router:
        assert router.pipeline["budget"].lease_s == 900
