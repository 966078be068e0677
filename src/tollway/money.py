"""Exact money.

Amounts are ``Decimal`` dollars in the API. Stores keep integer picodollars (10**-12 USD), so a
price with up to six decimals per million tokens costs a whole number of units per token and a
store such as Redis can add spend atomically with integer arithmetic.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

UNITS_PER_USD = 10**12
PER_MILLION = Decimal(1_000_000)
ZERO = Decimal(0)
CENT = Decimal("0.01")


def to_units(amount: Decimal) -> int:
    """Dollars to integer picodollars. Sub-picodollar remainders round up: never undercharge."""
    units = amount * UNITS_PER_USD
    whole = int(units)
    return whole + 1 if units > whole else whole


def from_units(units: int) -> Decimal:
    return Decimal(units) / UNITS_PER_USD


def round_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def format_usd(amount: Decimal, places: int = 2) -> str:
    """``$1,234.50`` style; ``places`` digits after the point, half-up."""
    q = amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return f"${q:,.{places}f}"


def format_percent(fraction: Decimal, places: int = 1) -> str:
    q = (fraction * 100).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return f"{q}%"
