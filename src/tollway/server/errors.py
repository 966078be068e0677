"""Errors at the edges: OpenAI's body on the data plane, the managed router's on the control plane.

Data plane (``/v1/...``)::

    {"error": {"message": "...", "type": "invalid_request_error", "param": null, "code": "..."}}

Control plane (``/v2/gen-ai/...``), the shape the managed router's API answers with::

    {"id": "invalid_argument", "message": "...", "request_id": "..."}
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidRequest, NotFound, RequestError

__all__ = [
    "Forbidden",
    "InvalidRequest",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "ServiceUnavailable",
    "Unauthorized",
    "clip",
    "control_body",
    "internal_error",
]

MAX_ECHO_CHARS = 100


def clip(value: object, limit: int = MAX_ECHO_CHARS) -> str:
    """``repr`` of a client-supplied value for an error message, cut to ``limit`` characters so
    that an error body never echoes unbounded input."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        return repr(text[:limit]) + "…"
    return repr(text)


def clip_message(message: str, limit: int = 1000) -> str:
    """A whole message built from client input (validation errors), cut to ``limit`` characters."""
    return message if len(message) <= limit else message[:limit] + "…"


class Unauthorized(RequestError):
    """No credential, or one this plane does not know."""

    status = 401
    code = "invalid_api_key"


class Forbidden(RequestError):
    """A valid credential of the wrong kind, e.g. the admin token on the inference plane."""

    status = 403
    type = "permission_error"
    code = "wrong_credential"


class PayloadTooLarge(RequestError):
    status = 413
    code = "request_too_large"


class MethodNotAllowed(RequestError):
    """405, with the ``Allow`` header HTTP asks for: ``MethodNotAllowed(message, allow=("GET",))``."""

    status = 405
    code = "method_not_allowed"

    def __init__(self, message: str, *, allow: tuple[str, ...] = ()) -> None:
        super().__init__(message, headers={"allow": ", ".join(allow)} if allow else None)


class ServiceUnavailable(RequestError):
    """A dependency (the router store) is unavailable for now: 503, worth retrying."""

    status = 503
    type = "server_error"
    code = "service_unavailable"


def internal_error() -> RequestError:
    """What a client sees when tollway itself failed: no details, no stack trace (they are logged)."""
    return RequestError(
        "tollway failed to handle this request; the error is logged on the server",
        status=500,
        code="internal_error",
    )


_CONTROL_IDS = {
    400: "invalid_argument",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "request_too_large",
    429: "too_many_requests",
    503: "unavailable",
}


def control_body(exc: RequestError, request_id: str) -> dict[str, Any]:
    return {
        "id": _CONTROL_IDS.get(exc.status, "server_error" if exc.status >= 500 else "invalid_argument"),
        "message": exc.message,
        "request_id": request_id,
    }
