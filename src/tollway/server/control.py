"""The control plane, shaped like the managed router's API::

    POST   /v2/gen-ai/models/routers          create   -> {"model_router": {...}}
    GET    /v2/gen-ai/models/routers          list     -> {"model_routers": [...], "links": {}, "meta": {...}}
    GET    /v2/gen-ai/models/routers/{uuid}   get      -> {"model_router": {...}}
    PUT    /v2/gen-ai/models/routers/{uuid}   update   -> {"model_router": {...}}
    DELETE /v2/gen-ai/models/routers/{uuid}   delete   -> {"uuid": "..."}

Routers created here go into the running router's config at once (invocable as
``router:<name>``) and into the store (they survive a restart). Routers from the config file are
listed too, read-only, under a stable uuid derived from their name.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import structlog

from ..config import RouterConfig, parse_router
from ..errors import ConfigError, InvalidRequest, NotFound, RequestError
from ..stores.routers import DuplicateName, RouterStore, StoredRouter
from .answer import Answer, control_error_answer, json_answer
from .auth import Credentials
from .chat import parse_body
from .errors import MethodNotAllowed

if TYPE_CHECKING:
    from ..router import Router

log = structlog.get_logger("tollway.control")

PATH = "/v2/gen-ai/models/routers"
FIELDS = ("name", "description", "policies", "fallback_models")
_CONFIG_NAMESPACE = uuid.UUID("8c1b4a9e-3f0d-5e8a-9b7c-2d6e1f0a4b3c")


class ControlPlane:
    def __init__(self, router: Router, store: RouterStore, credentials: Credentials) -> None:
        self.router = router
        self.store = store
        self.credentials = credentials
        self.from_file = dict(router.config.routers)
        self._installed: set[str] = set()
        self.load()

    def load(self) -> None:
        """Install every stored router into the running config (at start-up, or after another
        process changed the store)."""
        routers = self.router.config.routers
        for name in self._installed:
            routers.pop(name, None)
        routers.update(self.from_file)
        self._installed = set()
        for record in self.store.list():
            if record.name in self.from_file:
                log.warning(
                    "a stored router has the name of a config-file router; the file wins", router=record.name
                )
                continue
            try:
                routers[record.name] = parse_router(record.body, self.router.catalog)
            except ConfigError as exc:
                log.error("a stored router no longer validates; skipped", router=record.name, error=str(exc))
                continue
            self._installed.add(record.name)

    def refresh(self) -> None:
        """Pick up changes other workers made to the store (cheap when nothing changed)."""
        if self.store.changed():
            self.load()

    async def __call__(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Answer:
        request_id = f"req-{uuid.uuid4().hex}"
        try:
            self.credentials.check_admin(headers.get("authorization"))
            self.refresh()
            return self.dispatch(method, path.rstrip("/")[len(PATH) :].lstrip("/"), body)
        except RequestError as exc:
            return control_error_answer(exc, request_id)

    def dispatch(self, method: str, router_id: str, body: bytes) -> Answer:
        if not router_id:
            if method == "GET":
                return self.list()
            if method == "POST":
                return self.create(_body(body))
            raise MethodNotAllowed(f"{method} is not allowed on {PATH}; use GET or POST")
        if method == "GET":
            return json_answer(200, {"model_router": self.view(self._find(router_id))})
        if method in ("PUT", "PATCH"):
            return self.update(router_id, _body(body))
        if method == "DELETE":
            return self.delete(router_id)
        raise MethodNotAllowed(f"{method} is not allowed on {PATH}/{{uuid}}; use GET, PUT or DELETE")

    def list(self) -> Answer:
        items = [_file_view(name, config) for name, config in sorted(self.from_file.items())]
        items += [self.view(record) for record in self.store.list()]
        return json_answer(200, {"model_routers": items, "links": {}, "meta": {"total": len(items)}})

    def create(self, body: dict[str, Any]) -> Answer:
        config = self._validate(body)
        if config.name in self.router.config.routers:
            raise _duplicate(config.name)
        try:
            record = self.store.create(config.name, body)
        except DuplicateName:
            raise _duplicate(config.name) from None
        self._install(config)
        log.info("router created", router=config.name, uuid=record.uuid)
        return json_answer(200, {"model_router": self.view(record)})

    def update(self, router_id: str, changes: dict[str, Any]) -> Answer:
        current = self._stored(router_id)
        body = {**current.body, **{k: v for k, v in changes.items() if k in FIELDS}}
        config = self._validate(body)
        if config.name != current.name and config.name in self.router.config.routers:
            raise _duplicate(config.name)
        try:
            record = self.store.update(router_id, config.name, body)
        except DuplicateName:
            raise _duplicate(config.name) from None
        if record is None:
            raise _not_found(router_id)
        self._uninstall(current.name)
        self._install(config)
        log.info("router updated", router=config.name, uuid=router_id)
        return json_answer(200, {"model_router": self.view(record)})

    def delete(self, router_id: str) -> Answer:
        record = self._stored(router_id)
        self.store.delete(router_id)
        self._uninstall(record.name)
        log.info("router deleted", router=record.name, uuid=router_id)
        return json_answer(200, {"uuid": router_id})

    def view(self, record: StoredRouter | tuple[str, RouterConfig]) -> dict[str, Any]:
        if isinstance(record, tuple):
            return _file_view(*record)
        body = record.body
        return {
            "uuid": record.uuid,
            "name": record.name,
            "description": body.get("description", ""),
            "config": {
                "policies": body.get("policies", []),
                "fallback_models": body.get("fallback_models", []),
            },
            "regions": [],
            "created_at": record.created_at,
            "updated_at": record.updated_at,
            "source": "control_plane",
        }

    def _find(self, router_id: str) -> StoredRouter | tuple[str, RouterConfig]:
        for name, config in self.from_file.items():
            if file_uuid(name) == router_id:
                return (name, config)
        record = self.store.get(router_id)
        if record is None:
            raise _not_found(router_id)
        return record

    def _stored(self, router_id: str) -> StoredRouter:
        found = self._find(router_id)
        if isinstance(found, tuple):
            raise RequestError(
                f"router {found[0]!r} comes from the config file and is read-only here; "
                "edit the file and restart, or create a router with another name",
                status=409,
            )
        return found

    def _validate(self, body: dict[str, Any]) -> RouterConfig:
        unknown = sorted(set(body) - set(FIELDS) - {"regions", "region", "project_id"})
        if unknown:
            raise InvalidRequest(f"unknown field(s): {', '.join(unknown)}; a router has {', '.join(FIELDS)}")
        try:
            return parse_router(body, self.router.catalog)
        except ConfigError as exc:
            raise InvalidRequest(str(exc)) from None

    def _install(self, config: RouterConfig) -> None:
        self.router.config.routers[config.name] = config
        self._installed.add(config.name)

    def _uninstall(self, name: str) -> None:
        if name in self._installed:
            self.router.config.routers.pop(name, None)
            self._installed.discard(name)


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
    return parse_body(body)


def _duplicate(name: str) -> InvalidRequest:
    return InvalidRequest(f"cannot use name {name!r}: model router name already exists")


def _not_found(router_id: str) -> NotFound:
    return NotFound(f"no model router with uuid {router_id!r}")
