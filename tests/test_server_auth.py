"""Credentials: key formats, hashing, refusals that say which credential is expected."""

from __future__ import annotations

import hashlib

import pytest

from tollway.errors import ConfigError
from tollway.server.auth import Credentials, bearer
from tollway.server.errors import Forbidden, Unauthorized

HEX = hashlib.sha256(b"sk-hex-key").hexdigest()


def creds() -> Credentials:
    return Credentials(
        admin_token="root",
        tenants={"acme": {"api_keys": ["plain:sk-acme"], "budget": {}}, "beta": {"api_keys": [HEX]}},
    )


def test_keys_map_to_tenants_in_either_form() -> None:
    c = creds()
    assert c.tenant("Bearer sk-acme") == "acme"
    assert c.tenant("bearer sk-hex-key") == "beta"
    assert not c.open and c.tenants == {"acme", "beta"}


def test_open_mode_books_any_key_to_default_but_refuses_the_admin_token() -> None:
    c = Credentials(admin_token="root")
    assert c.open
    assert c.tenant(None) == "default" and c.tenant("Bearer whatever") == "default"
    with pytest.raises(Forbidden, match="control plane"):
        c.tenant("Bearer root")


@pytest.mark.parametrize(
    ("header", "error", "needle"),
    [
        (None, Unauthorized, "missing API key"),
        ("Bearer nope", Unauthorized, "unknown API key"),
        ("Basic sk-acme", Unauthorized, "missing API key"),
        ("Bearer root", Forbidden, "tenant API key"),
    ],
)
def test_inference_refusals(header: str | None, error: type[Exception], needle: str) -> None:
    with pytest.raises(error, match=needle):
        creds().tenant(header)


@pytest.mark.parametrize(
    ("header", "error", "needle"),
    [
        (None, Unauthorized, "missing admin token"),
        ("Bearer nope", Unauthorized, "invalid admin token"),
        ("Bearer sk-acme", Forbidden, "takes the admin token"),
    ],
)
def test_control_refusals(header: str | None, error: type[Exception], needle: str) -> None:
    with pytest.raises(error, match=needle):
        creds().check_admin(header)
    creds().check_admin("Bearer root")


def test_control_plane_off_without_a_token() -> None:
    with pytest.raises(Forbidden, match="disabled"):
        Credentials().check_admin("Bearer root")


@pytest.mark.parametrize(
    "tenants",
    [
        {"acme": {"api_keys": ["sk-raw-key"]}},
        {"acme": {"api_keys": "plain:x"}},
        {"a": {"api_keys": ["plain:k"]}, "b": {"api_keys": ["plain:k"]}},
    ],
)
def test_bad_tenant_config_names_the_entry(tenants: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match=r"tenants\."):
        Credentials(tenants=tenants)


def test_bearer_parsing() -> None:
    assert bearer("Bearer  abc ") == "abc"
    assert bearer("Bearer") is None and bearer("") is None and bearer("Token abc") is None
