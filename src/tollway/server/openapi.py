"""The OpenAPI document of both planes, served at ``/openapi.json``."""

from __future__ import annotations

from typing import Any

_ERROR = {"$ref": "#/components/schemas/Error"}
_CONTROL_ERROR = {"$ref": "#/components/schemas/ControlError"}
_ROUTER = {"$ref": "#/components/schemas/ModelRouter"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_WHY = {
    400: "invalid request",
    401: "missing or unknown credential",
    403: "a credential of the wrong kind, or the control plane is disabled",
    404: "unknown router, model or path",
    405: "method not allowed (the `Allow` header lists those that are)",
    409: "the router comes from the config file and is read-only",
    413: "the body is over the size limit",
    429: "a tenant's budget cap refused the call (`x-should-retry: false`)",
    500: "tollway failed (details in the server log)",
    502: "every upstream candidate failed",
    503: "the router store is unavailable; retry",
    504: "the upstream timed out",
}


def _errors(schema: dict[str, Any], *codes: int) -> dict[str, Any]:
    return {str(code): _json(schema, _WHY.get(code, "error")) for code in codes}


def _control(summary: str, ok: dict[str, Any], *, body: bool = False, uuid: bool = False) -> dict[str, Any]:
    op: dict[str, Any] = {
        "tags": ["control plane"],
        "summary": summary,
        "security": [{"adminToken": []}],
        "responses": {
            "200": _json(ok, "ok"),
            **_errors(_CONTROL_ERROR, 400, 401, 403, 404, 405, 409, 413, 503),
        },
    }
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ROUTER}}}
    if uuid:
        op["parameters"] = [{"name": "uuid", "in": "path", "required": True, "schema": {"type": "string"}}]
    return op


def _probe(summary: str, *errors: int) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": {"description": "ok"}, **_errors(_ERROR, 405)}
    responses.update({str(code): {"description": _WHY.get(code, "error")} for code in errors})
    return {"get": {"tags": ["operations"], "summary": summary, "responses": responses}}


