"""The long-lived services the stages share. Per-request state lives on ``Call``, never here."""

from __future__ import annotations

from dataclasses import dataclass

from .affinity import AffinityStore
from .budget import Ledger
from .catalog import Catalog
from .classify.base import Classifier
from .health import Health
from .records import RecordStore
from .stats import OutputStats
from .tenancy import Tenants
from .upstream import Upstream


@dataclass
class Parts:
    catalog: Catalog
    classifier: Classifier
    upstream: Upstream
    health: Health
    stats: OutputStats
    ledger: Ledger
    tenants: Tenants
    affinity: AffinityStore
    records: RecordStore
    affinity_ttl: float = 300.0
    # How long a reservation holds budget before a crashed process's hold is reclaimed: longer
    # than the slowest call you allow, streams included.
    lease_s: float = 900.0
    timeout: float = 120.0
    first_chunk_timeout: float = 30.0
