"""Redis budget store for tollway. ``load_ledger("redis://host:6379/0")`` finds it by entry point."""

from .store import RedisLedger, from_url

__all__ = ["RedisLedger", "from_url"]
