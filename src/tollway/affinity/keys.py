"""Affinity keys: who a pin belongs to, as a salted digest.

Both kinds of key are scoped by tenant and router, so two tenants that reuse a session id (or send
the same prompt) never share a pin. Only digests reach a store: never a prompt, never a raw id.

- explicit: the session id from ``X-Model-Affinity`` (``session=`` in code);
- implicit: the conversation's stable prefix (system prompt, tools, first user message), as plano
  does. Any change to that prefix is a new session.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import InvalidRequest
from ..pipeline import Call

HEADER = "x-model-affinity"
MAX_SESSION_ID = 256
_PREFIX_ROLES = frozenset({"system", "developer"})


def session_id(call: Call) -> str | None:
    """The explicit session id: ``call.session``, else the ``X-Model-Affinity`` header."""
    value = call.session if call.session is not None else header(call.headers, HEADER)
    if value is None:
        return None
    value = value.strip()
    if len(value) > MAX_SESSION_ID:
        raise InvalidRequest(
            f"the session id (X-Model-Affinity) is longer than {MAX_SESSION_ID} characters",
            param=HEADER,
            code="invalid_session_id",
        )
    return value or None


def header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    # Plain dicts from application code keep the caller's spelling of the name.
    for key, found in headers.items():
        if key.lower() == name:
            return found
    return None


def explicit_key(salt: bytes, tenant: str, router: str, session: str) -> str:
    return "s" + _digest(salt, ["explicit", tenant, router, session])


def implicit_key(
    salt: bytes, tenant: str, router: str, messages: Sequence[Mapping[str, Any]], tools: Any = None
) -> str | None:
    """The key of the conversation's prefix, or None when it has no user message to anchor on."""
    prefix = prompt_prefix(messages, tools)
    if prefix is None:
        return None
    return "p" + _digest(salt, ["implicit", tenant, router, prefix])


def prompt_prefix(messages: Sequence[Mapping[str, Any]], tools: Any = None) -> dict[str, Any] | None:
    """System and developer messages before the first user message, the tools, and that message."""
    system: list[Any] = []
    for message in messages:
        role = message.get("role")
        if role == "user":
            return {"system": system, "tools": tools, "user": message.get("content")}
        if role in _PREFIX_ROLES:
            system.append(message.get("content"))
    return None


def _digest(salt: bytes, parts: list[Any]) -> str:
    # JSON keeps the parts unambiguous (no separator can be forged inside a tenant or session id).
    data = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hmac.new(salt, data.encode(), hashlib.sha256).hexdigest()[:32]
