"""Check the request's shape before anything else looks at it."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidRequest
from ..pipeline import Call, Next, Reply

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
# Parameters a router cannot honour: it picks the model, and it returns one choice.
UNSUPPORTED = {"n": "tollway routes one completion per request; drop `n` or set it to 1"}


class Validate:
    """OpenAI-format 4xx errors for malformed requests; never lets a bad request reach a model."""

    def __init__(self, max_messages: int = 2048) -> None:
        self.max_messages = max_messages

    async def __call__(self, call: Call, next: Next) -> Reply:
        check_messages(call.request.messages, self.max_messages)
        check_params(call.request.params)
        return await next(call)


def check_messages(messages: Any, max_messages: int) -> None:
    if not isinstance(messages, list):
        raise InvalidRequest("`messages` must be a list of message objects", param="messages")
    if not messages:
        raise InvalidRequest("`messages` must hold at least one message", param="messages")
    if len(messages) > max_messages:
        raise InvalidRequest(f"`messages` holds more than {max_messages} messages", param="messages")
    for i, message in enumerate(messages):
        check_message(message, f"messages[{i}]")


def check_message(message: Any, where: str) -> None:
    if not isinstance(message, dict):
        raise InvalidRequest(f"`{where}` must be an object with `role` and `content`", param=where)
    role = message.get("role")
    if role not in ROLES:
        raise InvalidRequest(
            f"`{where}.role` must be one of {', '.join(sorted(ROLES))}, got {_short(role)}",
            param=f"{where}.role",
        )
    content = message.get("content")
    if content is None and role == "assistant":
        return  # an assistant turn that only made tool calls
    if not isinstance(content, (str, list)):
        raise InvalidRequest(
            f"`{where}.content` must be a string or a list of parts", param=f"{where}.content"
        )
    if isinstance(content, list):
        for j, part in enumerate(content):
            check_part(part, f"{where}.content[{j}]")


# The content part types of the chat completions API, and the field each one carries.
PARTS = {
    "text": "text",
    "image_url": "image_url",
    "input_audio": "input_audio",
    "file": "file",
    "refusal": "refusal",
}


def check_part(part: Any, where: str) -> None:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind not in PARTS:
        raise InvalidRequest(
            f"`{where}` must be an object whose `type` is one of {', '.join(PARTS)}", param=where
        )
    field = PARTS[kind]
    value = part.get(field)
    if value is None or (field in ("text", "refusal") and not isinstance(value, str)):
        raise InvalidRequest(f"`{where}.{field}` is missing or of the wrong type", param=f"{where}.{field}")


def _short(value: Any) -> str:
    """A value for an error message, cut short: errors must not echo unbounded input."""
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "…"


def check_params(params: dict[str, Any]) -> None:
    for name, why in UNSUPPORTED.items():
        if name in params and params[name] not in (None, 1):
            raise InvalidRequest(why, param=name, code="unsupported_parameter")
    for name in ("max_tokens", "max_completion_tokens"):
        value = params.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise InvalidRequest(f"`{name}` must be a positive integer", param=name)
    if "stream" in params and not isinstance(params["stream"], bool):
        raise InvalidRequest("`stream` must be true or false", param="stream")
