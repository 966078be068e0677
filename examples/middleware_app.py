"""tollway mounted in an existing Starlette app as pure-ASGI middleware.

    uvicorn examples.middleware_app:app --port 8000

POST /v1/chat/completions with model "router:cost-governance-demo" is answered by tollway; every
other request (the app's own routes, other models, websockets, lifespan) reaches the app as it came.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tollway import Router
from tollway.config import load_config
from tollway.server.middleware import TollwayMiddleware

router = Router(
    load_config(json.loads((Path(__file__).parent / "tutorial-router.json").read_text())), simulate=True
)


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"hello": "from the host app"})


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    async with router:  # close the router's upstream connections at shutdown
        yield


# The host app authenticates users its own way and tells tollway who pays.
app = TollwayMiddleware(
    Starlette(routes=[Route("/hello", hello)], lifespan=lifespan),
    router=router,
    tenant=lambda scope: "host-app",
)
