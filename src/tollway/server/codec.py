"""JSON in and out of the edges: orjson when installed (the ``server`` extra), else the stdlib."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any


def _default(value: Any) -> Any:
    # Money rides as a string so that no float ever rounds a cost.
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


try:
    import orjson

    def dumps(value: Any) -> bytes:
        return orjson.dumps(value, default=_default)

    loads: Callable[[bytes | str], Any] = orjson.loads
except ImportError:  # pragma: no cover - the server extra installs orjson

    def dumps(value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":"), default=_default).encode()

    loads = json.loads

JSONDecodeError = ValueError  # orjson.JSONDecodeError and json.JSONDecodeError both subclass it
