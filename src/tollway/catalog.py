"""The model catalog: prices, limits, capabilities and where each model is served."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator, Mapping
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ConfigError
from .money import PER_MILLION

MaxTokensParam = Literal["max_completion_tokens", "max_tokens"]


class Upstream(BaseModel):
    """An OpenAI-compatible endpoint. The key is read from ``api_key_env`` at call time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str
    api_key_env: str | None = None


class ModelSpec(BaseModel):
    """One model: prices are USD per 1M tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    slug: str = ""
    provider: str = "unknown"
    input: Decimal
    output: Decimal
    cached_input: Decimal | None = None
    context_window: int = Field(128_000, gt=0)
    max_output: int = Field(8_192, gt=0)
    reasoning: bool = False
    ttft_ms: float = Field(500.0, ge=0)
    quality: float = Field(0.5, ge=0, le=1)
    upstream: str = "openai"
    upstream_model: str | None = None
    max_tokens_param: MaxTokensParam | None = None

    @property
    def served_as(self) -> str:
        """The model name sent upstream."""
        return self.upstream_model or self.slug

    @property
    def token_param(self) -> MaxTokensParam:
        if self.max_tokens_param is not None:
            return self.max_tokens_param
        return "max_completion_tokens" if self.provider == "openai" else "max_tokens"

    def input_cost(self, tokens: int, cached: int = 0) -> Decimal:
        """Cost of ``tokens`` prompt tokens of which ``cached`` were read from a prompt cache."""
        cached_price = self.input if self.cached_input is None else self.cached_input
        return (Decimal(tokens - cached) * self.input + Decimal(cached) * cached_price) / PER_MILLION

    def output_cost(self, tokens: int) -> Decimal:
        return Decimal(tokens) * self.output / PER_MILLION


class Catalog:
    """Models and upstreams by name. Immutable; ``merged`` returns a new catalog."""

    def __init__(self, models: Mapping[str, ModelSpec], upstreams: Mapping[str, Upstream]) -> None:
        self._models = {slug: m.model_copy(update={"slug": slug}) for slug, m in models.items()}
        self._upstreams = dict(upstreams)
        for slug, model in self._models.items():
            if model.upstream not in self._upstreams:
                raise ConfigError(
                    f"models.{slug}.upstream: unknown upstream {model.upstream!r}; "
                    f"known: {', '.join(sorted(self._upstreams))}"
                )

    @classmethod
    def default(cls) -> Catalog:
        text = resources.files("tollway").joinpath("data/catalog.yaml").read_text("utf-8")
        return cls.from_mapping(yaml.safe_load(text))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Catalog:
        return cls(_parse_models(data.get("models") or {}), _parse_upstreams(data.get("upstreams") or {}))

    def merged(
        self,
        models: Mapping[str, Mapping[str, Any]] | None = None,
        upstreams: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Catalog:
        """A copy with entries added or overridden field by field."""
        merged_models = dict(self._models)
        for slug, fields in (models or {}).items():
            base = merged_models[slug].model_dump(exclude={"slug"}) if slug in merged_models else {}
            merged_models[slug] = _parse_model(slug, {**base, **fields})
        merged_upstreams = dict(self._upstreams)
        merged_upstreams.update(_parse_upstreams(upstreams or {}))
        return Catalog(merged_models, merged_upstreams)

    def __contains__(self, slug: object) -> bool:
        return slug in self._models

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter(self._models.values())

    def __len__(self) -> int:
        return len(self._models)

    def get(self, slug: str) -> ModelSpec:
        try:
            return self._models[slug]
        except KeyError:
            raise ConfigError(f"unknown model {slug!r}{self.hint(slug)}") from None

    def upstream(self, name: str) -> Upstream:
        return self._upstreams[name]

    @property
    def upstreams(self) -> Mapping[str, Upstream]:
        return self._upstreams

    def hint(self, slug: str) -> str:
        close = difflib.get_close_matches(slug, list(self._models), n=3, cutoff=0.5)
        if close:
            return "; did you mean " + " or ".join(repr(c) for c in close) + "?"
        return "; add it under `models:` in the config or pick one from `tollway models`"


def _parse_model(slug: str, fields: Mapping[str, Any]) -> ModelSpec:
    try:
        return ModelSpec.model_validate({**fields, "slug": slug})
    except ValidationError as exc:
        raise ConfigError(_describe(exc, prefix=f"models.{slug}")) from None


def _parse_models(data: Mapping[str, Any]) -> dict[str, ModelSpec]:
    return {slug: _parse_model(slug, fields or {}) for slug, fields in data.items()}


def _parse_upstreams(data: Mapping[str, Any]) -> dict[str, Upstream]:
    out = {}
    for name, fields in data.items():
        try:
            out[name] = Upstream.model_validate(fields)
        except ValidationError as exc:
            raise ConfigError(_describe(exc, prefix=f"upstreams.{name}")) from None
    return out


def _describe(exc: ValidationError, prefix: str) -> str:
    lines = []
    for err in exc.errors():
        path = ".".join([prefix, *(str(p) for p in err["loc"])])
        lines.append(f"{path}: {err['msg']}")
    return "; ".join(lines)


def import_litellm(path: str | Path, upstream: str = "openai") -> dict[str, dict[str, Any]]:
    """Read LiteLLM's ``model_prices_and_context_window.json`` into ``models:`` entries.

    LiteLLM prices per token; tollway prices per million tokens. Only chat models with both
    prices are taken. The result can be passed to ``Catalog.merged(models=...)``.
    """
    raw = json.loads(Path(path).read_text("utf-8"))
    out: dict[str, dict[str, Any]] = {}
    for name, entry in raw.items():
        if not isinstance(entry, dict) or entry.get("mode", "chat") != "chat":
            continue
        if "input_cost_per_token" not in entry or "output_cost_per_token" not in entry:
            continue
        out[name] = _litellm_entry(entry, upstream)
    return out


def _litellm_entry(entry: Mapping[str, Any], upstream: str) -> dict[str, Any]:
    def per_million(value: Any) -> Decimal:
        return (Decimal(str(value)) * PER_MILLION).normalize()

    fields: dict[str, Any] = {
        "provider": str(entry.get("litellm_provider", "unknown")),
        "input": per_million(entry["input_cost_per_token"]),
        "output": per_million(entry["output_cost_per_token"]),
        "reasoning": bool(entry.get("supports_reasoning", False)),
        "upstream": upstream,
    }
    if entry.get("cache_read_input_token_cost") is not None:
        fields["cached_input"] = per_million(entry["cache_read_input_token_cost"])
    if entry.get("max_input_tokens"):
        fields["context_window"] = int(entry["max_input_tokens"])
    if entry.get("max_output_tokens"):
        fields["max_output"] = int(entry["max_output_tokens"])
    return fields
