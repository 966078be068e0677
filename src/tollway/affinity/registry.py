"""Open an affinity store from a URL: ``memory://`` here, other schemes from plugins.

A plugin registers a class with a ``from_url(url)`` constructor under the entry point group
``tollway.affinity_stores``, named by URL scheme (``tollway-redis`` registers ``redis`` and
``rediss``). The core never imports a plugin's client library.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any
from urllib.parse import urlsplit

from ..errors import ConfigError
from .memory import MemoryAffinityStore
from .store import AffinityStore

GROUP = "tollway.affinity_stores"


def open_store(url: str = "memory://", **options: Any) -> AffinityStore:
    scheme = urlsplit(url).scheme or "memory"
    if scheme == "memory":
        return MemoryAffinityStore(**options)
    found = entry_points(group=GROUP, name=scheme)
    if not found:
        raise ConfigError(
            f"no affinity store for {scheme!r} URLs; install its plugin (for redis: "
            "pip install tollway-redis) or use memory://"
        )
    factory = next(iter(found)).load()
    store: AffinityStore = factory.from_url(url, **options)
    return store
