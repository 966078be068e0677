"""JSON in and out: orjson when it is installed (the ``server`` extra), the stdlib otherwise."""

from __future__ import annotations

import json
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - depends on the environment
    orjson = None  # type: ignore[assignment]


def dumps(obj: Any) -> bytes:
    if orjson is not None:
        return orjson.dumps(obj)
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def loads(data: bytes) -> Any:
    """Parse JSON; raises ``ValueError`` (both backends' errors subclass it)."""
    if orjson is not None:
        return orjson.loads(data)
    return json.loads(data)
