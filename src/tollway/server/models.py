"""``GET /v1/models``: every router as ``router:<name>``, then the catalog's models."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..router import Router

CREATED = 1_767_225_600  # a fixed timestamp: the list must not change between calls


def models_body(router: Router) -> dict[str, Any]:
    data: list[dict[str, Any]] = [
        {
            "id": f"router:{name}",
            "object": "model",
            "created": CREATED,
            "owned_by": "tollway",
            "description": config.description,
            "tasks": list(config.task_names),
            "fallback_models": list(config.fallback_models),
        }
        for name, config in sorted(router.config.routers.items())
    ]
    data += [
        {"id": m.slug, "object": "model", "created": CREATED, "owned_by": m.provider, "routable_only": True}
        for m in router.catalog
    ]
    return {"object": "list", "data": data}
