"""The in-process transport against the bare SDK, both calling ../shared/bench's fake upstream.

    .venv/bin/python benchmarks/bench_transport.py [--upstream http://127.0.0.1:18000/v1] [-n 2000]

Modes: ``sdk`` (openai.AsyncOpenAI straight to the upstream, default httpx client), ``sdk-aiohttp``
(the same over httpx-aiohttp, the SDK's own aiohttp option), ``transport`` (AsyncOpenAI with
``http_client=httpx.AsyncClient(transport=RouterTransport(router))``, the router calling the
upstream with the server's client, ``--upstream-client``, default the native aiohttp one) and
``classifier`` (the router's classifier alone, for its p50). One JSON line each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import openai

sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))

import tollway_app

from tollway.config import load_config
from tollway.router import Router
from tollway.serve import ServeOptions, build_upstream, upstream_transport
from tollway.telemetry import configure_logging
from tollway.transport import RouterTransport

MESSAGES: list[Any] = [
    {"role": "system", "content": "You are a concise assistant that answers benchmark questions."},
    {
        "role": "user",
        "content": "Please summarise in two short sentences why measuring the overhead of an LLM "
        "gateway matters, considering latency, throughput, connection reuse, serialisation cost and "
        "retries under concurrent load from many clients today, and name one mistake teams make when "
        "they benchmark it.",
    },
]


async def measure(call: Callable[[], Awaitable[Any]], n: int, conc: int) -> dict[str, float]:
    for _ in range(min(200, n // 10)):
        await call()
    latencies: list[float] = []

    async def worker(count: int) -> None:
        for _ in range(count):
            t = time.perf_counter()
            await call()
            latencies.append((time.perf_counter() - t) * 1000)

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker(n // conc) for _ in range(conc)))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    latencies.sort()
    return {
        "calls_per_s": round(len(latencies) / wall, 1),
        "p50_ms": round(statistics.median(latencies), 3),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 3),
        "cpu_us_per_call": round(cpu / len(latencies) * 1e6, 1),
    }


async def run(mode: str, upstream: str, n: int, conc: int, upstream_choice: str) -> dict[str, Any]:
    if mode in ("sdk", "sdk-aiohttp"):
        options = ServeOptions(upstream_client="httpx-aiohttp")
        transport = upstream_transport(options) if mode == "sdk-aiohttp" else None
        client = openai.AsyncOpenAI(
            base_url=upstream,
            api_key="sk-x",
            http_client=httpx.AsyncClient(transport=transport),  # type: ignore[arg-type]
        )

        async def call() -> Any:
            return await client.chat.completions.create(model="fake-gpt", messages=MESSAGES)

        result = await measure(call, n, conc)
        await client.close()
        return result
    config = load_config(tollway_app.bench_config(upstream))
    upstream_client = build_upstream(ServeOptions(upstream_client=upstream_choice), config.catalog)
    async with Router(config, upstream=upstream_client, classifier=tollway_app.classifier()) as router:
        if mode == "classifier":
            routing = router.config.routers["bench"]

            async def classify() -> Any:
                return await router.classifier.classify(routing, MESSAGES)

            return await measure(classify, n, 1)
        client = openai.AsyncOpenAI(
            base_url="http://tollway/v1",
            api_key="sk-x",
            http_client=httpx.AsyncClient(transport=RouterTransport(router)),  # type: ignore[arg-type]
        )

        async def routed() -> Any:
            return await client.chat.completions.create(model="router:bench", messages=MESSAGES)

        result = await measure(routed, n, conc)
        await client.close()
        return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", default="http://127.0.0.1:18000/v1")
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("--conc", default="1 32")
    ap.add_argument("--modes", default="classifier sdk sdk-aiohttp transport")
    ap.add_argument("--upstream-client", default="auto", help="the router's client, as in tollway serve")
    args = ap.parse_args()
    import uvloop

    # As `tollway serve` does: without it structlog's default prints a console line per call.
    configure_logging(level="warning")

    for mode in args.modes.split():
        for conc in [1] if mode == "classifier" else [int(c) for c in args.conc.split()]:
            result = uvloop.run(run(mode, args.upstream, args.n, conc, args.upstream_client))
            print(json.dumps({"mode": mode, "conc": conc, **result}), flush=True)


if __name__ == "__main__":
    main()
