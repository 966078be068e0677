"""The error a client sees when a budget cap refuses a request.

Status 429 with ``type: insufficient_quota`` and ``code: budget_exceeded``, and the header
``x-should-retry: false``. Why 429 rather than 402/403: the OpenAI API itself reports exhausted
quota as 429 ``insufficient_quota``, so client code written against it already handles the
case (the ``openai`` SDK raises ``RateLimitError``); the SDK retries 429s *unless* the server
sends ``x-should-retry: false``, which we always do. 402 has no meaning to the SDKs (a generic
``APIStatusError``) and 403 means a credential problem, which this is not.
"""

from __future__ import annotations

from decimal import Decimal

from ..errors import RequestError
from ..money import from_units
from .windows import Window, iso, label


def usd(units: int) -> str:
    """``$5.00``, ``$0.0000407``: at least cents, more digits only when they matter."""
    amount = from_units(units)
    text = f"{amount.quantize(Decimal('0.000000000001')):f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"${whole}.{frac.ljust(2, '0')}"


class BudgetExceeded(RequestError):
    status = 429
    type = "insufficient_quota"
    code = "budget_exceeded"

    def __init__(
        self,
        *,
        tenant: str,
        window: Window,
        limit_units: int,
        used_units: int,
        requested_units: int,
        window_key: str | None = None,
        resets_at: float | None = None,
    ) -> None:
        self.tenant = tenant
        self.window = window
        self.window_key = window_key
        self.limit_units = limit_units
        self.used_units = used_units
        self.requested_units = requested_units
        self.resets_at = resets_at
        cap = f"{label(window)} cap of {usd(limit_units)}"
        if window == "request":
            message = (
                f"Budget exceeded for tenant {tenant!r}: the {cap} is below this request's "
                f"estimated cost of {usd(requested_units)}. Lower max_completion_tokens or use "
                "a cheaper model."
            )
        else:
            where = f" ({window_key})" if window_key else ""
            when = f" It resets at {iso(resets_at)}." if resets_at is not None else ""
            message = (
                f"Budget exceeded for tenant {tenant!r}: the {cap}{where} has "
                f"{usd(used_units)} spent or reserved and this request needs up to "
                f"{usd(requested_units)}.{when}"
            )
        headers = {"x-should-retry": "false", "x-tollway-budget-cap": label(window)}
        if resets_at is not None:
            headers["x-tollway-budget-reset"] = iso(resets_at)
        super().__init__(message, headers=headers)
