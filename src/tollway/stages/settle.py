"""What a call cost, from the upstream's ``usage`` or, when it reported none, from what is known."""

from __future__ import annotations

from typing import Any

from ..catalog import ModelSpec
from ..cost import request_cost
from ..decision import Decision, Usage
from ..estimate import input_tokens, output_bound
from ..pipeline import Call
from ..stats import OutputStats
from ..tokens import count_text


def settle(decision: Decision, model: ModelSpec, usage: dict[str, Any] | None, stats: OutputStats) -> None:
    decision.usage = Usage.from_openai(usage)
    decision.actual_cost = request_cost(model, decision.usage)
    stats.observe(decision.route, model.slug, decision.usage.completion_tokens)


def settle_unreported(call: Call, model: ModelSpec, text: str, stats: OutputStats) -> None:
    """The upstream reported no usage (a stream cut short, a server that omits it). A model
    without hidden tokens produced what was delivered: bill the prompt and that text. A reasoning
    model spent hidden tokens we cannot see: bill the bound the call was allowed, so that a
    budget is never undercharged."""
    prompt = input_tokens(call.request, model)
    if model.reasoning:
        completion = output_bound(call.request, model, call.decision.token_floor)
        why = "billed the bound: a reasoning model's hidden tokens are not visible"
    else:
        completion = count_text(text, model) if text else 0
        why = "billed the prompt and the tokens delivered"
    call.decision.usage = Usage(prompt, completion)
    call.decision.actual_cost = request_cost(model, call.decision.usage)
    call.decision.notes.append(f"no usage reported by the upstream: {why}")


def cost_fields(decision: Decision) -> dict[str, Any]:
    return {
        "route": decision.route,
        "model": decision.model,
        "cost_usd": str(decision.actual_cost) if decision.actual_cost is not None else None,
        "estimated_cost_usd": str(decision.estimated_cost) if decision.estimated_cost is not None else None,
    }
