"""``POST /v1/chat/completions`` independent of the edge: bytes and headers in, an ``Answer`` out.

The server, the middleware and the in-process transport all call ``ChatEndpoint``; only the
way bytes reach it differs.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

import structlog

from ..errors import InvalidRequest, NotFound, RequestError
from ..headers import AFFINITY, decision_headers
from ..pipeline import Call, ChatRequest, Reply
from ..streams import Watched
from . import sse
from .answer import EVENT_STREAM, Answer, encode_headers, error_answer, json_answer
from .auth import Credentials
from .codec import loads
from .errors import PayloadTooLarge, internal_error
from .metrics import Metrics

if TYPE_CHECKING:
    from ..router import Router

log = structlog.get_logger("tollway.server")

PREFIX = "router:"
MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_SESSION_CHARS = 256
# Never handed to stages (and so never to spans or logs).
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key"})
_NUMBER = (int, float)
PARAM_TYPES: dict[str, tuple[type, ...]] = {
    "temperature": _NUMBER,
    "top_p": _NUMBER,
    "presence_penalty": _NUMBER,
    "frequency_penalty": _NUMBER,
    "seed": (int,),
    "top_logprobs": (int,),
    "logprobs": (bool,),
    "parallel_tool_calls": (bool,),
    "stop": (str, list),
    "user": (str,),
    "tools": (list,),
    "tool_choice": (str, dict),
    "response_format": (dict,),
    "stream_options": (dict,),
    "metadata": (dict,),
    "logit_bias": (dict,),
    "reasoning_effort": (str,),
}


class ChatEndpoint:
    """Parse, authenticate, route, render. Client mistakes become OpenAI-format 4xx answers;
    anything else becomes a bare 500 (details go to the log, never to the client)."""

    def __init__(
        self,
        router: Router,
        credentials: Credentials | None = None,
        *,
        max_body_bytes: int = MAX_BODY_BYTES,
        metrics: Metrics | None = None,
        tenant: str | None = None,
    ) -> None:
        self.router = router
        self.credentials = credentials or Credentials()
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics
        self.tenant = tenant

    async def __call__(self, headers: Mapping[str, str], body: bytes, tenant: str | None = None) -> Answer:
        started = time.perf_counter()
        call: Call | None = None
        try:
            if len(body) > self.max_body_bytes:
                raise too_large(self.max_body_bytes)
            tenant = tenant or self.tenant or self.credentials.tenant(headers.get("authorization"))
            call = self.make_call(headers, parse_body(body), tenant)
            reply = await self.router.handle(call)
        except RequestError as exc:
            return self._failed(exc, call, started)
        except Exception:
            log.exception("chat completion failed inside tollway", request_id=call and call.request_id)
            return self._failed(internal_error(), call, started)
        return self._render(reply, call, started)

    def make_call(self, headers: Mapping[str, str], data: dict[str, Any], tenant: str) -> Call:
        name = router_name(data.get("model"))
        messages = data.pop("messages", None)
        if messages is None:
            raise InvalidRequest("`messages` is required: a list of chat messages", param="messages")
        check_types(data)
        session = headers.get(AFFINITY)
        if session is not None and not 0 < len(session) <= MAX_SESSION_CHARS:
            raise InvalidRequest(
                f"`X-Model-Affinity` must be 1-{MAX_SESSION_CHARS} characters", param=AFFINITY
            )
        safe = {k: v for k, v in headers.items() if k not in SECRET_HEADERS}
        data.pop("model")
        # Built here rather than with ``router.make_call(**data)`` so that body fields named like
        # its keywords (``tenant``, ``router`` …) stay request parameters and cannot pick a tenant.
        return Call(
            router=self.router.router_config(name),
            request=ChatRequest(messages=messages, params=data),
            tenant=tenant,
            session=session,
            headers=safe,
        )

    def _render(self, reply: Reply, call: Call, started: float) -> Answer:
        headers = encode_headers([*decision_headers(reply.decision).items(), *reply.headers.items()])
        headers.append((b"x-request-id", call.request_id.encode()))
        if reply.stream is not None:
            headers += [EVENT_STREAM, (b"cache-control", b"no-cache")]
            chunks: AsyncIterator[bytes] = sse.encode(reply.stream)
            if self.metrics is not None:
                chunks = _observed(chunks, self.metrics, reply, started)
            return Answer(reply.status, headers, stream=chunks)
        if self.metrics is not None:
            self.metrics.observe(reply.decision, reply.status, time.perf_counter() - started)
        return _json(reply, headers)

    def _failed(self, exc: RequestError, call: Call | None, started: float) -> Answer:
        if self.metrics is not None:
            # A call that failed after routing (budget 429, upstream 502) keeps its labels.
            decision = call.decision if call is not None else None
            self.metrics.observe(decision, exc.status, time.perf_counter() - started)
        extra = []
        if call is not None:
            extra = [*decision_headers(call.decision).items(), ("x-request-id", call.request_id)]
        return error_answer(exc, extra)


def _json(reply: Reply, headers: list[tuple[bytes, bytes]]) -> Answer:
    answer = json_answer(reply.status, reply.body)
    answer.headers += headers
    return answer


def _observed(chunks: AsyncIterator[bytes], metrics: Metrics, reply: Reply, started: float) -> Watched[bytes]:
    """Counts the call when the stream ends, however it ends (read, broken, or closed unread)."""

    async def ended(error: BaseException | None, completed: bool) -> None:
        metrics.observe(reply.decision, reply.status, time.perf_counter() - started)

    return Watched(chunks, on_end=ended)


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"the request body is larger than the limit of {limit:,} bytes")


def parse_body(body: bytes, what: str = "a JSON chat completion request") -> dict[str, Any]:
    """The body as a JSON object; ``what`` names what the empty-body message asks for."""
    if not body.strip():
        raise InvalidRequest(f"the request body is empty: send {what}", code="invalid_json")
    try:
        data = loads(body)
    except ValueError:
        raise InvalidRequest("the request body is not valid JSON", code="invalid_json") from None
    if not isinstance(data, dict):
        raise InvalidRequest("the request body must be a JSON object", code="invalid_json")
    return data


def router_name(model: Any) -> str:
    if model is None:
        raise InvalidRequest("`model` is required: use model router:<name>", param="model")
    if not isinstance(model, str):
        raise InvalidRequest("`model` must be a string such as router:<name>", param="model")
    if not model.startswith(PREFIX) or len(model) == len(PREFIX):
        raise NotFound(
            f"model {model[:100]!r} is not served here: tollway serves routers; use model router:<name>",
            param="model",
            code="model_not_found",
        )
    return model


def check_types(params: Mapping[str, Any]) -> None:
    for name, value in params.items():
        types = PARAM_TYPES.get(name)
        if types is None or value is None:
            continue
        wrong_bool = isinstance(value, bool) and bool not in types
        if wrong_bool or not isinstance(value, types):
            expected = "a number" if types == _NUMBER else " or ".join(_TYPE_NAMES[t] for t in types)
            raise InvalidRequest(
                f"`{name}` must be {expected}, got {_TYPE_NAMES.get(type(value), 'another type')}", param=name
            )


_TYPE_NAMES: dict[type, str] = {
    int: "an integer",
    float: "a number",
    bool: "a boolean",
    str: "a string",
    list: "an array",
    dict: "an object",
    type(None): "null",
}
