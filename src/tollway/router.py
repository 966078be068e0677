"""The embedded API: ``Router`` runs the pipeline for calls made from application code."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from .affinity import DEFAULT_TTL, AffinityStore, open_store
from .budget import DEFAULT_LEASE_S, Ledger, load_ledger
from .catalog import Catalog
from .classify.base import Classifier
from .config import RouterConfig, TollwayConfig, load_config
from .errors import InvalidRequest, NotFound
from .health import Health
from .parts import Parts
from .pipeline import Call, ChatRequest, Next, Pipeline, Reply
from .records import RecordStore, open_records
from .result import Completion, CompletionStream
from .stages import default_pipeline
from .stats import OutputStats
from .streams import aclose
from .tenancy import Tenants
from .tokens import count_messages
from .upstream import HttpUpstream, Upstream


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
        upstream: Upstream | None = None,
        health: Health | None = None,
        ledger: Ledger | str | None = None,
        tenants: Tenants | None = None,
        affinity: AffinityStore | str | None = None,
        records: RecordStore | str | None = None,
        simulate: Any = False,
        timeout: float = 120.0,
        first_chunk_timeout: float = 30.0,
    ) -> None:
        self.config = _as_config(config)
        catalog = self.config.catalog
        self.simulator: Any = None  # the SimulatedProvider when simulate= is used
        settings = self.config.extra.get("settings") or {}
        if ledger is None or isinstance(ledger, str):
            ledger = load_ledger(ledger or settings.get("budget_store", "memory://"))
        if affinity is None or isinstance(affinity, str):
            affinity = open_store(affinity or settings.get("affinity_store", "memory://"))
        if records is None or isinstance(records, str):
            records = open_records(records or settings.get("records_store", "memory://"))
        self.parts = Parts(
            catalog=catalog,
            classifier=classifier or _default_classifier(),
            upstream=upstream or self._default_upstream(catalog, simulate),
            health=health or Health({m.slug: m.ttft_ms for m in catalog}),
            stats=OutputStats(),
            ledger=ledger,
            tenants=tenants or Tenants.from_config(self.config.extra.get("tenants")),
            affinity=affinity,
            records=records,
            affinity_ttl=float(settings.get("affinity_ttl", DEFAULT_TTL)),
            lease_s=float(settings.get("budget_lease_s", DEFAULT_LEASE_S)),
            timeout=timeout,
            first_chunk_timeout=first_chunk_timeout,
        )
        self.pipeline: Pipeline = default_pipeline(self.parts)

    @property
    def catalog(self) -> Catalog:
        return self.parts.catalog

    @property
    def classifier(self) -> Classifier:
        return self.parts.classifier

    @property
    def stats(self) -> OutputStats:
        return self.parts.stats

    @property
    def health(self) -> Health:
        return self.parts.health

    @property
    def upstream(self) -> Upstream:
        return self.parts.upstream

    @property
    def ledger(self) -> Ledger:
        return self.parts.ledger

    @property
    def records(self) -> RecordStore:
        return self.parts.records

    @property
    def tenants(self) -> Tenants:
        return self.parts.tenants

    @classmethod
    def from_file(cls, path: str | Path, **options: Any) -> Router:
        return cls(load_config(path), **options)

    def _default_upstream(self, catalog: Catalog, simulate: Any) -> HttpUpstream:
        if not simulate:
            return HttpUpstream(catalog)
        from .simulate import SimulatedProvider, SimulatedTransport

        if not isinstance(simulate, SimulatedProvider):
            # Realistic prompt counts: the o200k tokenizer, as most of the catalog uses.
            simulate = SimulatedProvider(catalog, count_tokens=lambda m: count_messages(m, "openai-gpt-5"))
        self.simulator = simulate
        return HttpUpstream(catalog, transport=SimulatedTransport(simulate), require_keys=False)

    async def __aenter__(self) -> Router:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.upstream.aclose()
        await self.ledger.aclose()
        await self.parts.records.aclose()
        await aclose(self.parts.affinity)  # stores without connections have no aclose

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
            shown = name if len(name) <= 80 else name[:80] + "…"
            raise NotFound(f"unknown router {shown!r}; known routers: {known}", param="model") from None

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

    def transport(self, **options: Any) -> Any:
        """An httpx transport that runs this router in process, for the official ``openai`` SDK:
        ``AsyncOpenAI(base_url="http://tollway/v1", http_client=httpx.AsyncClient(transport=...))``."""
        from .transport import transport

        return transport(self, **options)

    async def warmup(self) -> None:
        """Prepare the classifier for every router (load models, embed descriptions), so that
        the first real call does not pay for it. Servers call this before they report ready."""
        probe = [{"role": "user", "content": "hello"}]
        for router in self.config.routers.values():
            await self.classifier.classify(router, probe)

    async def handle(self, call: Call) -> Reply:
        """Run the pipeline for a prepared call: what the server, middleware and transport use."""
        return await self.pipeline(call)

    async def chat(self, messages: list[dict[str, Any]], **options: Any) -> Completion:
        """One completion. Options: ``router``, ``tenant``, ``session``, ``headers`` and any
        OpenAI chat parameter (``max_completion_tokens``, ``temperature`` …)."""
        options["stream"] = False
        reply = await self.handle(self.make_call(messages, **options))
        assert reply.body is not None
        return Completion(reply.body, reply.decision, reply.headers)

    async def stream(self, messages: list[dict[str, Any]], **options: Any) -> CompletionStream:
        """A streamed completion; the decision is complete once the stream is read to the end."""
        options["stream"] = True
        reply = await self.handle(self.make_call(messages, **options))
        assert reply.stream is not None
        return CompletionStream(reply.stream, reply.decision, reply.headers)

    async def explain(self, messages: list[dict[str, Any]], **options: Any) -> Call:
        """Route without calling any model: the call with its decision and per-model estimates.
        A dry run: nothing is reserved, recorded, logged or pinned."""
        call = self.make_call(messages, **options)
        await self._explainer()(call)
        return call

    def _explainer(self) -> Pipeline:
        pipeline = self.pipeline.copy().replace("dispatch", _no_dispatch)
        for name in ("telemetry", "records", "budget"):
            if name in pipeline.names:
                pipeline.remove(name)
        return pipeline


async def _no_dispatch(call: Call, next: Next) -> Reply:
    """Stands in for dispatch when explaining: the decision is the answer."""
    return Reply(decision=call.decision)


def _default_classifier() -> Classifier:
    from .classify import default_classifier

    return default_classifier()


def _as_config(config: TollwayConfig | RouterConfig | Mapping[str, Any]) -> TollwayConfig:
    if isinstance(config, TollwayConfig):
        return config
    if isinstance(config, RouterConfig):
        return TollwayConfig({config.name: config}, Catalog.default())
    return load_config(config)
