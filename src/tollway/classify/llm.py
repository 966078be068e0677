"""A classifier that asks a language model to pick the task, with structured output.

It does not know tollway's upstream stack: it takes an async ``chat(model, messages, **params)``
callable that returns an OpenAI ``chat.completion`` body as a dict. The request carries a
``response_format`` JSON schema whose ``task`` is an enum of the router's task names plus
``"none"``; whatever comes back is parsed defensively, and anything unusable means the fallback,
with an explanation saying why.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from ..config import RouterConfig
from .base import Match, Messages
from .embedding import conversation_parts

NONE = "none"


class ChatFn(Protocol):
    def __call__(
        self, model: str, messages: list[dict[str, Any]], **params: Any
    ) -> Awaitable[dict[str, Any]]: ...


SYSTEM = (
    "You route chat requests. Read the conversation and pick the one task whose description fits "
    'what the user wants done. If none fits, answer "none". Reply with JSON only: '
    '{"task": "<task name or none>", "confidence": <0..1>, "reason": "<a few words>"}.'
)


def _schema(names: list[str]) -> dict[str, Any]:
    return {
        "type": "json_schema",
        "json_schema": {
            "name": "route",
            "strict": True,
            "schema": {
                "type": "object",
                "properties": {
                    "task": {"type": "string", "enum": [*names, NONE]},
                    "confidence": {"type": "number"},
                    "reason": {"type": "string"},
                },
                "required": ["task", "confidence", "reason"],
                "additionalProperties": False,
            },
        },
    }


def _prompt(router: RouterConfig, messages: Messages, max_chars: int) -> str:
    lines = ["Tasks:"]
    for p in router.policies:
        lines.append(f"- {p.name}: {p.custom_task.description}")
        for ex in p.custom_task.examples[:3]:
            lines.append(f"    example: {ex[:200]}")
    lines.append(f"- {NONE}: the request fits none of the tasks above")
    last, first, system = conversation_parts(messages)
    lines.append("")
    lines.append("Conversation:")
    if system:
        lines.append(f"[system] {system[: max_chars // 4]}")
    if first:
        lines.append(f"[first user turn] {first[: max_chars // 4]}")
    lines.append(f"[latest user turn] {last[:max_chars]}")
    return "\n".join(lines)


def parse_choice(body: Mapping[str, Any], names: list[str]) -> tuple[str | None, float, str]:
    """(task or None, confidence, note) from a chat.completion body; never raises."""
    try:
        content = body["choices"][0]["message"].get("content")
    except (KeyError, IndexError, TypeError, AttributeError):
        return None, 0.0, "the model's reply had no message"
    if not isinstance(content, str) or not content.strip():
        return None, 0.0, "the model returned no content"
    text = content.strip()
    data: Any = None
    try:
        data = json.loads(text)
    except ValueError:
        found = re.search(r"\{.*\}", text, re.S)
        if found:
            try:
                data = json.loads(found.group(0))
            except ValueError:
                data = None
    if isinstance(data, Mapping):
        task = data.get("task")
        conf = data.get("confidence", 1.0)
        confidence = float(conf) if isinstance(conf, int | float) else 1.0
        confidence = min(1.0, max(0.0, confidence))
        raw_reason = data.get("reason")
        reason = raw_reason if isinstance(raw_reason, str) else ""
    else:
        # not JSON: accept a bare task name
        task, confidence, reason = text.strip().strip('"').strip(), 0.5, "plain-text answer"
    if not isinstance(task, str):
        return None, 0.0, f"the model's answer has no task name: {text[:80]!r}"
    if task == NONE:
        return None, confidence, reason or "the model picked none"
    if task in names:
        return task, confidence, reason
    lowered = {n.lower(): n for n in names}
    if task.lower() in lowered:
        return lowered[task.lower()], confidence, reason
    return None, 0.0, f"the model named an unknown task {task[:40]!r}"


class LLMClassifier:
    """Asks ``model`` through ``chat`` to choose among the router's task descriptions."""

    def __init__(
        self,
        chat: ChatFn | Callable[..., Awaitable[dict[str, Any]]],
        model: str,
        *,
        max_chars: int = 4000,
        temperature: float = 0.0,
        max_tokens: int = 200,
        structured: bool = True,
    ) -> None:
        self.chat = chat
        self.model = model
        self.max_chars = max_chars
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.structured = structured

    def request(
        self, router: RouterConfig, messages: Messages
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The messages and parameters sent to the model (exposed for tests and logging)."""
        names = list(router.task_names)
        msgs = [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": _prompt(router, messages, self.max_chars)},
        ]
        params: dict[str, Any] = {"temperature": self.temperature, "max_tokens": self.max_tokens}
        if self.structured:
            params["response_format"] = _schema(names)
        return msgs, params

    async def classify(self, router: RouterConfig, messages: Messages) -> Match:
        names = list(router.task_names)
        msgs, params = self.request(router, messages)
        try:
            body = await self.chat(self.model, msgs, **params)
        except Exception as exc:  # the upstream failed: fall back, say why
            return Match(
                None,
                {},
                0.0,
                f"fallback: LLM classifier call to {self.model} failed "
                f"({type(exc).__name__}: {str(exc)[:120]})",
            )
        task, confidence, note = parse_choice(body, names)
        scores = {n: (confidence if n == task else 0.0) for n in names}
        scores["fallback"] = confidence if task is None else 0.0
        if task is None:
            return Match(None, scores, confidence, f"fallback: LLM {self.model}: {note}")
        why = f"task {task!r}: chosen by LLM {self.model} (confidence {confidence:.2f})"
        if note:
            why += f": {note[:160]}"
        return Match(task, scores, confidence, why)
