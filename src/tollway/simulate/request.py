"""Reading the parameters of a chat request; invalid ones are OpenAI-style 400s."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .faults import SimulatedHTTPError


def check_messages(messages: Any) -> None:
    if not isinstance(messages, list) or not messages:
        raise SimulatedHTTPError(400, "'messages' must be a non-empty array.", param="messages")
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping) or not isinstance(message.get("role"), str):
            raise SimulatedHTTPError(
                400,
                f"Invalid 'messages[{index}]': expected an object with a 'role'.",
                param=f"messages[{index}]",
            )


def completion_limit(body: Mapping[str, Any]) -> int | None:
    """The completion budget: ``max_completion_tokens``, else the legacy ``max_tokens``."""
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            message = f"Invalid '{name}': expected an integer of at least 1, got {value!r}."
            raise SimulatedHTTPError(400, message, param=name)
        return value
    return None


def include_usage(body: Mapping[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, Mapping) and bool(options.get("include_usage"))


def json_schema(body: Mapping[str, Any]) -> Any:
    response_format = body.get("response_format")
    if not isinstance(response_format, Mapping) or response_format.get("type") != "json_schema":
        return None
    spec = response_format.get("json_schema")
    return spec.get("schema") if isinstance(spec, Mapping) else None
