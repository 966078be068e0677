"""The ledger across real processes: SQLite survives SIGKILL; SQLite and Redis hold the cap
when three processes reserve against one store at the same time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from tollway.budget import SqliteLedger
from tollway.money import to_units

CENT = to_units(Decimal("0.01"))

# Each worker starts its tasks at the same wall-clock instant, so the processes really contend.
CONTEND = """
import json, sys, time, anyio
from decimal import Decimal
from tollway.budget import BudgetExceeded, Cap, load_ledger

url, tenant, name, n, start = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
CENT = 10**10
caps = [Cap("day", Decimal("0.37")), Cap(3600, Decimal("1"))]

async def main():
    ledger = load_ledger(url)
    out = {"accepted": 0, "refused": 0, "bad": []}
    async def one(i):
        try:
            await ledger.reserve(tenant, caps, CENT, f"{name}-{i}")
            out["accepted"] += 1
        except BudgetExceeded as exc:
            out["refused"] += 1
            if exc.code != "budget_exceeded" or "daily cap of $0.37" not in exc.message:
                out["bad"].append(exc.message)
    await ledger.spend(tenant, "day")  # connect / open before the start line
    time.sleep(max(0.0, start - time.time()))
    async with anyio.create_task_group() as tg:
        for i in range(n):
            tg.start_soon(one, i)
    await ledger.aclose()
    print(json.dumps(out))

anyio.run(main)
"""

# Reserve + settle one cent at a time, printing each settle only after it committed.
WRITER = """
import sys, anyio
from decimal import Decimal
from tollway.budget import Cap, SqliteLedger

async def main():
    ledger = SqliteLedger(sys.argv[1])
    caps = [Cap("month", Decimal("1000"))]
    i = 0
    while True:
        res = await ledger.reserve("acme", caps, 10**10, f"w-{i}")
        await ledger.settle(res, 10**10)
        print(i, flush=True)
        i += 1

anyio.run(main)
"""


def _run_contenders(url: str, tenant: str, processes: int, per_process: int) -> list[dict]:
    start = time.time() + 2.0
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONTEND, url, tenant, f"p{k}", str(per_process), str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(processes)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    return results


def _check_contention(results: list[dict], total: int) -> None:
    assert sum(r["accepted"] for r in results) == 37  # no overspend, no lost room
    assert sum(r["refused"] for r in results) == total - 37
    assert all(r["bad"] == [] for r in results)
    # All three processes took part (the start line makes them race for the same cap).
    assert all(r["accepted"] + r["refused"] > 0 for r in results)


async def test_three_processes_share_a_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/shared.db"
    results = _run_contenders(url, "acme", processes=3, per_process=167)
    _check_contention(results, 501)
    ledger = SqliteLedger(tmp_path / "shared.db")
    assert await ledger.spend("acme", "day") == (0, 37 * CENT)
    await ledger.aclose()


async def test_sqlite_spend_survives_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "durable.db"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    acknowledged = -1
    for line in proc.stdout:
        acknowledged = int(line)
        if acknowledged >= 50:
            break
    os.kill(proc.pid, signal.SIGKILL)  # no cleanup, no close: as in a crash
    proc.wait(10)
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    ledger = SqliteLedger(path)  # a "restarted" process
    settled, reserved = await ledger.spend("acme", "month")
    # Every acknowledged settle survived; at most one more committed after the last print.
    assert (acknowledged + 1) * CENT <= settled <= (acknowledged + 2) * CENT
    assert reserved in (0, CENT)  # a reservation in flight at the kill is held until its lease
    await ledger.aclose()


async def test_three_processes_share_a_redis(redis_url: str) -> None:
    plugin = pytest.importorskip("tollway_redis", reason="pip install -e plugins/tollway-redis")
    results = _run_contenders(redis_url, "acme", processes=3, per_process=167)
    _check_contention(results, 501)
    ledger = plugin.from_url(redis_url)
    assert await ledger.spend("acme", "day") == (0, 37 * CENT)
    await ledger.aclose()
