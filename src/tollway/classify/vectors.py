"""The library's embeddings, computed once at build time and shipped with the package.

Embedding the whole exemplar library costs seconds of CPU on first use in every process (every
server worker, every CLI run). ``library_vectors.npz`` holds them together with a key: a hash of
the embedder's name and of every text, in order. A file whose key does not match what this
process would embed (another embedder, an edited library) is ignored, never used stale.
Rebuild with ``python src/tollway/classify/data/build_library_vectors.py``.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

FILE = "library_vectors.npz"


def key_of(embedder_name: str, texts: list[str]) -> str:
    digest = hashlib.sha256(embedder_name.encode("utf-8"))
    for text in texts:
        digest.update(b"\0" + text.encode("utf-8"))
    return digest.hexdigest()


def shipped_vectors(embedder_name: str, texts: list[str]) -> NDArray[np.float32] | None:
    """The shipped vectors of ``texts`` (unit length, float32), or None when they do not match."""
    path = resources.files("tollway.classify").joinpath("data", FILE)
    if not path.is_file():
        return None
    with path.open("rb") as f, np.load(f) as data:
        if str(data["key"]) != key_of(embedder_name, texts):
            return None
        vectors = data["vectors"].astype(np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit: NDArray[np.float32] = (vectors / np.where(norms == 0, 1, norms)).astype(np.float32)
    return unit


def build(target: Path | None = None) -> Path:
    """Embed the default library with the default embedder and write the shipped file."""
    from . import default_embedder, default_library

    embedder, library = default_embedder(), default_library()
    texts = [e for t in library.types for e in t.examples] + [
        d for t in library.types for d in t.descriptions
    ]
    vectors = embedder.embed(texts)
    target = target or Path(__file__).parent / "data" / FILE
    np.savez_compressed(
        target, key=np.array(key_of(embedder.name, texts)), vectors=vectors.astype(np.float16)
    )
    return target
