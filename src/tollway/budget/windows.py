"""Budget windows and the counters each one reads.

A window is ``"request"`` (a per-request cap: checked against the estimate, never stored),
a UTC calendar window (``"hour"``, ``"day"``, ``"month"``) or a rolling window of N seconds.

Stores keep, per tenant, integer counters named by *key*, each with a ``settled`` and a
``reserved`` field:

* calendar windows: one counter per window instance, ``hour:2026-11-30T06``, ``day:2026-11-30``,
  ``month:2026-11``. A request belongs to the window it was *reserved* in, also when it
  settles after the boundary, so a reservation is always released from the counter it holds.
* rolling windows: settled spend goes into buckets ``roll:3600:<index>`` of ``ceil(N / 60)``
  seconds, outstanding reservations into ``roll:3600``. Spend in the window is the sum of every
  bucket that overlaps ``[now - N, now]``; the oldest bucket counts whole, so a rolling window
  may refuse up to one bucket early but never admits spend older than N seconds as free.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

Calendar = Literal["hour", "day", "month"]
Window = Literal["request", "hour", "day", "month"] | int
CALENDAR: tuple[Calendar, ...] = ("hour", "day", "month")
ROLLING_BUCKETS = 60


def validate(window: object) -> Window:
    if window in ("request", "hour", "day", "month"):
        return window
    if isinstance(window, int) and not isinstance(window, bool) and window > 0:
        return window
    raise ValueError(f"budget window must be request, hour, day, month or seconds > 0: {window!r}")


def label(window: Window) -> str:
    """Human name used in error messages and headers."""
    if isinstance(window, int):
        return f"rolling {window}s"
    return {"request": "per-request", "hour": "hourly", "day": "daily", "month": "monthly"}[window]


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def iso(ts: float) -> str:
    return utc(ts).isoformat(timespec="seconds").replace("+00:00", "Z")


def calendar_bounds(window: Calendar, ts: float) -> tuple[datetime, datetime]:
    """The UTC start and end of the calendar window containing ``ts``."""
    now = utc(ts)
    if window == "hour":
        start = now.replace(minute=0, second=0, microsecond=0)
        return start, start + timedelta(hours=1)
    if window == "day":
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return start, start + timedelta(days=1)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(
        month=start.month + 1
    )
    return start, end


def calendar_key(window: Calendar, ts: float) -> str:
    start, _ = calendar_bounds(window, ts)
    if window == "hour":
        return f"hour:{start:%Y-%m-%dT%H}"
    if window == "day":
        return f"day:{start:%Y-%m-%d}"
    return f"month:{start:%Y-%m}"


def bucket_width(seconds: int) -> int:
    return max(1, math.ceil(seconds / ROLLING_BUCKETS))


@dataclass(frozen=True)
class Check:
    """What a store must read and write for one cap, computed at one instant.

    ``used = sum(settled of sum_keys) + reserved of reserve_key``; a reservation of ``amount``
    fits when ``used + amount <= limit_units``. ``expire_at`` is when the store may forget the
    counters (stores with TTLs add their retention on top).
    """

    cap_index: int
    window: Window
    limit_units: int
    reserve_key: str
    settle_key: str
    sum_keys: tuple[str, ...]
    expire_at: float
    # For rolling windows: the start time of each bucket in sum_keys (to tell when spend ages out).
    bucket_starts: tuple[float, ...] = ()


def check(cap_index: int, window: Window, limit_units: int, now: float) -> Check:
    if window == "request":
        raise ValueError("per-request caps are not stored")
    if isinstance(window, int):
        width = bucket_width(window)
        first, last = math.floor((now - window) / width), math.floor(now / width)
        indexes = range(first, last + 1)
        return Check(
            cap_index,
            window,
            limit_units,
            reserve_key=f"roll:{window}",
            settle_key=f"roll:{window}:{last}",
            sum_keys=tuple(f"roll:{window}:{i}" for i in indexes),
            expire_at=(last + 1) * width + window,
            bucket_starts=tuple(float(i * width) for i in indexes),
        )
    key = calendar_key(window, now)
    _, end = calendar_bounds(window, now)
    return Check(cap_index, window, limit_units, key, key, (key,), end.timestamp())


def resets_at(chk: Check, used: int, amount: int, bucket_settled: tuple[int, ...], now: float) -> float:
    """When a refused ``amount`` could fit again if nothing else changed.

    Calendar windows: the window's end. Rolling windows: the moment enough settled buckets have
    aged out; if even that is not enough (reservations outstanding), when the whole window has.
    """
    if not isinstance(chk.window, int):
        return chk.expire_at
    width = bucket_width(chk.window)
    freed = 0
    for start, settled in zip(chk.bucket_starts, bucket_settled, strict=True):
        freed += settled
        if settled and used - freed + amount <= chk.limit_units:
            return max(now, start + width + chk.window)
    return now + chk.window
