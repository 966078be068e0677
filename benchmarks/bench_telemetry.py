"""What the telemetry stage costs per call, with and without an OpenTelemetry SDK.

    .venv/bin/python benchmarks/bench_telemetry.py [--calls 20000]

The pipeline is the telemetry stage in front of a stub dispatch that fills in a decision as a
real one would (model, usage, cost, one attempt), so only the stage's own overhead is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import structlog
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tollway.config import load_config
from tollway.decision import Attempt, Usage
from tollway.pipeline import Call, ChatRequest, Next, Pipeline, Reply
from tollway.stages.telemetry import Telemetry

ROUTER = load_config(Path(__file__).parent.parent / "examples" / "tutorial-router.json").router(
    "cost-governance-demo"
)
CHUNKS = 100


async def dispatch(call: Call, next: Next) -> Reply:
    decision = call.decision
    decision.task, decision.model = "customer-qa", "anthropic-claude-4.6-sonnet"
    decision.usage = Usage(24, 292)
    decision.estimated_cost, decision.actual_cost = Decimal("0.0050"), Decimal("0.004452")
    decision.attempts.append(Attempt(decision.model, True, 1.0, ttft_ms=1.0))
    if call.request.stream:
        return Reply(decision=decision, stream=_chunks())
    return Reply(decision=decision, body={"id": "x", "choices": [{"finish_reason": "stop"}]})


async def _chunks() -> AsyncIterator[dict[str, Any]]:
    for i in range(CHUNKS):
        yield {
            "id": "x",
            "choices": [{"delta": {"content": "a"}, "finish_reason": "stop" if i == CHUNKS - 1 else None}],
        }


def make_call(stream: bool) -> Call:
    messages = [{"role": "user", "content": "How do I change my email?"}]
    return Call(router=ROUTER, request=ChatRequest(messages, {"stream": stream}), tenant="acme")


async def run(pipeline: Pipeline, calls: int, stream: bool, repeat: int = 5) -> float:
    """The best of ``repeat`` runs, in microseconds per call (the least disturbed by noise)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(calls):
            reply = await pipeline(make_call(stream))
            if reply.stream is not None:
                async for _chunk in reply.stream:
                    pass
        best = min(best, (time.perf_counter() - started) / calls * 1e6)
    return best


def sdk_stage() -> Telemetry:
    tracer = TracerProvider()
    tracer.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    meter = MeterProvider(metric_readers=[InMemoryMetricReader()])
    return Telemetry(tracer_provider=tracer, meter_provider=meter)


def logs(level: int) -> None:
    sink = io.StringIO()
    structlog.configure(
        processors=[structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sink),
        cache_logger_on_first_use=True,
    )


async def main(calls: int) -> dict[str, float]:
    results: dict[str, float] = {}
    setups = {
        "no telemetry stage": (None, 40),
        "no SDK, logs filtered out": (Telemetry(), 40),
        "no SDK, JSON logs": (Telemetry(), 20),
        "SDK (in-memory export), JSON logs": ("sdk", 20),
    }
    for name, (stage, level) in setups.items():
        logs(level)
        pipeline = Pipeline([("dispatch", dispatch)])
        if stage is not None:
            pipeline.insert("telemetry", sdk_stage() if stage == "sdk" else stage, before="dispatch")
        for stream in (False, True):
            await run(pipeline, calls // 10, stream, repeat=1)  # warm up
            label = f"{name} [{f'stream of {CHUNKS} chunks' if stream else 'completion'}]"
            results[label] = await run(pipeline, calls if not stream else calls // 10, stream)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=10_000)
    args = parser.parse_args()
    for label, micros in asyncio.run(main(args.calls)).items():
        print(f"{micros:10.1f} µs/call  {label}")
    print(json.dumps({"calls": args.calls}))
