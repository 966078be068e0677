"""The exception tree.

Every error a client can see maps to the OpenAI error body
(``{"error": {"message", "type", "param", "code"}}``) and an HTTP status::

    TollwayError
    ├── ConfigError                  a router or catalog file is invalid (raised at load)
    └── RequestError                 something a client sees, with status and OpenAI body
        ├── InvalidRequest           400 invalid_request_error
        ├── NotFound                 404 (unknown router or model)
        ├── NoRouteMatched           400 no task matched and the router has no fallback
        └── UpstreamError            the upstream failed; `retryable` says if failover applies
            └── AllCandidatesFailed  every candidate and fallback failed (502 / 504)
"""

from __future__ import annotations

from typing import Any


class TollwayError(Exception):
    """Base class of every error tollway raises."""


class ConfigError(TollwayError):
    """A router config or catalog is invalid. The message names the bad field's path."""


class RequestError(TollwayError):
    """An error a client sees, rendered in the OpenAI error format."""

    status: int = 400
    type: str = "invalid_request_error"
    code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.headers = headers or {}

    def to_body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


class InvalidRequest(RequestError):
    code = "invalid_request"


class NotFound(RequestError):
    status = 404
    code = "not_found"


class NoRouteMatched(RequestError):
    code = "no_route_matched"


class UpstreamError(RequestError):
    """An upstream call failed. Retryable failures move on to the next candidate."""

    status = 502
    type = "upstream_error"
    code = "upstream_error"

    def __init__(
        self,
        message: str,
        *,
        model: str,
        retryable: bool,
        upstream_status: int | None = None,
        status: int | None = None,
        code: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.model = model
        self.retryable = retryable
        self.upstream_status = upstream_status
        self.upstream_body = body


class AllCandidatesFailed(UpstreamError):
    """Every candidate model and every fallback model failed with retryable errors."""
