"""A simulated OpenAI-compatible upstream: deterministic text, realistic token usage, latency and
injectable faults. The embedded default upstream for tollway's demo and tests.

In process::

    provider = SimulatedProvider()
    client = httpx.AsyncClient(transport=SimulatedTransport(provider))

On loopback::

    with SimulatorServer(provider) as base_url:  # http://127.0.0.1:PORT/v1
        ...

Faults change at run time: ``provider.faults["openai-gpt-5"] = Fault(status=500, times=1)``.
"""

from __future__ import annotations

from .app import SimulatorServer, serve, simulator_app
from .faults import ConnectionCut, Fault, SimulatedHTTPError, error_body
from .latency import Latency
from .plan import PROFILES, KindProfile, Plan
from .provider import ALL, Responder, SimulatedProvider, TokenCounter
from .text import approx_prompt_tokens, prompt_kind
from .transport import SimulatedTransport

__all__ = [
    "ALL",
    "PROFILES",
    "ConnectionCut",
    "Fault",
    "KindProfile",
    "Latency",
    "Plan",
    "Responder",
    "SimulatedHTTPError",
    "SimulatedProvider",
    "SimulatedTransport",
    "SimulatorServer",
    "TokenCounter",
    "approx_prompt_tokens",
    "error_body",
    "prompt_kind",
    "serve",
    "simulator_app",
]
