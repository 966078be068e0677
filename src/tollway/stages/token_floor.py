"""Reasoning paths get a ``max_completion_tokens`` floor.

Reasoning models spend part of the completion budget on hidden reasoning: GPT-5 with 1,024 tokens
on a reasoning prompt returned no content at all. The floor is per task (``token_floor``), else the
router's (4,096 by default); it applies to reasoning models only, when the request sets a limit.
"""

from __future__ import annotations

from typing import Any

from ..pipeline import Call, Next, Reply


class TokenFloor:
    async def __call__(self, call: Call, next: Next) -> Reply:
        self.apply(call)
        return await next(call)

    @staticmethod
    def apply(call: Call) -> None:
        task = call.task()
        floor = task.token_floor if task is not None and task.token_floor is not None else None
        call.decision.token_floor = call.router.token_floor if floor is None else floor


def apply_floor(params: dict[str, Any], floor: int | None) -> dict[str, Any]:
    """A copy of ``params`` whose max tokens are at least ``floor`` (when a limit is set)."""
    if not floor:
        return params
    out = dict(params)
    for name in ("max_completion_tokens", "max_tokens"):
        value = out.get(name)
        if isinstance(value, int) and value < floor:
            out[name] = floor
    return out
