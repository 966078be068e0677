"""The budget ledger's contract, run against every store: memory, SQLite and a real Redis."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import anyio
import pytest

from tollway.budget import (
    BudgetExceeded,
    Cap,
    Ledger,
    MemoryLedger,
    SqliteLedger,
    load_ledger,
)
from tollway.errors import ConfigError
from tollway.money import to_units

CENT = to_units(Decimal("0.01"))


class Clock:
    """A settable clock starting at real time (Redis TTLs are absolute, so never go back)."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def make_ledger(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Callable[[Clock], Ledger]]:
    made: list[Ledger] = []

    def make(clock: Clock) -> Ledger:
        ledger: Ledger
        if request.param == "memory":
            ledger = MemoryLedger(clock=clock)
        elif request.param == "sqlite":
            ledger = SqliteLedger(tmp_path / "budget.db", clock=clock)
        else:
            plugin = pytest.importorskip("tollway_redis", reason="pip install -e plugins/tollway-redis")
            ledger = plugin.from_url(request.getfixturevalue("redis_url"), clock=clock)
        made.append(ledger)
        return ledger

    yield make
    for ledger in made:
        await ledger.aclose()


@pytest.fixture
async def ledger(make_ledger: Callable[[Clock], Ledger]) -> AsyncIterator[Ledger]:
    yield make_ledger(Clock())


def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


async def test_500_concurrent_reservations_never_overspend(ledger: Ledger) -> None:
    who, caps = tenant(), [Cap("day", Decimal("0.37")), Cap("month", Decimal("10"))]
    accepted: list[object] = []
    refused: list[BudgetExceeded] = []

    async def one(i: int) -> None:
        try:
            accepted.append(await ledger.reserve(who, caps, CENT, f"{who}-{i}"))
        except BudgetExceeded as exc:
            refused.append(exc)

    async with anyio.create_task_group() as tg:
        for i in range(500):
            tg.start_soon(one, i)
    assert len(accepted) == 37  # every cent of room is used, and not one more
    assert len(refused) == 463
    for exc in refused:
        assert exc.status == 429 and exc.code == "budget_exceeded"
        assert exc.headers["x-should-retry"] == "false"
        assert "daily cap of $0.37" in exc.message and "resets at" in exc.message
    settled, reserved = await ledger.spend(who, "day")
    assert (settled, reserved) == (0, 37 * CENT)


async def test_concurrent_reserve_settle_release_keeps_invariant(ledger: Ledger) -> None:
    who, limit = tenant(), Decimal("0.50")
    caps = [Cap("hour", limit), Cap(3600, limit)]
    rng = random.Random(4)
    violations: list[tuple[int, int]] = []
    done = anyio.Event()

    async def monitor() -> None:
        while not done.is_set():
            for window in ("hour", 3600):
                settled, reserved = await ledger.spend(who, window)
                if settled + reserved > to_units(limit):
                    violations.append((settled, reserved))
            await anyio.sleep(0)

    async def one(i: int) -> None:
        amount = rng.randint(1, 5) * CENT
        try:
            res = await ledger.reserve(who, caps, amount, f"{who}-{i}")
        except BudgetExceeded as exc:
            assert exc.code == "budget_exceeded"
            return
        await anyio.sleep(rng.random() / 100)
        if i % 3 == 0:
            await ledger.release(res)
        else:
            await ledger.settle(res, rng.randint(0, amount))  # actual within the estimate

    async with anyio.create_task_group() as tg:
        tg.start_soon(monitor)
        async with anyio.create_task_group() as workers:
            for i in range(500):
                workers.start_soon(one, i)
        done.set()
    assert violations == []
    settled, reserved = await ledger.spend(who, "hour")
    assert reserved == 0 and 0 < settled <= to_units(limit)
    assert await ledger.spend(who, 3600) == (settled, 0)


