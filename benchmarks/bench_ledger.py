"""Reserve + settle throughput and p99 latency per store, at concurrency 1 and 64.

    .venv/bin/python benchmarks/bench_ledger.py [--ops 4000] [--redis-url redis://127.0.0.1:6379/0]

Without --redis-url a throwaway redis-server is started on a free loopback port (if installed).
Baselines measured in the same run put the numbers in proportion: a bare dict increment under
an anyio lock (memory), a bare ``UPDATE ... SET n = n + 1`` transaction (SQLite) and a bare
``INCR`` (Redis). One op = one reserve + one settle (two store round trips).
"""

from __future__ import annotations

import argparse
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path

import anyio
import anyio.to_thread

from tollway.budget import Cap, Ledger, MemoryLedger, SqliteLedger

CAPS = [Cap("request", Decimal("1")), Cap("day", Decimal("1000000")), Cap("month", Decimal("1e7"))]
UNITS = 10**9


async def measure(op: Callable[[int], Awaitable[None]], ops: int, concurrency: int) -> dict:
    latencies: list[float] = []
    counter = iter(range(ops))

    async def worker() -> None:
        for i in counter:
            t0 = time.perf_counter()
            await op(i)
            latencies.append(time.perf_counter() - t0)

    start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(concurrency):
            tg.start_soon(worker)
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "ops_s": ops / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1e3,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1e3,
    }


def ledger_op(ledger: Ledger, tag: str) -> Callable[[int], Awaitable[None]]:
    async def op(i: int) -> None:
        res = await ledger.reserve("bench", CAPS, UNITS, f"{tag}-{i}")
        await ledger.settle(res, UNITS // 2)

    return op


def dict_baseline() -> Callable[[int], Awaitable[None]]:
    counts: dict[str, int] = {}
    lock = anyio.Lock()

    async def op(i: int) -> None:
        async with lock:
            counts["k"] = counts.get("k", 0) + 1

    return op


def sqlite_baseline(path: Path, sync: str) -> Callable[[int], Awaitable[None]]:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={sync}")
    conn.execute("CREATE TABLE IF NOT EXISTS c (k TEXT PRIMARY KEY, n INTEGER)")
    conn.execute("INSERT OR IGNORE INTO c VALUES ('k', 0)")
    limiter = anyio.CapacityLimiter(1)

    def txn() -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE c SET n = n + 1 WHERE k = 'k'")
        conn.execute("COMMIT")

    async def op(i: int) -> None:
        await anyio.to_thread.run_sync(txn, limiter=limiter)

    return op


def start_redis() -> tuple[str, subprocess.Popen[bytes]] | None:
    binary = shutil.which("redis-server")
    if binary is None:
        return None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.05)
    return f"redis://127.0.0.1:{port}/0", proc


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ops", type=int, default=4000)
    parser.add_argument("--redis-url")
    args = parser.parse_args()
    rows: list[tuple[str, int, dict, dict]] = []
    tmp = Path(tempfile.mkdtemp(prefix="bench-ledger-"))
    redis_proc = None
    redis_url = args.redis_url
    if redis_url is None and (started := start_redis()) is not None:
        redis_url, redis_proc = started
    try:
        for conc in (1, 64):
            base = await measure(dict_baseline(), args.ops, conc)
            memory = MemoryLedger()
            result = await measure(ledger_op(memory, f"m{conc}"), args.ops, conc)
            rows.append(("memory", conc, result, base))
            for sync in ("FULL", "NORMAL"):
                base = await measure(sqlite_baseline(tmp / f"base-{sync}-{conc}.db", sync), args.ops, conc)
                sqlite = SqliteLedger(tmp / f"ledger-{sync}-{conc}.db", synchronous=sync)
                result = await measure(ledger_op(sqlite, f"s{conc}"), args.ops, conc)
                rows.append((f"sqlite ({sync.lower()})", conc, result, base))
                await sqlite.aclose()
            if redis_url is not None:
                from redis.asyncio import BlockingConnectionPool, Redis
                from tollway_redis import from_url

                pool = BlockingConnectionPool.from_url(redis_url, max_connections=64)
                bare = Redis(connection_pool=pool)

                async def incr(i: int, bare: Redis = bare) -> None:
                    await bare.incr("bench:baseline")

                base = await measure(incr, args.ops, conc)
                await bare.aclose()
                await pool.disconnect()
                redis = from_url(redis_url)
                result = await measure(ledger_op(redis, f"r{conc}"), args.ops, conc)
                rows.append(("redis", conc, result, base))
                await redis.aclose()
    finally:
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)

    print(
        f"{'store':<16}{'conc':>5}{'ops/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'baseline ops/s':>16}{'ratio':>8}"
    )
    for store, conc, r, b in rows:
        print(
            f"{store:<16}{conc:>5}{r['ops_s']:>10.0f}{r['p50_ms']:>9.3f}{r['p99_ms']:>9.3f}"
            f"{b['ops_s']:>16.0f}{r['ops_s'] / b['ops_s']:>8.3f}"
        )


if __name__ == "__main__":
    anyio.run(main)
