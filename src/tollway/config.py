"""Router configuration: typed, validated once at load, with errors that name the bad field.

A router file may be the managed router's create body verbatim (``name``, ``policies``,
``fallback_models``) or a tollway file holding ``routers``, ``models`` and ``upstreams``.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import structlog
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .catalog import Catalog
from .errors import ConfigError
from .select import PRESETS

log = structlog.get_logger("tollway.config")

MAX_POOL = 3
DEFAULT_TOKEN_FLOOR = 4096
FALLBACK = "fallback"
OverBudget = Literal["reframe", "clamp", "reject"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CustomTask(_Model):
    name: str
    description: str
    examples: tuple[str, ...] = ()

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", value):
            raise ValueError(
                "a task name is 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit"
            )
        if value == FALLBACK:
            raise ValueError("'fallback' is reserved for unmatched prompts; pick another task name")
        return value

    @field_validator("description")
    @classmethod
    def _description(cls, value: str) -> str:
        if not value.strip():
            raise ValueError(
                "the description is empty; describe the task in a sentence or two, it is what "
                "prompts are matched against"
            )
        return value.strip()


class SelectionPolicy(_Model):
    """``prefer: cheapest | fastest`` or ``task_slug: <preset>`` (optimal). Absent = ranked."""

    prefer: str | None = None
    task_slug: str | None = None

    @field_validator("prefer")
    @classmethod
    def _prefer(cls, value: str | None) -> str | None:
        if value is not None and value not in ("cheapest", "fastest"):
            raise ValueError(
                f"unknown prefer value {value!r}; use 'cheapest' or 'fastest', or leave "
                "selection_policy out to rank the pool in list order"
            )
        return value

    @field_validator("task_slug")
    @classmethod
    def _task_slug(cls, value: str | None) -> str | None:
        if value is not None and value not in PRESETS:
            raise ValueError(f"unknown task_slug {value!r}; presets are: {', '.join(sorted(PRESETS))}")
        return value

    @model_validator(mode="after")
    def _one_of(self) -> SelectionPolicy:
        if (self.prefer is None) == (self.task_slug is None):
            raise ValueError("give exactly one of 'prefer' or 'task_slug'")
        return self

    @property
    def kind(self) -> str:
        return self.prefer or "optimal"


class TaskPolicy(_Model):
    custom_task: CustomTask
    models: tuple[str, ...]
    selection_policy: SelectionPolicy | None = None
    token_floor: int | None = Field(None, ge=0)
    over_budget: OverBudget = "reject"
    reframe_to: str | None = None

    @field_validator("models")
    @classmethod
    def _pool(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("a task needs at least one model in its pool")
        if len(value) > MAX_POOL:
            raise ValueError(
                f"a task's pool holds at most {MAX_POOL} models, got {len(value)}; move the "
                "rest to fallback_models or split the task"
            )
        if len(set(value)) != len(value):
            raise ValueError("a model appears twice in the pool")
        return value

    @property
    def name(self) -> str:
        return self.custom_task.name

    @property
    def policy(self) -> str:
        return "ranked" if self.selection_policy is None else self.selection_policy.kind


class RouterConfig(_Model):
    name: str
    description: str = ""
    policies: tuple[TaskPolicy, ...]
    fallback_models: tuple[str, ...] = ()
    match_threshold: float | None = Field(None, ge=0, le=3)
    """The least score a task needs; below it, the fallback. The embedded classifier's scores add
    several views (a neighbour or description cosine, the adapter's cosine, the word overlap,
    signal bonuses), so they are not bounded by 1 and differ between embedders: read them off
    ``tollway route`` or ``tollway eval`` before choosing one."""
    token_floor: int = Field(DEFAULT_TOKEN_FLOOR, ge=0)
    implicit_affinity: bool = False

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}", value):
            raise ValueError("a router name is letters, digits, '-', '_' or '.'")
        return value

    @field_validator("policies")
    @classmethod
    def _policies(cls, value: tuple[TaskPolicy, ...]) -> tuple[TaskPolicy, ...]:
        if not value:
            raise ValueError("a router needs at least one policy (a custom task with a pool)")
        seen: set[str] = set()
        for policy in value:
            if policy.name in seen:
                raise ValueError(f"duplicate task name {policy.name!r}; task names must be unique")
            seen.add(policy.name)
        return value

    @model_validator(mode="after")
    def _reframe_targets(self) -> RouterConfig:
        names = {p.name for p in self.policies}
        for policy in self.policies:
            if policy.reframe_to is not None and policy.reframe_to not in names:
                raise ValueError(
                    f"task {policy.name!r}: reframe_to {policy.reframe_to!r} is not a task of "
                    f"this router ({', '.join(sorted(names))})"
                )
        return self

    def task(self, name: str) -> TaskPolicy | None:
        for policy in self.policies:
            if policy.name == name:
                return policy
        return None

    @property
    def task_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.policies)

    def models(self) -> set[str]:
        return {m for p in self.policies for m in p.models} | set(self.fallback_models)


@dataclass
class TollwayConfig:
    """Everything a config file holds: routers, the catalog it was checked against, and extras
    (``tenants``, ``settings`` …) that later parts read."""

    routers: dict[str, RouterConfig]
    catalog: Catalog
    extra: dict[str, Any] = field(default_factory=dict)

    def router(self, name: str) -> RouterConfig:
        return self.routers[name]


def parse_router(data: Mapping[str, Any], catalog: Catalog, where: str = "") -> RouterConfig:
    """Validate one router body against the catalog; raise ConfigError naming the bad field."""
    try:
        router = RouterConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe(exc, where)) from None
    check_models(router, catalog, where)
    if not router.fallback_models:
        log.warning(
            "router has no fallback_models: prompts that match no task will get an error",
            router=router.name,
        )
    return router


def check_models(router: RouterConfig, catalog: Catalog, where: str = "") -> None:
    for i, policy in enumerate(router.policies):
        for j, slug in enumerate(policy.models):
            if slug not in catalog:
                raise ConfigError(
                    f"{where}policies[{i}].models[{j}]: unknown model {slug!r}{catalog.hint(slug)}"
                )
    for j, slug in enumerate(router.fallback_models):
        if slug not in catalog:
            raise ConfigError(f"{where}fallback_models[{j}]: unknown model {slug!r}{catalog.hint(slug)}")


def describe(exc: ValidationError, where: str = "") -> str:
    """Pydantic's errors as ``path.to[2].field: message`` lines."""
    lines = []
    for err in exc.errors():
        path = where
        for part in err["loc"]:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"{path or '(top)'}: {msg}")
    return "; ".join(lines)