def openapi_document(version: str = "0.1.0") -> dict[str, Any]:
    wrapped = {"type": "object", "properties": {"model_router": _ROUTER}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "tollway",
            "version": version,
            "description": "OpenAI-compatible data plane (`model: router:<name>`) and a control plane "
            "shaped like the managed inference router's API.",
        },
        "paths": {
            "/v1/chat/completions": {
                "post": {
                    "tags": ["data plane"],
                    "summary": "Route a chat completion (JSON, or SSE with `stream: true`)",
                    "security": [{"apiKey": []}],
                    "parameters": [
                        {
                            "name": "X-Model-Affinity",
                            "in": "header",
                            "schema": {"type": "string"},
                            "description": "session id: later calls with it go to the same model",
                        },
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/ChatRequest"}}
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "a chat completion (or `text/event-stream` chunks); "
                            "`model` is the serving model",
                            "headers": {
                                "x-model-router-selected-route": {
                                    "schema": {"type": "string"},
                                    "description": "matched task or `fallback`",
                                },
                                "x-model-affinity": {"schema": {"type": "string"}},
                                "x-tollway-model": {"schema": {"type": "string"}},
                                "x-tollway-estimated-cost": {"schema": {"type": "string"}},
                                "x-tollway-cost": {"schema": {"type": "string"}},
                            },
                            "content": {
                                "application/json": {"schema": {"type": "object"}},
                                "text/event-stream": {"schema": {"type": "string"}},
                            },
                        },
                        **_errors(_ERROR, 400, 401, 403, 404, 405, 413, 429, 500, 502, 504),
                    },
                }
            },
            "/v1/models": {
                "get": {
                    "tags": ["data plane"],
                    "summary": "Routers (`router:<name>`) and catalog models",
                    "responses": {"200": {"description": "an OpenAI model list"}, **_errors(_ERROR, 405)},
                }
            },
            "/v2/gen-ai/models/routers": {
                "get": _control(
                    "List routers",
                    {"type": "object", "properties": {"model_routers": {"type": "array", "items": _ROUTER}}},
                ),
                "post": _control("Create a router", wrapped, body=True),
            },
            "/v2/gen-ai/models/routers/{uuid}": {
                "get": _control("Get a router", wrapped, uuid=True),
                "put": _control("Update a router", wrapped, body=True, uuid=True),
                "delete": _control(
                    "Delete a router",
                    {"type": "object", "properties": {"uuid": {"type": "string"}}},
                    uuid=True,
                ),
            },
            "/healthz": _probe("Liveness"),
            "/readyz": _probe("Readiness: routers loaded, store reachable", 503),
            "/metrics": _probe("Prometheus metrics"),
            "/openapi.json": _probe("This document"),
            "/dashboard": {
                "get": {
                    "tags": ["dashboard"],
                    "summary": "The dashboard page (HTML, no data: open it as /dashboard#token=<admin "
                    "token>; the page sends the token to data.json as a bearer header)",
                    "responses": {
                        "200": {
                            "description": "the page",
                            "content": {"text/html": {"schema": {"type": "string"}}},
                        },
                        **_errors(_ERROR, 405),
                    },
                }
            },
            "/dashboard/data.json": {
                "get": {
                    "tags": ["dashboard"],
                    "summary": "What the dashboard draws: report.summarize() of the ledger of calls",
                    "security": [{"adminToken": []}],
                    "parameters": [
                        {
                            "name": "since",
                            "in": "query",
                            "schema": {"type": "string", "default": "24h"},
                            "description": "1h, 24h, 7d, all, or <n>m / <n>h / <n>d",
                        },
                        {
                            "name": "compare",
                            "in": "query",
                            "schema": {"type": "string"},
                            "description": "models of the counterfactual, comma-separated",
                        },
                    ],
                    "responses": {
                        "200": _json({"type": "object"}, "the window and its summary"),
                        **_errors(_ERROR, 400, 401, 403, 405),
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "description": "a tenant API key"},
                "adminToken": {"type": "http", "scheme": "bearer", "description": "the admin token"},
            },
            "schemas": _schemas(),
        },
    }


def _schemas() -> dict[str, Any]:
    string_list = {"type": "array", "items": {"type": "string"}}
    return {
        "Error": {
            "type": "object",
            "properties": {
                "error": {
                    "type": "object",
                    "properties": {
                        "message": {"type": "string"},
                        "type": {"type": "string"},
                        "param": {"type": ["string", "null"]},
                        "code": {"type": ["string", "null"]},
                    },
                }
            },
        },
        "ControlError": {
            "type": "object",
            "properties": {
                "id": {"type": "string", "examples": ["invalid_argument"]},
                "message": {"type": "string"},
                "request_id": {"type": "string"},
            },
        },
        "ChatRequest": {
            "type": "object",
            "required": ["model", "messages"],
            "properties": {
                "model": {
                    "type": "string",
                    "pattern": "^router:.+",
                    "examples": ["router:cost-governance-demo"],
                },
                "messages": {"type": "array", "minItems": 1, "items": {"type": "object"}},
                "stream": {"type": "boolean"},
                "max_completion_tokens": {"type": "integer", "minimum": 1},
            },
            "additionalProperties": True,
        },
        "ModelRouter": {
            "type": "object",
            "properties": {
                "uuid": {"type": "string", "readOnly": True},
                "name": {"type": "string"},
                "description": {"type": "string"},
                "policies": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "custom_task": {
                                "type": "object",
                                "properties": {"name": {"type": "string"}, "description": {"type": "string"}},
                            },
                            "models": {**string_list, "maxItems": 3},
                            "selection_policy": {
                                "type": "object",
                                "properties": {
                                    "prefer": {"enum": ["cheapest", "fastest"]},
                                    "task_slug": {"type": "string"},
                                },
                            },
                        },
                    },
                },
                "fallback_models": string_list,
                "config": {"type": "object", "readOnly": True},
                "created_at": {"type": ["string", "null"], "readOnly": True},
                "updated_at": {"type": ["string", "null"], "readOnly": True},
            },
        },
    }
