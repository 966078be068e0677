"""Tenants: who pays for a call, their API keys (stored hashed) and their budget caps.

In a config file::

    tenants:
      acme:
        api_keys: ["sha256:9f86d0…"]     # or "plain:sk-…" in development only
        budget: {per_request: "0.05", day: "10.00", month: "200.00", rolling: {3600: "1.00"}}

In code: ``router.tenants.set(Tenant(name="acme", budget=Budget(day=Decimal("10"))))``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .budget import Cap, Window
from .config import describe
from .errors import ConfigError

DEFAULT_TENANT = "default"


class Budget(BaseModel):
    """Caps in USD. Calendar windows are UTC; ``rolling`` maps a window in seconds to a cap."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_request: Decimal | None = Field(None, ge=0)
    hour: Decimal | None = Field(None, ge=0)
    day: Decimal | None = Field(None, ge=0)
    month: Decimal | None = Field(None, ge=0)
    rolling: dict[Annotated[int, Field(gt=0)], Annotated[Decimal, Field(ge=0)]] = Field(default_factory=dict)

    def caps(self) -> list[Cap]:
        caps = [Cap("request", self.per_request)] if self.per_request is not None else []
        calendar: list[tuple[Window, Decimal | None]] = [
            ("hour", self.hour),
            ("day", self.day),
            ("month", self.month),
        ]
        caps += [Cap(window, limit) for window, limit in calendar if limit is not None]
        caps += [Cap(seconds, limit) for seconds, limit in sorted(self.rolling.items())]
        return caps


class Tenant(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    api_keys: tuple[str, ...] = ()
    budget: Budget = Field(default_factory=Budget)

    @field_validator("api_keys")
    @classmethod
    def _keys(cls, keys: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(normalise_key(k) for k in keys)


def hash_key(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


_HEX = re.compile(r"(?:sha256:)?([0-9a-fA-F]{64})")


def normalise_key(entry: str) -> str:
    """Keys are kept as ``sha256:<hex>``; ``plain:<key>`` (development only) is hashed on load."""
    if entry.startswith("plain:") and len(entry) > len("plain:"):
        return hash_key(entry.removeprefix("plain:"))
    match = _HEX.fullmatch(entry)
    if match is None:
        raise ValueError(
            "give the key's SHA-256 as 64 hex digits (`printf %s KEY | sha256sum`), "
            "or 'plain:<key>' for development"
        )
    return "sha256:" + match.group(1).lower()


class Tenants:
    """The tenants of a router, by name and by key hash."""

    def __init__(self, tenants: Iterable[Tenant] = ()) -> None:
        self._by_name: dict[str, Tenant] = {}
        for tenant in tenants:
            self.set(tenant)

    @classmethod
    def from_config(cls, data: Mapping[str, Any] | None) -> Tenants:
        if data is not None and not isinstance(data, Mapping):
            raise ConfigError("tenants: must map tenant names to {api_keys: [...], budget: {...}}")
        tenants = []
        for name, fields in (data or {}).items():
            try:
                tenants.append(Tenant.model_validate({**(fields or {}), "name": name}))
            except ValidationError as exc:
                raise ConfigError(describe(exc, f"tenants.{name}.")) from None
        return cls(tenants)

    def set(self, tenant: Tenant) -> None:
        """Add or replace a tenant. A key may belong to one tenant only."""
        for other in self._by_name.values():
            if other.name != tenant.name and set(other.api_keys) & set(tenant.api_keys):
                raise ConfigError(
                    f"tenants.{tenant.name}.api_keys: a key already belongs to tenant {other.name!r}"
                )
        self._by_name[tenant.name] = tenant

    def get(self, name: str) -> Tenant | None:
        return self._by_name.get(name)

    def __len__(self) -> int:
        return len(self._by_name)

    def __iter__(self) -> Any:
        return iter(self._by_name.values())

    def caps(self, name: str) -> list[Cap]:
        tenant = self._by_name.get(name)
        return tenant.budget.caps() if tenant is not None else []

    @property
    def keyed(self) -> bool:
        """True when some tenant has API keys: inference then requires one."""
        return any(t.api_keys for t in self._by_name.values())

    def by_key(self, key: str) -> Tenant | None:
        """The tenant owning ``key``. Every stored hash is compared, in constant time."""
        digest = hash_key(key)
        found = None
        for tenant in self._by_name.values():
            for stored in tenant.api_keys:
                if hmac.compare_digest(stored, digest):
                    found = tenant
        return found
