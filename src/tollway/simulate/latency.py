"""How long the simulator takes: time to first token and time per token."""

from __future__ import annotations

from dataclasses import dataclass

import anyio

from ..catalog import Catalog
from .plan import Plan


@dataclass(frozen=True)
class Latency:
    """Seconds to the first token and between tokens (hidden reasoning tokens take time too)."""

    ttft: float = 0.0
    per_token: float = 0.0

    @classmethod
    def from_catalog(cls, catalog: Catalog, per_token: float = 0.0) -> dict[str, Latency]:
        """The catalog's ``ttft_ms`` per model, keyed by the name each model is served as."""
        return {m.served_as: cls(m.ttft_ms / 1000, per_token) for m in catalog}


def chunk_delay(index: int, latency: Latency, plan: Plan) -> float:
    if index == 0:
        return latency.ttft
    if index == 1:
        # The first token after the role chunk waits for the hidden reasoning to finish.
        return (plan.reasoning_tokens + 1) * latency.per_token
    return latency.per_token


async def pause(seconds: float) -> None:
    if seconds > 0:
        await anyio.sleep(seconds)
