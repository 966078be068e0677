"""Pre-call estimates: prompt tokens, an output bound, and costs.

Two figures per model: ``bound_cost`` (the most the call may cost: what a budget reserves) and
``expected_cost`` (what it will likely cost: what ``cheapest`` compares).
"""

from __future__ import annotations

from decimal import Decimal

from .catalog import ModelSpec
from .cost import request_cost
from .decision import Usage
from .pipeline import ChatRequest
from .stats import OutputStats
from .tokens import count_messages

# Without max tokens in the request or enough history, bound the answer by this many tokens (or
# the model's max output when lower). Budgets enforce it by setting max_completion_tokens.
DEFAULT_OUTPUT_BOUND = 4096


def input_tokens(request: ChatRequest, model: ModelSpec) -> int:
    tools = request.params.get("tools")
    return count_messages(request.messages, model, tools=tools if isinstance(tools, list) else None)


def output_bound(
    request: ChatRequest, model: ModelSpec, floor: int | None, learned: int | None = None
) -> int:
    """The most completion tokens this call may produce on ``model``."""
    requested = request.max_tokens()
    if requested is None:
        bound = learned if learned is not None else DEFAULT_OUTPUT_BOUND
        if model.reasoning and floor:
            bound = max(bound, floor)
        return min(bound, model.max_output)
    if model.reasoning and floor:
        requested = max(requested, floor)
    return min(requested, model.max_output)


def bound_cost(
    request: ChatRequest, model: ModelSpec, floor: int | None, learned: int | None = None
) -> Decimal:
    usage = Usage(input_tokens(request, model), output_bound(request, model, floor, learned))
    return request_cost(model, usage)


def expected_cost(
    request: ChatRequest, model: ModelSpec, floor: int | None, route: str, stats: OutputStats
) -> Decimal:
    typical = min(stats.expected(route, model.slug), output_bound(request, model, floor))
    return request_cost(model, Usage(input_tokens(request, model), typical))
