"""The library's shipped embeddings: current, and equal to what the embedder computes."""

import numpy as np

from tollway.classify import default_embedder, default_library
from tollway.classify.vectors import key_of, shipped_vectors


def texts():
    library = default_library()
    return [e for t in library.types for e in t.examples] + [d for t in library.types for d in t.descriptions]


def test_the_shipped_vectors_match_the_library_and_the_embedder():
    embedder = default_embedder()
    shipped = shipped_vectors(embedder.name, texts())
    assert shipped is not None, "rebuild: python src/tollway/classify/data/build_library_vectors.py"
    sample = texts()[::97]
    fresh = embedder.embed(sample)
    assert np.allclose(shipped[::97], fresh, atol=2e-3)  # float16 on disk


def test_stale_vectors_are_never_used():
    assert shipped_vectors("another-embedder", texts()) is None
    assert shipped_vectors(default_embedder().name, [*texts(), "an edited library"]) is None
    assert key_of("a", ["b", "c"]) != key_of("a", ["bc"])
