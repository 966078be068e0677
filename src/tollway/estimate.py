"""Pre-call estimates: prompt tokens, an output bound, and costs.

Two figures per model: ``bound_cost`` (the most the call may cost: what a budget reserves) and
``expected_cost`` (what it will likely cost: what ``cheapest`` compares).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import anyio

from .catalog import ModelSpec
from .cost import request_cost
from .decision import Usage
from .pipeline import ChatRequest
from .stats import OutputStats
from .tokens import count_messages, tokenizer_for

# Without max tokens in the request or enough history, bound the answer by this many tokens (or
# the model's max output when lower). Budgets enforce it by setting max_completion_tokens.
DEFAULT_OUTPUT_BOUND = 4096


def input_tokens(request: ChatRequest, model: ModelSpec) -> int:
    """Prompt tokens of ``request`` on ``model``, counted once per tokenizer and request: several
    stages ask for every candidate, and a long prompt costs real time to count."""
    tokenizer = tokenizer_for(model)
    counted = request.token_counts.get(tokenizer)
    if counted is None:
        tools = request.params.get("tools")
        counted = count_messages(request.messages, model, tools=tools if isinstance(tools, list) else None)
        request.token_counts[tokenizer] = counted
    return counted


# Above this many characters of prompt, counting tokens takes long enough to stall other requests:
# it moves to a worker thread.
LONG_PROMPT_CHARS = 65_536


async def count_ahead(request: ChatRequest, models: Iterable[ModelSpec]) -> None:
    """Count a long prompt's tokens for ``models`` in a worker thread, so that later estimates
    (which are synchronous) find them counted and the event loop stays free."""
    if sum(len(str(m.get("content") or "")) for m in request.messages) < LONG_PROMPT_CHARS:
        return
    for model in models:
        if tokenizer_for(model) not in request.token_counts:
            await anyio.to_thread.run_sync(input_tokens, request, model)


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
