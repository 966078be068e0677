"""The stage pipeline.

A stage is ``async def __call__(self, call, next) -> Reply``: it may act before the rest of the
pipeline, after it, or instead of it. A pipeline is an ordered list of named stages; composing,
inserting and replacing stages is list work.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .decision import Decision

if TYPE_CHECKING:
    from .config import RouterConfig, TaskPolicy


@dataclass
class ChatRequest:
    """An OpenAI chat completion request. ``params`` holds every field but model and messages,
    passed upstream as given (after stages such as the token floor adjust them)."""

    messages: list[dict[str, Any]]
    params: dict[str, Any] = field(default_factory=dict)
    # Prompt tokens per tokenizer, filled by ``estimate.input_tokens`` (messages do not change).
    token_counts: dict[Any, int] = field(default_factory=dict, repr=False, compare=False)

    @property
    def stream(self) -> bool:
        return bool(self.params.get("stream"))

    def max_tokens(self) -> int | None:
        value = self.params.get("max_completion_tokens", self.params.get("max_tokens"))
        return None if value is None else int(value)


@dataclass
class Call:
    """Everything about one routed call. Per-request state lives here, never on a stage."""

    router: RouterConfig
    request: ChatRequest
    tenant: str = "default"
    session: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    request_id: str = field(default_factory=lambda: f"req-{uuid.uuid4().hex}")
    decision: Decision = field(init=False)
    extras: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.decision = Decision(router=self.router.name, session=self.session)

    def task(self) -> TaskPolicy | None:
        """The policy of the task the call is routed to (None on the fallback)."""
        return self.router.task(self.decision.task) if self.decision.task else None


@dataclass
class Reply:
    """A completion (``body``) or a stream of chunks (``stream``), with the decision."""

    decision: Decision
    body: dict[str, Any] | None = None
    stream: AsyncIterator[dict[str, Any]] | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


Next = Callable[[Call], Awaitable[Reply]]


class Stage(Protocol):
    async def __call__(self, call: Call, next: Next) -> Reply: ...


async def _end(call: Call) -> Reply:
    raise RuntimeError("the pipeline ended without a stage producing a reply (is dispatch missing?)")


class Pipeline:
    """Named stages run in order. The last stage is expected to answer without calling next."""

    def __init__(self, stages: list[tuple[str, Stage]] | None = None) -> None:
        self._stages: list[tuple[str, Stage]] = []
        self._compose()
        for name, stage in stages or []:
            self.append(name, stage)

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self._stages]

    def __getitem__(self, name: str) -> Stage:
        return self._stages[self._index(name)][1]

    def append(self, name: str, stage: Stage) -> Pipeline:
        if name in self.names:
            raise ValueError(f"a stage named {name!r} is already in the pipeline")
        self._stages.append((name, stage))
        self._compose()
        return self

    def insert(
        self, name: str, stage: Stage, *, before: str | None = None, after: str | None = None
    ) -> Pipeline:
        if (before is None) == (after is None):
            raise ValueError("give exactly one of before= or after=")
        if name in self.names:
            raise ValueError(f"a stage named {name!r} is already in the pipeline")
        at = self._index(before) if before is not None else self._index(after or "") + 1
        self._stages.insert(at, (name, stage))
        self._compose()
        return self

    def replace(self, name: str, stage: Stage) -> Pipeline:
        self._stages[self._index(name)] = (name, stage)
        self._compose()
        return self

    def remove(self, name: str) -> Pipeline:
        del self._stages[self._index(name)]
        self._compose()
        return self

    def copy(self) -> Pipeline:
        return Pipeline(list(self._stages))

    async def __call__(self, call: Call) -> Reply:
        return await self._entry(call)

    def _index(self, name: str) -> int:
        for i, (existing, _) in enumerate(self._stages):
            if existing == name:
                return i
        raise KeyError(f"no stage named {name!r}; stages are {', '.join(self.names)}")

    def _compose(self) -> None:
        # Built once per change, not per call: each stage's `next` is a closure over the rest.
        handler: Next = _end
        for _, stage in reversed(self._stages):
            handler = _link(stage, handler)
        self._entry = handler


def _link(stage: Stage, rest: Next) -> Next:
    async def run(call: Call) -> Reply:
        return await stage(call, rest)

    return run
