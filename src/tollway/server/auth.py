"""Credentials: an admin token for the control plane, tenant API keys for inference.

Keys are kept only as SHA-256 digests and compared with ``hmac.compare_digest``. Config form::

    tenants:
      acme: {api_keys: ["<sha256 hex of the key>", "plain:sk-dev-only"]}

With no tenants configured every bearer key is accepted and booked to tenant ``default``.
Each credential is refused on the other plane with a 403 that names the one expected.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError
from .errors import Forbidden, Unauthorized

DEFAULT_TENANT = "default"
_HEX = re.compile(r"(?:sha256:)?([0-9a-fA-F]{64})")


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


class Credentials:
    """Who may call what. ``tenants`` is the config's ``tenants:`` mapping (other fields ignored)."""

    def __init__(self, *, admin_token: str | None = None, tenants: Mapping[str, Any] | None = None) -> None:
        self._admin = digest(admin_token) if admin_token else None
        self._keys: dict[bytes, str] = parse_tenants(tenants or {})

    @property
    def open(self) -> bool:
        """True when no tenant keys are configured: any key is accepted for tenant ``default``."""
        return not self._keys

    @property
    def control_enabled(self) -> bool:
        return self._admin is not None

    @property
    def tenants(self) -> set[str]:
        return set(self._keys.values())

    def _is_admin(self, key_digest: bytes) -> bool:
        return self._admin is not None and hmac.compare_digest(key_digest, self._admin)

    def _tenant_of(self, key_digest: bytes) -> str | None:
        # A dict lookup on the digest leaks nothing usable about the key (finding a digest's
        # neighbour gives no preimage); the compare keeps the final check constant-time.
        for known, tenant in self._keys.items():
            if hmac.compare_digest(known, key_digest):
                return tenant
        return None

    def tenant(self, authorization: str | None) -> str:
        """The tenant an inference request is booked to; raises 401/403 for a bad credential."""
        token = bearer(authorization)
        if token is not None and self._is_admin(digest(token)):
            raise Forbidden(
                "this is the admin token, which only works on the control plane (/v2/gen-ai/...); "
                "inference takes a tenant API key"
            )
        if self.open:
            return DEFAULT_TENANT
        if token is None:
            raise Unauthorized("missing API key: send `Authorization: Bearer <tenant API key>`")
        tenant = self._tenant_of(digest(token))
        if tenant is None:
            raise Unauthorized("unknown API key: inference takes a tenant API key")
        return tenant

    def check_admin(self, authorization: str | None) -> None:
        """Let a control-plane request through, or raise 401/403 saying what is expected."""
        if self._admin is None:
            raise Forbidden(
                "the control plane is disabled: start `tollway serve` with --admin-token "
                "(or TOLLWAY_ADMIN_TOKEN)",
                code="control_plane_disabled",
            )
        token = bearer(authorization)
        if token is None:
            raise Unauthorized("missing admin token: send `Authorization: Bearer <admin token>`")
        key_digest = digest(token)
        if self._is_admin(key_digest):
            return
        if self._tenant_of(key_digest) is not None:
            raise Forbidden(
                "this is a tenant API key, which only works for inference (/v1/...); "
                "the control plane takes the admin token"
            )
        raise Unauthorized("invalid admin token")


def parse_tenants(tenants: Mapping[str, Any]) -> dict[bytes, str]:
    """Map each configured key digest to its tenant; raise ConfigError naming a bad entry."""
    if not isinstance(tenants, Mapping):
        raise ConfigError("tenants: must map tenant names to {api_keys: [...]}")
    keys: dict[bytes, str] = {}
    for name, spec in tenants.items():
        entries = spec.get("api_keys", []) if isinstance(spec, Mapping) else None
        if not isinstance(entries, list):
            raise ConfigError(f"tenants.{name}.api_keys: must be a list of keys")
        for i, entry in enumerate(entries):
            key_digest = _parse_key(entry, f"tenants.{name}.api_keys[{i}]")
            if keys.get(key_digest, name) != name:
                raise ConfigError(f"tenants.{name}.api_keys[{i}]: this key already belongs to another tenant")
            keys[key_digest] = str(name)
    return keys


def _parse_key(entry: Any, where: str) -> bytes:
    if isinstance(entry, str) and entry.startswith("plain:") and len(entry) > len("plain:"):
        return digest(entry.removeprefix("plain:"))
    match = _HEX.fullmatch(entry) if isinstance(entry, str) else None
    if match is None:
        raise ConfigError(
            f"{where}: give the key's SHA-256 as 64 hex digits (`printf %s KEY | sha256sum`), "
            "or 'plain:<key>' for development"
        )
    return bytes.fromhex(match.group(1))
