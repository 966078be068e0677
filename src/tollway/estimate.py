"""Pre-call estimates: prompt tokens, an output bound and the cost of a request on a model."""

from __future__ import annotations

from decimal import Decimal

from .catalog import ModelSpec
from .cost import request_cost
from .decision import Usage
from .pipeline import ChatRequest
from .tokens import count_messages

# Without max tokens in the request, bound the answer by this share of the model's max output.
DEFAULT_OUTPUT_SHARE = 4


def input_tokens(request: ChatRequest, model: ModelSpec) -> int:
    tools = request.params.get("tools")
    return count_messages(request.messages, model, tools=tools if isinstance(tools, list) else None)


def output_bound(request: ChatRequest, model: ModelSpec, floor: int | None) -> int:
    """The most completion tokens this call may produce on ``model``."""
    requested = request.max_tokens()
    if requested is None:
        bound = model.max_output // DEFAULT_OUTPUT_SHARE
        if model.reasoning and floor:
            bound = max(bound, floor)
        return bound
    if model.reasoning and floor:
        requested = max(requested, floor)
    return min(requested, model.max_output)


def estimate_cost(request: ChatRequest, model: ModelSpec, floor: int | None) -> Decimal:
    usage = Usage(input_tokens(request, model), output_bound(request, model, floor))
    return request_cost(model, usage)
