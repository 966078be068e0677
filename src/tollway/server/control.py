"""The control plane, shaped like the managed router's API::

    POST   /v2/gen-ai/models/routers          create   -> {"model_router": {...}}
    GET    /v2/gen-ai/models/routers          list     -> {"model_routers": [...], "links": {}, "meta": {...}}
    GET    /v2/gen-ai/models/routers/{uuid}   get      -> {"model_router": {...}}
    PUT    /v2/gen-ai/models/routers/{uuid}   update   -> {"model_router": {...}}
    DELETE /v2/gen-ai/models/routers/{uuid}   delete   -> {"uuid": "..."}

Routers created here go into the running router's config at once (invocable as
``router:<name>``) and into the store (they survive a restart). Routers from the config file are
listed too, read-only, under a stable uuid derived from their name.

Store calls run in a worker thread (a SQLite write can wait seconds for another process's lock),
and a store that fails is a 503 ``{"id": "unavailable", ...}``. The managed API's ``regions``,
``region`` and ``project_id`` are accepted, kept and echoed; they never reach the router's config.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.to_thread
import structlog

from ..config import RouterConfig, parse_router
from ..errors import ConfigError, InvalidRequest, NotFound, RequestError
from ..stores.routers import DuplicateName, RouterStore, StoredRouter, StoreUnavailable
from .answer import Answer, control_error_answer, json_answer
from .auth import Credentials
from .chat import MAX_BODY_BYTES, parse_body, too_large
from .errors import MethodNotAllowed, ServiceUnavailable, clip, clip_message

if TYPE_CHECKING:
    from ..router import Router

log = structlog.get_logger("tollway.control")

T = TypeVar("T")

PATH = "/v2/gen-ai/models/routers"
FIELDS = ("name", "description", "policies", "fallback_models")
# Accepted because the managed API takes them; tollway has no regions or projects, so they are
# kept with the router and echoed back, and never reach the router's validation.
MANAGED_FIELDS = ("regions", "region", "project_id")
_CONFIG_NAMESPACE = uuid.UUID("8c1b4a9e-3f0d-5e8a-9b7c-2d6e1f0a4b3c")
_EMPTY = 'a JSON model router such as {"name": ..., "policies": [...]}'


def is_control_path(path: str) -> bool:
    """``/v2/gen-ai/models/routers`` and what lies under it, not ``/v2/gen-ai/models/routersX``."""
    return path == PATH or path.startswith(PATH + "/")


class ControlPlane:
    def __init__(
        self,
        router: Router,
        store: RouterStore,
        credentials: Credentials,
        *,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.router = router
        self.max_body_bytes = max_body_bytes
        self.store = store
        self.credentials = credentials
        self.from_file = dict(router.config.routers)
        self._installed: set[str] = set()
        self._refreshing = anyio.Lock()
        # At start-up, before any request: the blocking calls are fine here.
        version = store.version()
        self._install_all(store.list())
        self._version = version

    def _install_all(self, records: list[StoredRouter]) -> None:
        """Install every stored router into the running config, replacing those installed before
        (at start-up, or after another process changed the store). No ``await`` in here: the
        routers change in one step as far as requests are concerned."""
        routers = self.router.config.routers
        for name in self._installed:
            routers.pop(name, None)
        routers.update(self.from_file)
        self._installed = set()
        for record in records:
            if record.name in self.from_file:
                log.warning(
                    "a stored router has the name of a config-file router; the file wins", router=record.name
                )
                continue
            try:
                routers[record.name] = parse_router(_config_body(record.body), self.router.catalog)
            except ConfigError as exc:
                log.error("a stored router no longer validates; skipped", router=record.name, error=str(exc))
                continue
            self._installed.add(record.name)

    async def load(self) -> None:
        """Read the store (in a worker thread) and install what it holds."""
        self._install_all(await self._run(self.store.list))

    async def refresh(self) -> None:
        """Pick up changes other workers made to the store (cheap when nothing changed: one
        ``data_version`` read that never waits). The new version is recorded only once the
        routers were loaded, so a failed load is retried on the next request. Raises
        ``ServiceUnavailable`` when the store cannot be read."""
        version = self.store.version()
        if version is None or version == self._version:
            return
        async with self._refreshing:
            if version == self._version:  # another request loaded it meanwhile
                return
            await self.load()
            self._version = version

    async def refresh_quietly(self) -> None:
        """``refresh()`` for the data plane: when the store is unreadable, keep serving the routers
        loaded last (and log), rather than failing the request."""
        try:
            await self.refresh()
        except ServiceUnavailable as exc:
            log.warning("the router store is unavailable; serving the routers loaded last", error=exc.message)
        except Exception:
            log.exception("reloading the routers failed; serving the routers loaded last")

    async def _run(self, work: Callable[..., T], *args: Any) -> T:
        """A blocking store call in a worker thread; store failures become a 503."""
        try:
            return await anyio.to_thread.run_sync(work, *args)
        except StoreUnavailable as exc:
            log.error("the router store failed", error=str(exc))
            raise ServiceUnavailable(
                "the router store is unavailable right now (it may be locked by another process); try again"
            ) from None

    async def __call__(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes | None
    ) -> Answer:
        """``body`` is None when it went over the size limit."""
        request_id = f"req-{uuid.uuid4().hex}"
        try:
            self.credentials.check_admin(headers.get("authorization"))
            if body is None:
                raise too_large(self.max_body_bytes)
            rest = path[len(PATH) :].strip("/")
            if "/" in rest:
                raise NotFound(f"no route for {clip(method, 20)} {clip(path)}", code="unknown_url")
            await self.refresh()
            return await self.dispatch(method, rest, body)
        except RequestError as exc:
            return control_error_answer(exc, request_id)

    async def dispatch(self, method: str, router_id: str, body: bytes) -> Answer:
        if not router_id:
            if method == "GET":
                return await self.list()
            if method == "POST":
                return await self.create(_body(body))
            raise MethodNotAllowed(
                f"{clip(method, 20)} is not allowed on {PATH}; use GET or POST", allow=("GET", "POST")
            )
        if method == "GET":
            return json_answer(200, {"model_router": self.view(await self._find(router_id))})
        if method in ("PUT", "PATCH"):
            return await self.update(router_id, _body(body))
        if method == "DELETE":
            return await self.delete(router_id)
        raise MethodNotAllowed(
            f"{clip(method, 20)} is not allowed on {PATH}/{{uuid}}; use GET, PUT or DELETE",
            allow=("GET", "PUT", "PATCH", "DELETE"),
        )

    async def list(self) -> Answer:
        items = [_file_view(name, config) for name, config in sorted(self.from_file.items())]
        items += [self.view(record) for record in await self._run(self.store.list)]
        return json_answer(200, {"model_routers": items, "links": {}, "meta": {"total": len(items)}})

    async def create(self, body: dict[str, Any]) -> Answer:
        _check_fields(body)
        config = self._validate(body)
        if config.name in self.router.config.routers:
            raise _duplicate(config.name)
        try:
            record = await self._run(self.store.create, config.name, body)
        except DuplicateName:
            raise _duplicate(config.name) from None
        self._install(config)
        log.info("router created", router=config.name, uuid=record.uuid)
        return json_answer(200, {"model_router": self.view(record)})

    async def update(self, router_id: str, changes: dict[str, Any]) -> Answer:
        _check_fields(changes)
        current = await self._stored(router_id)
        body = {**current.body, **changes}
        config = self._validate(body)
        if config.name != current.name and config.name in self.router.config.routers:
            raise _duplicate(config.name)
        try:
            record = await self._run(self.store.update, router_id, config.name, body)
        except DuplicateName:
            raise _duplicate(config.name) from None
        if record is None:
            raise _not_found(router_id)
        self._uninstall(current.name)
        self._install(config)
        log.info("router updated", router=config.name, uuid=router_id)
        return json_answer(200, {"model_router": self.view(record)})

    async def delete(self, router_id: str) -> Answer:
        record = await self._stored(router_id)
        await self._run(self.store.delete, router_id)
        self._uninstall(record.name)
        log.info("router deleted", router=record.name, uuid=router_id)
        return json_answer(200, {"uuid": router_id})

    def view(self, record: StoredRouter | tuple[str, RouterConfig]) -> dict[str, Any]:
        if isinstance(record, tuple):
            return _file_view(*record)
        body = record.body
        view = {
            "uuid": record.uuid,
            "name": record.name,
            "description": body.get("description", ""),
            "config": {
                "policies": body.get("policies", []),
                "fallback_models": body.get("fallback_models", []),
            },
            "regions": _regions(body),
            "created_at": record.created_at,
            "updated_at": record.updated_at,
            "source": "control_plane",
        }
        if "project_id" in body:
            view["project_id"] = body["project_id"]
        return view

    async def _find(self, router_id: str) -> StoredRouter | tuple[str, RouterConfig]:
        for name, config in self.from_file.items():
            if file_uuid(name) == router_id:
                return (name, config)
        record = await self._run(self.store.get, router_id)
        if record is None:
            raise _not_found(router_id)
        return record

    async def _stored(self, router_id: str) -> StoredRouter:
        found = await self._find(router_id)
        if isinstance(found, tuple):
            raise RequestError(
                f"router {found[0]!r} comes from the config file and is read-only here; "
                "edit the file and restart, or create a router with another name",
                status=409,
            )
        return found

    def _validate(self, body: dict[str, Any]) -> RouterConfig:
        try:
            return parse_router(_config_body(body), self.router.catalog)
        except ConfigError as exc:
            raise InvalidRequest(clip_message(plain(str(exc)))) from None

    def _install(self, config: RouterConfig) -> None:
        self.router.config.routers[config.name] = config
        self._installed.add(config.name)

    def _uninstall(self, name: str) -> None:
        if name in self._installed:
            self.router.config.routers.pop(name, None)
            self._installed.discard(name)


# pydantic's wording, as a client of a JSON API would say it.
_PLAIN = [
    (re.compile(r"Input should be a valid (tuple|list|array)"), "must be an array"),
    (re.compile(r"Input should be a valid dictionary( or instance of \w+)?"), "must be an object"),
    (re.compile(r"Input should be a valid string"), "must be a string"),
    (re.compile(r"Input should be a valid (number|integer)[^;]*"), r"must be a \1"),
    (re.compile(r"Input should be a valid boolean[^;]*"), "must be true or false"),
    (re.compile(r"Extra inputs are not permitted"), "unknown field"),
    (re.compile(r"Field required"), "is required"),
    (re.compile(r"Input should be (.+)"), r"must be \1"),
]


def plain(message: str) -> str:
    for pattern, replacement in _PLAIN:
        message = pattern.sub(replacement, message)
    return message


def _check_fields(body: Mapping[str, Any]) -> None:
    unknown = sorted(set(body) - set(FIELDS) - set(MANAGED_FIELDS))
    if unknown:
        shown = ", ".join(clip(name, 40) for name in unknown[:10]) + (" …" if len(unknown) > 10 else "")
        raise InvalidRequest(f"unknown field(s): {shown}; a router has {', '.join(FIELDS)}")


def _config_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a stored body that is the router's config (the managed API's extras dropped)."""
    return {k: v for k, v in body.items() if k not in MANAGED_FIELDS}


def _regions(body: Mapping[str, Any]) -> list[Any]:
    regions = body.get("regions")
    if isinstance(regions, list):
        return regions
    region = body.get("region")
    return [region] if isinstance(region, str) else []


def file_uuid(name: str) -> str:
    return str(uuid.uuid5(_CONFIG_NAMESPACE, name))


def _file_view(name: str, config: RouterConfig) -> dict[str, Any]:
    dumped = config.model_dump(mode="json", exclude_defaults=True)
    return {
        "uuid": file_uuid(name),
        "name": name,
        "description": config.description,
        "config": {
            "policies": dumped.get("policies", []),
            "fallback_models": dumped.get("fallback_models", []),
        },
        "regions": [],
        "created_at": None,
        "updated_at": None,
        "source": "config",
    }


def _body(body: bytes) -> dict[str, Any]:
    return parse_body(body, _EMPTY)


def _duplicate(name: str) -> InvalidRequest:
    return InvalidRequest(f"cannot use name {name!r}: model router name already exists")


def _not_found(router_id: str) -> NotFound:
    return NotFound(f"no model router with uuid {clip(router_id)}")