def load_config(source: str | Path | Mapping[str, Any], catalog: Catalog | None = None) -> TollwayConfig:
    """Load a router file (YAML, JSON or TOML, by extension) or an already parsed mapping."""
    data = source if isinstance(source, Mapping) else read_file(Path(source))
    if not isinstance(data, Mapping):
        raise ConfigError("the config must be a mapping (a router body or a file with `routers:`)")
    base = catalog or Catalog.default()
    merged = base.merged(data.get("models"), data.get("upstreams"))
    if "routers" in data:
        bodies = data["routers"]
        if not isinstance(bodies, Sequence) or isinstance(bodies, str):
            raise ConfigError("routers: must be a list of router bodies")
        prefix = "routers[{}]."
    else:
        bodies = [{k: v for k, v in data.items() if k not in _FILE_KEYS}]
        prefix = ""
    routers: dict[str, RouterConfig] = {}
    for i, body in enumerate(bodies):
        router = parse_router(body, merged, prefix.format(i))
        if router.name in routers:
            raise ConfigError(f"{prefix.format(i)}name: duplicate router name {router.name!r}")
        routers[router.name] = router
    extra = {k: v for k, v in data.items() if k in _FILE_KEYS - {"routers", "models", "upstreams"}}
    return TollwayConfig(routers=routers, catalog=merged, extra=extra)


_FILE_KEYS = frozenset({"routers", "models", "upstreams", "tenants", "settings"})


def read_file(path: Path) -> Any:
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config {str(path)!r}: {exc.strerror}") from None
    try:
        if path.suffix == ".json":
            return json.loads(text)
        if path.suffix == ".toml":
            return tomllib.loads(text)
        return yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: not valid {path.suffix.lstrip('.') or 'YAML'}: {exc}") from None
