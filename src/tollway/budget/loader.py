"""``load_ledger(url)``: pick a store by URL.

* ``memory://`` — :class:`MemoryLedger` (in-process, the default)
* ``sqlite:///abs/path.db`` or ``sqlite://relative.db`` — :class:`SqliteLedger`;
  ``?synchronous=normal`` trades power-loss durability for speed
* any other scheme — the ``tollway.stores`` entry point of that name, e.g. ``redis://host:6379/0``
  from the ``tollway-redis`` plugin. An entry point is a callable ``factory(url) -> Ledger``;
  the core never imports a plugin's client library itself.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from urllib.parse import parse_qs, urlsplit

from ..errors import ConfigError
from .ledger import Ledger
from .memory import MemoryLedger
from .sqlite import SqliteLedger

ENTRY_POINT_GROUP = "tollway.stores"


def load_ledger(url: str) -> Ledger:
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigError(f"budget store: not a URL: {url!r} (try memory://, sqlite:///path.db)")
    scheme = scheme.lower()
    if scheme == "memory":
        return MemoryLedger()
    if scheme == "sqlite":
        path, _, query = rest.partition("?")
        if not path:
            raise ConfigError(f"budget store: sqlite URL without a path: {url!r}")
        options = {k.lower(): v[-1] for k, v in parse_qs(query).items()}
        return SqliteLedger(path, synchronous=options.get("synchronous", "FULL"))
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == scheme:
            factory = ep.load()
            ledger = factory(url)
            if not isinstance(ledger, Ledger):
                raise ConfigError(f"budget store {scheme!r}: {ep.value} did not return a Ledger")
            return ledger
    hint = " (pip install tollway-redis)" if scheme in ("redis", "rediss", "unix") else ""
    raise ConfigError(
        f"budget store: no store for {urlsplit(url).scheme!r}:// URLs{hint}; "
        f"built in: memory://, sqlite://; plugins register the {ENTRY_POINT_GROUP!r} entry point"
    )
