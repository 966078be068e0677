"""OpenAI-compatible upstream client on httpx: pooled connections, timeouts, SSE, and errors
translated at the boundary into ``UpstreamError`` with ``retryable`` set.

``Upstream`` is what the pipeline needs of a client; ``HttpUpstream`` (here) and
``tollway.upstream_aiohttp.AiohttpUpstream`` (native aiohttp, the server's default) both satisfy it
and share the error translation below."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

import httpx

from .catalog import Catalog, ModelSpec
from .catalog import Upstream as UpstreamSpec
from .errors import UpstreamError

# Failures worth trying another model for: the provider is down, slow or rate-limited.
RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})


class Upstream(Protocol):
    """An OpenAI-compatible chat client for the catalog's models. Every failure is an
    ``UpstreamError`` whose ``retryable`` says whether another model is worth trying."""

    @property
    def catalog(self) -> Catalog: ...

    async def complete(self, model: ModelSpec, body: dict[str, Any]) -> dict[str, Any]:
        """One non-streaming completion."""
        ...

    async def open_stream(self, model: ModelSpec, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Start a stream: errors before the body raise here, later ones from the iterator (a cut
        connection is a retryable ``UpstreamError``). Closing the iterator releases the call."""
        ...

    async def aclose(self) -> None: ...


class HttpUpstream:
    """Calls each model's upstream (``catalog.upstream(model.upstream)``) over one pooled client."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | None = None,
        limits: httpx.Limits | None = None,
        env: Mapping[str, str] = os.environ,
        require_keys: bool = True,
    ) -> None:
        self.catalog = catalog
        self.require_keys = require_keys  # False for the simulator, which needs no keys
        self._client = httpx.AsyncClient(
            transport=transport,
            timeout=timeout or httpx.Timeout(120.0, connect=5.0),
            limits=limits or httpx.Limits(max_connections=1000, max_keepalive_connections=200),
        )
        self._env = env

    async def aclose(self) -> None:
        await self._client.aclose()

    def _request(self, model: ModelSpec, body: dict[str, Any]) -> httpx.Request:
        upstream = self.catalog.upstream(model.upstream)
        headers = request_headers(model, upstream, self._env, require_key=self.require_keys)
        url = upstream.base_url.rstrip("/") + "/chat/completions"
        return self._client.build_request("POST", url, content=json.dumps(body), headers=headers)

    async def complete(self, model: ModelSpec, body: dict[str, Any]) -> dict[str, Any]:
        """One non-streaming completion; raises ``UpstreamError``."""
        try:
            response = await self._client.send(self._request(model, body))
        except httpx.HTTPError as exc:
            raise transport_error(model.slug, exc) from exc
        if response.status_code != 200:
            raise status_error(model.slug, response.status_code, response.content)
        try:
            data: dict[str, Any] = response.json()
        except ValueError as exc:
            raise invalid_json_error(model.slug) from exc
        return data

    async def open_stream(self, model: ModelSpec, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Start a stream; errors before the first byte of the body raise here, later ones
        raise ``UpstreamError`` from the iterator."""
        try:
            response = await self._client.send(self._request(model, body), stream=True)
        except httpx.HTTPError as exc:
            raise transport_error(model.slug, exc) from exc
        if response.status_code != 200:
            try:
                content = await response.aread()
            except httpx.HTTPError:
                content = b""  # the status says enough
            finally:
                await response.aclose()
            raise status_error(model.slug, response.status_code, content)
        return _events(model.slug, response)


async def _events(model: str, response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    try:
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                return
            event = json.loads(data)
            if not isinstance(event, dict):
                raise ValueError("a stream event must be a JSON object")
            yield event
    except httpx.HTTPError as exc:
        raise transport_error(model, exc) from exc
    except ValueError as exc:
        raise invalid_event_error(model) from exc
    finally:
        await response.aclose()


def request_headers(
    model: ModelSpec, upstream: UpstreamSpec, env: Mapping[str, str], *, require_key: bool = True
) -> dict[str, str]:
    """JSON, and the upstream's key from its environment variable, read at call time.

    An upstream that names a key variable which is not set fails before any request is sent,
    saying which variable: a clearer answer than the provider's 401 (and no wasted call)."""
    headers = {"content-type": "application/json"}
    if upstream.api_key_env:
        key = env.get(upstream.api_key_env)
        if not key and require_key:
            raise UpstreamError(
                f"model {model.slug!r}: ${upstream.api_key_env} is not set (the API key of its upstream)",
                model=model.slug,
                retryable=True,
                code="upstream_key_missing",
            )
        if key:
            headers["authorization"] = f"Bearer {key}"
    return headers


def transport_error(model: str, exc: httpx.HTTPError) -> UpstreamError:
    # We want the most specific message we can give without leaking request details.
    if isinstance(exc, httpx.TimeoutException):
        return timeout_error(model)
    return unreachable_error(model, type(exc).__name__)


def timeout_error(model: str) -> UpstreamError:
    """The client's own timeout fired (connect, read, write or pool)."""
    return UpstreamError(
        f"model {model!r}: the upstream timed out",
        model=model,
        retryable=True,
        status=504,
        code="upstream_timeout",
    )


def unreachable_error(model: str, kind: str) -> UpstreamError:
    """A transport failure: refused, reset, or cut mid-body. ``kind`` is the exception's class
    name (never its text, which may carry request details)."""
    return UpstreamError(
        f"model {model!r}: the upstream could not be reached ({kind})",
        model=model,
        retryable=True,
        code="upstream_unavailable",
    )


def invalid_json_error(model: str) -> UpstreamError:
    return UpstreamError(
        f"model {model!r}: the upstream answered with invalid JSON", model=model, retryable=True
    )


def invalid_event_error(model: str) -> UpstreamError:
    return UpstreamError(
        f"model {model!r}: the upstream sent an invalid stream event", model=model, retryable=True
    )


def status_error(model: str, status: int, content: bytes) -> UpstreamError:
    body = _json_or_none(content)
    if status in (401, 403, 404):
        # The provider's problem, not the client's: a bad or missing key, or a model it does not
        # serve. Fail over to the next candidate. The upstream's text is not passed on: an auth
        # error may quote part of the key.
        what = "refused tollway's credentials" if status != 404 else "does not serve this model"
        return UpstreamError(
            f"model {model!r}: the upstream {what} ({status}); check the model's upstream and key",
            model=model,
            retryable=True,
            upstream_status=status,
            status=502,
            code="upstream_auth" if status != 404 else "upstream_model_not_found",
        )
    detail = _error_message(body) or f"HTTP {status}"
    retryable = status in RETRYABLE_STATUS
    # A 4xx the upstream blames on the request is the client's to fix: pass the status through.
    client_fault = 400 <= status < 500 and not retryable
    return UpstreamError(
        f"model {model!r}: the upstream answered {status}: {detail[:500]}",
        model=model,
        retryable=retryable,
        upstream_status=status,
        status=status if client_fault else 502,
        code="upstream_error",
        body=body,
    )


def _json_or_none(content: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(content)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _error_message(body: dict[str, Any] | None) -> str | None:
    if not body:
        return None
    error = body.get("error")
    message = error.get("message") if isinstance(error, dict) else None
    return message if isinstance(message, str) else None
