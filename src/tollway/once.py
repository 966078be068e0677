"""Process-wide values built on first use: one construction, under a lock, shared by every caller."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def once(make: Callable[[], T]) -> Callable[[], T]:
    """Wrap ``make`` so that its first call builds the value and every later call returns it.

    Two threads arriving together build it once: the check is repeated under the lock.
    """
    lock = threading.Lock()
    built: list[T] = []

    @functools.wraps(make)
    def get() -> T:
        if not built:
            with lock:
                if not built:
                    built.append(make())
        return built[0]

    return get