async def test_settle_is_exactly_once(ledger: Ledger) -> None:
    who = tenant()
    res = await ledger.reserve(who, [Cap("day", Decimal("1"))], 5 * CENT, f"{who}-r")
    results = []

    async def settle(actual: int) -> None:
        results.append(await ledger.settle(res, actual))

    async with anyio.create_task_group() as tg:
        for k in range(20):
            tg.start_soon(settle, (k + 1) * CENT)
    assert len({r.actual_units for r in results}) == 1  # every call saw the first result
    first = results[0]
    assert first.reserved_units == 5 * CENT and not first.late
    assert await ledger.spend(who, "day") == (first.actual_units, 0)
    await ledger.release(res)  # after settle: no-op
    assert await ledger.settle(res, 99 * CENT) == first
    assert await ledger.spend(who, "day") == (first.actual_units, 0)


async def test_reserve_is_idempotent_per_request_id(ledger: Ledger) -> None:
    who, caps = tenant(), [Cap("day", Decimal("0.10"))]
    first = await ledger.reserve(who, caps, 3 * CENT, f"{who}-r")
    again = await ledger.reserve(who, caps, 3 * CENT, f"{who}-r")
    assert again == first
    assert await ledger.spend(who, "day") == (0, 3 * CENT)


async def test_expired_lease_is_reclaimed(make_ledger: Callable[[Clock], Ledger]) -> None:
    clock = Clock()
    ledger = make_ledger(clock)
    who, caps = tenant(), [Cap("month", Decimal("0.10"))]
    crashed = await ledger.reserve(who, caps, 10 * CENT, f"{who}-crashed", lease_s=30)
    with pytest.raises(BudgetExceeded):
        await ledger.reserve(who, caps, CENT, f"{who}-blocked")
    clock.advance(31)  # the holder never settles: its lease runs out
    assert await ledger.remaining(who, caps) == 10 * CENT
    ok = await ledger.reserve(who, caps, 6 * CENT, f"{who}-ok")
    # The crashed holder comes back late: its spend is still recorded, flagged late.
    late = await ledger.settle(crashed, 4 * CENT)
    assert late.late and late.actual_units == 4 * CENT
    assert await ledger.spend(who, "month") == (4 * CENT, 6 * CENT)
    with pytest.raises(BudgetExceeded):
        await ledger.reserve(who, caps, CENT, f"{who}-full")
    await ledger.settle(ok, 6 * CENT)
    assert await ledger.remaining(who, caps) == 0


async def test_overrun_is_recorded_and_blocks_new_reservations(ledger: Ledger) -> None:
    who, caps = tenant(), [Cap("day", Decimal("0.10"))]
    res = await ledger.reserve(who, caps, 2 * CENT, f"{who}-a")
    settlement = await ledger.settle(res, 12 * CENT)  # the upstream billed more than estimated
    assert settlement.actual_units == 12 * CENT
    assert await ledger.spend(who, "day") == (12 * CENT, 0)
    assert await ledger.remaining(who, caps) == 0
    with pytest.raises(BudgetExceeded) as info:
        await ledger.reserve(who, caps, 0, f"{who}-b")  # even a free request: cap is spent
    assert info.value.used_units == 12 * CENT


async def test_per_request_cap(ledger: Ledger) -> None:
    who, caps = tenant(), [Cap("request", Decimal("0.05")), Cap("day", Decimal("1"))]
    with pytest.raises(BudgetExceeded) as info:
        await ledger.reserve(who, caps, 6 * CENT, f"{who}-big")
    exc = info.value
    assert "per-request cap of $0.05" in exc.message and "$0.06" in exc.message
    body = exc.to_body()["error"]
    assert body["code"] == "budget_exceeded" and body["type"] == "insufficient_quota"
    assert await ledger.spend(who, "day") == (0, 0)  # nothing was held
    assert await ledger.remaining(who, caps) == 5 * CENT


