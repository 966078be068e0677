"""Session affinity: keep a conversation on one model so the provider's prompt cache stays warm.

The stages live in ``tollway.stages.affinity``; this package holds keys, pins and stores.
"""

from __future__ import annotations

from .cache import DEFAULT_TTL, CacheRule, cache_savings, likely_cached, rule_for
from .keys import explicit_key, implicit_key, session_id
from .memory import MemoryAffinityStore
from .registry import open_store
from .state import AffinityState, affinity_state
from .store import AffinityStore, Pin

__all__ = [
    "DEFAULT_TTL",
    "AffinityState",
    "AffinityStore",
    "CacheRule",
    "MemoryAffinityStore",
    "Pin",
    "affinity_state",
    "cache_savings",
    "explicit_key",
    "implicit_key",
    "likely_cached",
    "open_store",
    "rule_for",
    "session_id",
]
