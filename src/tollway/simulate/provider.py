"""``SimulatedProvider``: a deterministic OpenAI-compatible chat model, with faults on demand."""

from __future__ import annotations

import json
import random
from collections import Counter, deque
from collections.abc import AsyncGenerator, Callable, Collection, Mapping, Sequence
from typing import Any

import anyio

from ..catalog import Catalog, ModelSpec
from ._codec import dumps
from .faults import ConnectionCut, Fault, SimulatedHTTPError
from .latency import Latency, chunk_delay, pause
from .plan import PROFILES, Plan, apply_budget, chunk_bodies, completion_body
from .request import check_messages, completion_limit, include_usage, json_schema
from .text import (
    DEFAULT_LABELS,
    Kind,
    approx_prompt_tokens,
    digest,
    filler_pieces,
    label_options,
    prompt_kind,
    schema_example,
    split_pieces,
)

TokenCounter = Callable[[list[dict[str, Any]]], int]
Responder = Callable[[str, dict[str, Any]], str | None]
ModelPredicate = Callable[[str], bool]
ModelSelector = bool | Collection[str] | ModelPredicate

ALL = "*"  # the key of faults and latency that apply to every model
CACHE_MIN_TOKENS = 1024
CACHE_STEP_TOKENS = 128


class SimulatedProvider:
    """Answers chat completions deterministically, with realistic usage, latency and faults.

    Mutable at run time: ``faults`` and ``latency`` (keyed by model or ``"*"``), ``responder``
    and ``count_tokens``. ``calls`` counts attempts per model; ``requests`` keeps recent bodies.
    """

    def __init__(
        self,
        catalog: Catalog | None = None,
        *,
        reasoning: ModelSelector | None = None,
        prompt_cache: ModelSelector = False,
        count_tokens: TokenCounter = approx_prompt_tokens,
        responder: Responder | None = None,
        latency: Mapping[str, Latency] | None = None,
        verbosity: Mapping[str, float] | None = None,
        models: Collection[str] | None = None,
        api_key: str | None = None,
        strict_params: bool = False,
        seed: int = 0,
        created: int = 1_735_689_600,
    ) -> None:
        self.catalog = catalog or Catalog.default()
        self._specs = _specs_by_name(self.catalog)
        self._reasoning = self._selector(True if reasoning is None else reasoning, _is_reasoning)
        self._caches = self._selector(prompt_cache, _has_cache)
        self.count_tokens = count_tokens
        self.responder = responder
        self.latency: dict[str, Latency] = dict(latency or {})
        self.verbosity = dict(verbosity or {})
        self.models = None if models is None else frozenset(models)
        self.api_key = api_key
        self.strict_params = strict_params
        self.created = created
        self.faults: dict[str, Fault] = {}
        self.calls: Counter[str] = Counter()
        self.requests: deque[dict[str, Any]] = deque(maxlen=10_000)
        self._seed = seed
        self._rng = random.Random(seed)
        self._cache_seen: dict[str, set[bytes]] = {}

    def reset(self) -> None:
        """Forget faults, counters, logged requests and prompt caches."""
        self.faults.clear()
        self.calls.clear()
        self.requests.clear()
        self._cache_seen.clear()
        self._rng = random.Random(self._seed)

    def is_reasoning(self, model: str) -> bool:
        return self._reasoning(model)

    def model_ids(self) -> list[str]:
        if self.models is not None:
            return sorted(self.models)
        return sorted({spec.served_as for spec in self.catalog})

    async def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        """One ``chat.completion``. Raises ``SimulatedHTTPError``, or ``ConnectionCut`` for a
        cut fault (a non-streamed body is cut in half)."""
        model, cut = await self._begin(body)
        plan = self._plan(model, body)
        latency = self._latency(model)
        await pause(latency.ttft + plan.completion_tokens * latency.per_token)
        response = completion_body(plan)
        if cut is not None:
            data = dumps(response)
            raise ConnectionCut(data[: len(data) // 2])
        return response

    async def stream(self, body: dict[str, Any]) -> AsyncGenerator[dict[str, Any], None]:
        """``chat.completion.chunk`` dicts. Faults surface on the first ``__anext__``, so an
        HTTP front can still answer with an error status; a cut raises ``ConnectionCut``."""
        model, cut = await self._begin(body)
        plan = self._plan(model, body)
        latency = self._latency(model)
        cut_after = None if cut is None else cut.cut_after
        for index, chunk in enumerate(chunk_bodies(plan, include_usage(body))):
            if index == cut_after:
                raise ConnectionCut()
            await pause(chunk_delay(index, latency, plan))
            yield chunk
        if cut_after is not None:
            raise ConnectionCut()  # past the last chunk: the drop comes before [DONE]

    # -- one call -------------------------------------------------------------------------------

    async def _begin(self, body: dict[str, Any]) -> tuple[str, Fault | None]:
        """Validate, count and log the call, then apply a fault. Returns a cut fault, if any."""
        model = self._validate(body)
        self.calls[model] += 1
        self.requests.append(dict(body))
        fault = self._fault_for(model)
        if fault is None or fault.cut_after is not None:
            return model, fault
        if fault.status is not None:
            raise fault.error()
        await anyio.sleep(fault.hang_seconds)
        raise SimulatedHTTPError(504, "The simulated upstream hung and gave up.")

    def _fault_for(self, model: str) -> Fault | None:
        for key in (model, ALL):
            fault = self.faults.get(key)
            if fault is not None and fault.fires(self._rng):
                return fault
        return None

    def _plan(self, model: str, body: dict[str, Any]) -> Plan:
        messages: list[dict[str, Any]] = body["messages"]
        seed = digest(model, messages)
        rng = random.Random(seed)
        kind = prompt_kind(messages)
        reasoning = rng.randint(*PROFILES[kind].reasoning) if self.is_reasoning(model) else 0
        pieces = self._pieces(model, body, kind, rng)
        reasoning, kept, finish = apply_budget(reasoning, pieces, completion_limit(body))
        return Plan(
            id=f"chatcmpl-sim-{seed.hex()[:24]}",
            model=model,
            created=self.created,
            prompt_tokens=self.count_tokens(messages),
            cached_tokens=self._cached_tokens(model, messages),
            reasoning_tokens=reasoning,
            pieces=kept,
            finish_reason=finish,
        )

    def _pieces(self, model: str, body: dict[str, Any], kind: Kind, rng: random.Random) -> list[str]:
        if self.responder is not None:
            text = self.responder(model, body)
            if text is not None:
                return split_pieces(text)
        schema = json_schema(body)
        if schema is not None:
            return split_pieces(json.dumps(schema_example(schema, rng)))
        messages = body["messages"]
        if kind == "label":
            return split_pieces(rng.choice(label_options(messages) or DEFAULT_LABELS))
        low, high = PROFILES[kind].visible
        return filler_pieces(rng, max(1, round(rng.randint(low, high) * self._verbosity(model))))

    def _verbosity(self, model: str) -> float:
        if model in self.verbosity:
            return self.verbosity[model]
        # Models differ in how much they say; a stable +-10% per model name stands in for that.
        return 0.9 + 0.2 * digest(model)[0] / 255

    def _cached_tokens(self, model: str, messages: Sequence[dict[str, Any]]) -> int:
        """Tokens of the longest prefix of whole messages this model has seen before."""
        if not self._caches(model):
            return 0
        seen = self._cache_seen.setdefault(model, set())
        best, key = 0, b""
        for end, message in enumerate(messages, 1):
            key = digest(key.hex(), message)
            if key in seen:
                best = self.count_tokens(list(messages[:end]))
            seen.add(key)
        # Like OpenAI: nothing under 1,024 tokens, then whole 128-token blocks.
        return 0 if best < CACHE_MIN_TOKENS else best - best % CACHE_STEP_TOKENS

    def _latency(self, model: str) -> Latency:
        return self.latency.get(model) or self.latency.get(ALL) or Latency()

    # -- validation -----------------------------------------------------------------------------

    def _validate(self, body: dict[str, Any]) -> str:
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise SimulatedHTTPError(400, "You must provide a model parameter.", param="model")
        if self.models is not None and model not in self.models:
            message = f"The model `{model}` does not exist or you do not have access to it."
            raise SimulatedHTTPError(404, message, param="model")
        check_messages(body.get("messages"))
        completion_limit(body)
        if self.strict_params and "max_tokens" in body and self.is_reasoning(model):
            message = (
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead."
            )
            raise SimulatedHTTPError(400, message, param="max_tokens", code="unsupported_parameter")
        return model

    def _selector(self, choice: ModelSelector, flag: Callable[[ModelSpec], bool]) -> ModelPredicate:
        """A model predicate from True (the catalog's flag), False, a set of names or a callable."""
        if choice is True:
            return lambda model: model in self._specs and flag(self._specs[model])
        if choice is False:
            return lambda model: False
        if callable(choice):
            return choice
        return frozenset(choice).__contains__


def _specs_by_name(catalog: Catalog) -> dict[str, ModelSpec]:
    # Requests name a model as it is served upstream, which may differ from the catalog slug.
    specs = {spec.slug: spec for spec in catalog}
    specs.update({spec.served_as: spec for spec in catalog})
    return specs


def _is_reasoning(spec: ModelSpec) -> bool:
    return spec.reasoning


def _has_cache(spec: ModelSpec) -> bool:
    return spec.cached_input is not None


__all__ = ["ALL", "Responder", "SimulatedProvider", "TokenCounter"]
