"""What the affinity stage found and did for one call, kept on ``call.extras``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..pipeline import Call
from .store import Pin

EXTRA = "tollway.affinity"
Kind = Literal["explicit", "implicit"]
# new: no live pin, this call made one; hit: served by the pinned model; repinned: the pin could
# not be honoured (model unavailable, failed over, task gone) and now names the serving model.
Status = Literal["new", "hit", "repinned", "error"]


@dataclass
class AffinityState:
    kind: Kind
    key: str
    pin: Pin | None = None
    applied: bool = False
    status: Status = "new"
    cached_tokens: int = 0  # prompt tokens the estimate assumed cached


def affinity_state(call: Call) -> AffinityState | None:
    state = call.extras.get(EXTRA)
    return state if isinstance(state, AffinityState) else None
