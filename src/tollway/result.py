"""What ``Router.chat`` and ``Router.stream`` return: the OpenAI body plus the decision."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from openai.types.chat import ChatCompletion

from .decision import Decision, Usage
from .headers import decision_headers
from .streams import aclose


@dataclass
class Completion:
    """A chat completion (``body``, the OpenAI JSON) and how it was routed (``decision``)."""

    body: dict[str, Any]
    decision: Decision
    extra_headers: dict[str, str] = field(default_factory=dict)

    @property
    def model(self) -> str:
        return str(self.body.get("model", ""))

    @property
    def content(self) -> str | None:
        return message_content(self.body)

    @property
    def usage(self) -> Usage:
        return Usage.from_openai(self.body.get("usage"))

    @property
    def headers(self) -> dict[str, str]:
        """The headers a door would send: the routing headers and the stages' own."""
        return {**decision_headers(self.decision), **self.extra_headers}

    def to_openai(self) -> ChatCompletion:
        return ChatCompletion.model_validate(self.body)


def message_content(body: dict[str, Any]) -> str | None:
    """The first choice's message content of a chat completion body, if it is text."""
    choices = body.get("choices") or [{}]
    content = (choices[0].get("message") or {}).get("content")
    return content if isinstance(content, str) else None


class CompletionStream:
    """Chunks as they arrive; ``decision`` gains the usage and cost once the stream ends."""

    def __init__(
        self, chunks: AsyncIterator[dict[str, Any]], decision: Decision, headers: dict[str, str] | None = None
    ) -> None:
        self._chunks = chunks
        self.decision = decision
        self.extra_headers = headers or {}

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._chunks

    async def aclose(self) -> None:
        await aclose(self._chunks)

    async def text(self) -> str:
        """Read the whole stream and return the content it carried."""
        parts = []
        async for chunk in self._chunks:
            for choice in chunk.get("choices") or []:
                parts.append((choice.get("delta") or {}).get("content") or "")
        return "".join(parts)
