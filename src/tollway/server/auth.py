"""Credentials: an admin token for the control plane, tenant API keys for inference.

Keys are kept only as SHA-256 digests and compared with ``hmac.compare_digest``. Config form::

    tenants:
      acme: {api_keys: ["<sha256 hex of the key>", "plain:sk-dev-only"]}

With no tenants configured every bearer key is accepted and booked to tenant ``default``.
Each credential is refused on the other plane with a 403 that names the one expected.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from ..tenancy import DEFAULT_TENANT, Tenants, hash_key
from .errors import Forbidden, Unauthorized


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


class Credentials:
    """Who may call what. ``tenants`` is a ``Tenants`` registry (``router.tenants``) or the
    config's ``tenants:`` mapping."""

    def __init__(
        self, *, admin_token: str | None = None, tenants: Tenants | Mapping[str, Any] | None = None
    ) -> None:
        self._admin = hash_key(admin_token) if admin_token else None
        self._tenants = tenants if isinstance(tenants, Tenants) else Tenants.from_config(tenants)

    @property
    def open(self) -> bool:
        """True when no tenant keys are configured: any key is accepted for tenant ``default``."""
        return not self._tenants.keyed

    @property
    def control_enabled(self) -> bool:
        return self._admin is not None

    @property
    def tenants(self) -> set[str]:
        return {t.name for t in self._tenants if t.api_keys}

    def _is_admin(self, key_digest: str) -> bool:
        return self._admin is not None and hmac.compare_digest(key_digest, self._admin)

    def _tenant_of(self, token: str) -> str | None:
        tenant = self._tenants.by_key(token)
        return tenant.name if tenant is not None else None

    def tenant(self, authorization: str | None) -> str:
        """The tenant an inference request is booked to; raises 401/403 for a bad credential."""
        token = bearer(authorization)
        if token is not None and self._is_admin(hash_key(token)):
            raise Forbidden(
                "this is the admin token, which only works on the control plane (/v2/gen-ai/...); "
                "inference takes a tenant API key"
            )
        if self.open:
            return DEFAULT_TENANT
        if token is None:
            raise Unauthorized("missing API key: send `Authorization: Bearer <tenant API key>`")
        tenant = self._tenant_of(token)
        if tenant is None:
            raise Unauthorized("unknown API key: inference takes a tenant API key")
        return tenant

    def check_admin(self, authorization: str | None) -> None:
        """Let a control-plane request through, or raise 401/403 saying what is expected."""
        if self._admin is None:
            raise Forbidden(
                "the control plane is disabled: start `tollway serve` with TOLLWAY_ADMIN_TOKEN set "
                "in its environment (or --admin-token, which other users can see in ps)",
                code="control_plane_disabled",
            )
        token = bearer(authorization)
        if token is None:
            raise Unauthorized("missing admin token: send `Authorization: Bearer <admin token>`")
        key_digest = hash_key(token)
        if self._is_admin(key_digest):
            return
        if self._tenant_of(token) is not None:
            raise Forbidden(
                "this is a tenant API key, which only works for inference (/v1/...); "
                "the control plane takes the admin token"
            )
        raise Unauthorized("invalid admin token")