async def test_calendar_window_resets_at_utc_midnight(
    make_ledger: Callable[[Clock], Ledger],
) -> None:
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    midnight += timedelta(days=1)
    clock = Clock(midnight.timestamp() - 1)  # 23:59:59 UTC
    ledger = make_ledger(clock)
    who, caps = tenant(), [Cap("day", Decimal("0.03"))]
    res = await ledger.reserve(who, caps, 3 * CENT, f"{who}-a")
    with pytest.raises(BudgetExceeded) as info:
        await ledger.reserve(who, caps, CENT, f"{who}-b")
    reset = midnight.isoformat().replace("+00:00", "Z")
    assert f"resets at {reset}" in info.value.message
    assert info.value.headers["x-tollway-budget-reset"] == reset
    assert info.value.window_key == f"day:{midnight - timedelta(days=1):%Y-%m-%d}"
    clock.advance(2)  # 00:00:01 the next day: a fresh window
    await ledger.reserve(who, caps, 3 * CENT, f"{who}-c")
    # Settling after midnight charges the day the reservation was made in.
    await ledger.settle(res, 2 * CENT)
    assert await ledger.spend(who, "day") == (0, 3 * CENT)


async def test_rolling_window_ages_out(make_ledger: Callable[[Clock], Ledger]) -> None:
    clock = Clock()
    ledger = make_ledger(clock)
    who, caps = tenant(), [Cap(600, Decimal("0.10"))]  # 10 minutes, 10-second buckets
    res = await ledger.reserve(who, caps, 10 * CENT, f"{who}-a")
    await ledger.settle(res, 8 * CENT)
    clock.advance(300)
    with pytest.raises(BudgetExceeded) as info:
        await ledger.reserve(who, caps, 3 * CENT, f"{who}-b")
    assert info.value.resets_at is not None
    assert 300 < info.value.resets_at - clock.now <= 310  # when the 8 cents leave the window
    clock.advance(info.value.resets_at - clock.now)
    assert await ledger.spend(who, 600) == (0, 0)
    await ledger.reserve(who, caps, 10 * CENT, f"{who}-c")


async def test_remaining_and_spend(ledger: Ledger) -> None:
    who = tenant()
    caps = [Cap("request", Decimal("0.50")), Cap("hour", Decimal("0.20")), Cap("day", Decimal("1"))]
    assert await ledger.remaining(who, caps) == 20 * CENT
    res = await ledger.reserve(who, caps, 15 * CENT, f"{who}-a")
    assert await ledger.remaining(who, caps) == 5 * CENT
    await ledger.settle(res, 4 * CENT)
    assert await ledger.remaining(who, caps) == 16 * CENT
    assert await ledger.spend(who, "hour") == (4 * CENT, 0)
    assert await ledger.spend(tenant(), "month") == (0, 0)


async def test_large_amounts_stay_exact(ledger: Ledger) -> None:
    """Limits above 2^53 picodollars ($9,007) must compare exactly (Lua numbers are doubles)."""
    who = tenant()
    limit_units = to_units(Decimal("1000000.000000000001"))  # $1M and one picodollar
    caps = [Cap("month", Decimal("1000000.000000000001"))]
    await ledger.reserve(who, caps, limit_units - 2, f"{who}-a")
    await ledger.reserve(who, caps, 1, f"{who}-b")
    await ledger.reserve(who, caps, 1, f"{who}-c")
    with pytest.raises(BudgetExceeded):
        await ledger.reserve(who, caps, 1, f"{who}-d")
    assert await ledger.spend(who, "month") == (0, limit_units)


async def test_load_ledger_urls(tmp_path: Path) -> None:
    memory = load_ledger("memory://")
    assert isinstance(memory, MemoryLedger)
    sqlite = load_ledger(f"sqlite://{tmp_path}/b.db?synchronous=normal")
    assert isinstance(sqlite, SqliteLedger)
    await sqlite.aclose()
    with pytest.raises(ConfigError, match=r"tollway\.stores"):
        load_ledger("nosuchstore://x")
    with pytest.raises(ConfigError):
        load_ledger("not a url")


async def test_load_ledger_finds_redis_plugin(redis_url: str) -> None:
    pytest.importorskip("tollway_redis", reason="pip install -e plugins/tollway-redis")
    ledger = load_ledger(redis_url)
    assert type(ledger).__module__ == "tollway_redis.store"
    who = tenant()
    await ledger.reserve(who, [Cap("day", Decimal("1"))], CENT, f"{who}-a")
    assert await ledger.spend(who, "day") == (0, CENT)
    await ledger.aclose()
