"""The embedded API: ``Router`` runs the pipeline for calls made from application code."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from .catalog import Catalog
from .classify.base import Classifier
from .config import RouterConfig, TollwayConfig, load_config
from .errors import InvalidRequest, NotFound
from .health import Health
from .pipeline import Call, ChatRequest, Next, Pipeline, Reply
from .result import Completion, CompletionStream
from .stages import default_pipeline
from .stats import OutputStats
from .upstream import HttpUpstream


class Router:
    """Routes chat requests for one or more routers of a config.

    ``simulate=True`` serves every model from the built-in simulated upstream (no keys, no
    network), or pass a ``SimulatedProvider`` to control it.
    """

    def __init__(
        self,
        config: TollwayConfig | RouterConfig | Mapping[str, Any],
        *,
        classifier: Classifier | None = None,
        upstream: HttpUpstream | None = None,
        health: Health | None = None,
        simulate: Any = False,
        timeout: float = 120.0,
        first_chunk_timeout: float = 30.0,
    ) -> None:
        self.config = _as_config(config)
        self.catalog = self.config.catalog
        self.health = health or Health({m.slug: m.ttft_ms for m in self.catalog})
        self.stats = OutputStats()
        self.simulator: Any = None  # the SimulatedProvider when simulate= is used
        if upstream is None:
            upstream = self._default_upstream(simulate)
        self.upstream = upstream
        if classifier is None:
            from .classify import default_classifier

            classifier = default_classifier()
        self.classifier = classifier
        self.pipeline: Pipeline = default_pipeline(
            self.catalog,
            classifier,
            upstream,
            self.health,
            self.stats,
            timeout=timeout,
            first_chunk_timeout=first_chunk_timeout,
        )

    @classmethod
    def from_file(cls, path: str | Path, **options: Any) -> Router:
        return cls(load_config(path), **options)

    def _default_upstream(self, simulate: Any) -> HttpUpstream:
        if not simulate:
            return HttpUpstream(self.catalog)
        from .simulate import SimulatedProvider, SimulatedTransport

        provider = simulate if isinstance(simulate, SimulatedProvider) else SimulatedProvider(self.catalog)
        self.simulator = provider
        return HttpUpstream(self.catalog, transport=SimulatedTransport(provider))

    async def __aenter__(self) -> Router:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.upstream.aclose()

    def router_config(self, name: str | None) -> RouterConfig:
        if name is None:
            if len(self.config.routers) == 1:
                return next(iter(self.config.routers.values()))
            raise InvalidRequest("this config holds several routers: name one with router=")
        name = name.removeprefix("router:")
        try:
            return self.config.routers[name]
        except KeyError:
            known = ", ".join(f"router:{n}" for n in self.config.routers)
            raise NotFound(f"unknown router {name!r}; known routers: {known}", param="model") from None

    def make_call(
        self,
        messages: list[dict[str, Any]],
        *,
        router: str | None = None,
        tenant: str = "default",
        session: str | None = None,
        headers: Mapping[str, str] | None = None,
        **params: Any,
    ) -> Call:
        params.pop("model", None)
        return Call(
            router=self.router_config(router),
            request=ChatRequest(messages=messages, params=params),
            tenant=tenant,
            session=session,
            headers=headers or {},
        )

    async def handle(self, call: Call) -> Reply:
        """Run the pipeline for a prepared call: what the server, middleware and transport use."""
        return await self.pipeline(call)

    async def chat(self, messages: list[dict[str, Any]], **options: Any) -> Completion:
        """One completion. Options: ``router``, ``tenant``, ``session``, ``headers`` and any
        OpenAI chat parameter (``max_completion_tokens``, ``temperature`` …)."""
        options["stream"] = False
        reply = await self.handle(self.make_call(messages, **options))
        assert reply.body is not None
        return Completion(reply.body, reply.decision)

    async def stream(self, messages: list[dict[str, Any]], **options: Any) -> CompletionStream:
        """A streamed completion; the decision is complete once the stream is read to the end."""
        options["stream"] = True
        reply = await self.handle(self.make_call(messages, **options))
        assert reply.stream is not None
        return CompletionStream(reply.stream, reply.decision)

    async def explain(self, messages: list[dict[str, Any]], **options: Any) -> Call:
        """Route without calling any model: the call with its decision and per-model estimates."""
        call = self.make_call(messages, **options)
        pipeline = self.pipeline.copy().replace("dispatch", _no_dispatch)
        await pipeline(call)
        return call


async def _no_dispatch(call: Call, next: Next) -> Reply:
    """Stands in for dispatch when explaining: the decision is the answer."""
    return Reply(decision=call.decision)


def _as_config(config: TollwayConfig | RouterConfig | Mapping[str, Any]) -> TollwayConfig:
    if isinstance(config, TollwayConfig):
        return config
    if isinstance(config, RouterConfig):
        return TollwayConfig({config.name: config}, Catalog.default())
    return load_config(config)
