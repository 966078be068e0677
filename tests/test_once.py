"""``once``: a process-wide value built on first use, once, however many threads ask together."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from tollway.once import once


def test_the_value_is_built_once_and_shared_by_concurrent_callers():
    builds = []
    start = threading.Barrier(8)

    @once
    def value() -> object:
        builds.append(1)
        time.sleep(0.05)  # a slow build: the other callers arrive while it runs
        return object()

    def ask(_: int) -> object:
        start.wait()
        return value()

    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(ask, range(8)))
    assert len(builds) == 1
    assert all(g is got[0] for g in got)
    assert value() is got[0]
    assert value.__name__ == "value"
