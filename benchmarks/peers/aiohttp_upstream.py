"""EXPERIMENT (benchmarks only): ``HttpUpstream``'s interface on aiohttp directly, without httpx's
request/response models. Used to measure what a native aiohttp path in ``tollway.upstream`` would
save; not part of the package. Error mapping is minimal (status errors only)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson

from tollway.catalog import Catalog, ModelSpec
from tollway.upstream import status_error


class AiohttpUpstream:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=1000, keepalive_timeout=30)
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=120)
            )
        return self._session

    def _url(self, model: ModelSpec) -> str:
        return self.catalog.upstream(model.upstream).base_url.rstrip("/") + "/chat/completions"

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def complete(self, model: ModelSpec, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"content-type": "application/json"}
        async with self._client().post(self._url(model), data=orjson.dumps(body), headers=headers) as r:
            content = await r.read()
            if r.status != 200:
                raise status_error(model.slug, r.status, content)
        data: dict[str, Any] = orjson.loads(content)
        return data

    async def open_stream(self, model: ModelSpec, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        headers = {"content-type": "application/json"}
        response = await self._client().post(self._url(model), data=orjson.dumps(body), headers=headers)
        if response.status != 200:
            content = await response.read()
            response.release()
            raise status_error(model.slug, response.status, content)
        return _events(response)


async def _events(response: aiohttp.ClientResponse) -> AsyncIterator[dict[str, Any]]:
    try:
        async for line in response.content:
            if line.startswith(b"data:"):
                data = line[5:].strip()
                if data == b"[DONE]":
                    return
                yield orjson.loads(data)
    finally:
        response.release()
