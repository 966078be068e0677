"""A learned map from task descriptions to where their prompts lie.

A description says what to do; its prompts *are* requests, so the two sit apart in the encoder's
space, and apart differently for different kinds of task. ``DescriptionAdapter`` moves a
description embedding ``d`` to ``normalise(d + b + U Vᵀ d)``: a shared offset ``b`` (what was once
one hand-set shift, the library's mean exemplar minus its mean type description) plus a low-rank
correction learned from labelled routers (``adapter_fit``). It runs once per task description when
a router compiles; a request pays nothing for it.

The shipped adapter (``data/description_adapter.npz``) belongs to one embedder and one library: a
file fitted for another, or none at all, leaves the classifier on the plain offset.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from .embedders import Vectors, normalise_rows

FILE = "description_adapter.npz"


@dataclass(frozen=True, eq=False)
class DescriptionAdapter:
    embedder: str
    """Name of the embedder whose space this adapter was fitted in."""
    offset: NDArray[np.float32]
    """(dim,) ``b``."""
    up: NDArray[np.float32]
    """(dim, rank) ``U``."""
    down: NDArray[np.float32]
    """(dim, rank) ``V``."""
    floor: float = 0.0
    """The cosine to a moved description under which the fit learned to prefer the fallback."""
    library: str = ""
    """``EmbeddingClassifier.library_key()`` of the classifier it was fitted with ("": any)."""

    @property
    def learned(self) -> bool:
        return int(self.up.shape[1]) > 0

    def apply(self, descriptions: Vectors) -> Vectors:
        """Unit vectors of the moved descriptions, one row per row of ``descriptions``."""
        moved = descriptions + self.offset + (descriptions @ self.down) @ self.up.T
        return normalise_rows(moved)

    @classmethod
    def plain(cls, embedder: str, offset: NDArray[np.float32]) -> DescriptionAdapter:
        """The offset alone (rank 0)."""
        empty = np.zeros((len(offset), 0), np.float32)
        return cls(embedder, offset.astype(np.float32), empty, empty)

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path,
            embedder=np.array(self.embedder),
            offset=self.offset,
            up=self.up,
            down=self.down,
            floor=np.array(self.floor),
            library=np.array(self.library),
        )

    @classmethod
    def load(cls, path: Path) -> DescriptionAdapter:
        with np.load(path) as data:
            return cls(
                str(data["embedder"]),
                data["offset"].astype(np.float32),
                data["up"].astype(np.float32),
                data["down"].astype(np.float32),
                float(data["floor"]),
                str(data["library"]) if "library" in data else "",
            )


def shipped_adapter(embedder: str, library: str) -> DescriptionAdapter | None:
    """The packaged adapter if it was fitted for ``embedder`` and the library whose key is
    ``library``, else None (its offset and its fit belong to that library)."""
    ref = resources.files("tollway.classify").joinpath("data", FILE)
    if not ref.is_file():
        return None
    with resources.as_file(ref) as path:
        adapter = DescriptionAdapter.load(path)
    return adapter if (adapter.embedder, adapter.library) == (embedder, library) else None
