"""Budget caps and the ledger that enforces them. See :mod:`tollway.budget.ledger` for the API."""

from .errors import BudgetExceeded
from .ledger import (
    DEFAULT_LEASE_S,
    UNLIMITED,
    Cap,
    Ledger,
    Refusal,
    Reservation,
    Settlement,
    StoreLedger,
)
from .loader import load_ledger
from .memory import MemoryLedger
from .sqlite import SqliteLedger
from .windows import Window

__all__ = [
    "DEFAULT_LEASE_S",
    "UNLIMITED",
    "BudgetExceeded",
    "Cap",
    "Ledger",
    "MemoryLedger",
    "Refusal",
    "Reservation",
    "Settlement",
    "SqliteLedger",
    "StoreLedger",
    "Window",
    "load_ledger",
]
