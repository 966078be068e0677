"""Failures the simulated upstream can be told to produce, and the errors that carry them."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

# OpenAI's (type, code, message) for the statuses a router meets in practice.
_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "permission_denied", "You are not allowed to use this model."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist."),
    408: ("server_error", "timeout", "Request timed out."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests. Try again later."),
    500: ("server_error", None, "The server had an error while processing your request."),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
    504: ("server_error", "timeout", "The upstream timed out."),
}


def error_body(
    status: int, message: str | None = None, *, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """An OpenAI-format error body for ``status``."""
    default_type = "server_error" if status >= 500 else "invalid_request_error"
    type_, default_code, default_message = _ERRORS.get(status, (default_type, None, "Error."))
    return {
        "error": {
            "message": message or default_message,
            "type": type_,
            "param": param,
            "code": code or default_code,
        }
    }


class SimulatedHTTPError(Exception):
    """The simulated upstream answers with an HTTP error status and an OpenAI error body."""

    def __init__(
        self,
        status: int,
        message: str | None = None,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.body = error_body(status, message, code=code, param=param)
        self.headers = headers or {}
        super().__init__(f"{status}: {self.body['error']['message']}")


class ConnectionCut(Exception):
    """The connection drops mid-body. ``partial`` is what was sent before the drop, if known."""

    def __init__(self, partial: bytes = b"") -> None:
        self.partial = partial
        super().__init__("simulated connection drop mid-body")


@dataclass
class Fault:
    """One injected failure: an error ``status``, a ``hang`` (until the client gives up), or a
    connection dropped after ``cut_after`` stream chunks (a non-streamed body is cut in half).

    It fires with probability ``rate`` (drawn from the provider's seeded RNG) and, when ``times``
    is set, on the next ``times`` firings only: ``times`` counts down as the fault fires.
    """

    status: int | None = None
    message: str | None = None
    code: str | None = None
    retry_after: float | None = None
    hang: bool = False
    hang_seconds: float = 3600.0
    cut_after: int | None = None
    rate: float = 1.0
    times: int | None = None

    def __post_init__(self) -> None:
        kinds = (self.status is not None) + self.hang + (self.cut_after is not None)
        if kinds != 1:
            raise ValueError("a Fault needs exactly one of status=, hang=True or cut_after=")
        if self.status is not None and not 400 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP error status (400-599), not {self.status}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"rate must be within 0..1, not {self.rate}")
        if self.cut_after is not None and self.cut_after < 0:
            raise ValueError("cut_after must be >= 0")

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.times <= 0

    def fires(self, rng: random.Random) -> bool:
        """Whether this call fails; counts a firing down from ``times``."""
        if self.exhausted:
            return False
        # Draw only for partial rates so that a fault with rate=1 leaves the RNG sequence alone.
        if self.rate < 1.0 and rng.random() >= self.rate:
            return False
        if self.times is not None:
            self.times -= 1
        return True

    def error(self) -> SimulatedHTTPError:
        assert self.status is not None
        headers = {}
        if self.retry_after is not None:
            headers = {
                "retry-after": str(int(self.retry_after)),
                "retry-after-ms": str(int(self.retry_after * 1000)),
            }
        return SimulatedHTTPError(self.status, self.message, code=self.code, headers=headers)
