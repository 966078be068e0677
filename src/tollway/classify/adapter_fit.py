"""Fitting a ``DescriptionAdapter`` from labelled routers (build time; numpy only).

Each training *episode* is one router: its task descriptions, the embeddings of labelled
conversations and each one's task (or the fallback). The adapter moves the descriptions; every
conversation then gets a softmax over ``scale * cos(prompt, moved description)`` for each task and
``scale * floor`` for the fallback, and the loss is the cross-entropy of the right answer. Scale
and floor are learned with the adapter; the floor is kept (the classifier adds it to the
fallback's score), the scale thrown away.

Besides the labelled routers, episodes are drawn from the exemplar library: a few task types at a
time, one of each type's descriptions as the task, its exemplars as the prompts and other types'
exemplars as the fallback. They keep the adapter right for the kinds of work the library knows.

The gradients are written out by hand (``_episode_grads``) and checked against finite
differences in the tests.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from ..config import RouterConfig, load_config
from .adapter import DescriptionAdapter

if TYPE_CHECKING:
    from .embedding import EmbeddingClassifier

F32 = NDArray[np.float32]


@dataclass(frozen=True)
class Episode:
    descriptions: F32
    """(tasks, dim) unit description embeddings."""
    prompts: F32
    """(rows, dim) unit conversation embeddings."""
    labels: NDArray[np.intp]
    """(rows,) task index, or -1 for the fallback."""


@dataclass(frozen=True)
class LibrarySample:
    """Exemplars and type descriptions of the library, by type index."""

    examples: F32
    example_type: NDArray[np.intp]
    descriptions: F32
    description_type: NDArray[np.intp]
    types_per_episode: int = 4
    examples_per_type: int = 8
    fallback_examples: int = 12

    def episode(self, rng: np.random.Generator) -> Episode:
        n_types = int(self.example_type.max()) + 1
        chosen = rng.choice(n_types, size=self.types_per_episode, replace=False)
        descs = [self.descriptions[rng.choice(np.flatnonzero(self.description_type == t))] for t in chosen]
        rows: list[NDArray[np.intp]] = []
        labels: list[int] = []
        for j, t in enumerate(chosen):
            mine = np.flatnonzero(self.example_type == t)
            pick = rng.choice(mine, size=min(self.examples_per_type, len(mine)), replace=False)
            rows.append(pick)
            labels += [j] * len(pick)
        others = np.flatnonzero(~np.isin(self.example_type, chosen))
        pick = rng.choice(others, size=min(self.fallback_examples, len(others)), replace=False)
        rows.append(pick)
        labels += [-1] * len(pick)
        return Episode(
            np.stack(descs).astype(np.float32),
            self.examples[np.concatenate(rows)],
            np.asarray(labels, dtype=np.intp),
        )


@dataclass
class FitSettings:
    rank: int = 16
    l2: float = 1e-3
    """Penalty on the squared Frobenius norm of ``U Vᵀ``."""
    library_weight: float = 0.5
    library_episodes: int = 8
    """Library episodes drawn per step."""
    steps: int = 300
    learning_rate: float = 3e-3
    seed: int = 0
    init_scale: float = 20.0
    init_floor: float = 0.3


@dataclass
class Params:
    up: F32
    down: F32
    offset: F32
    log_scale: float
    floor: float
    names: ClassVar[tuple[str, ...]] = ("up", "down", "offset", "log_scale", "floor")

    def arrays(self) -> list[NDArray[np.float64]]:
        return [np.asarray(getattr(self, n), dtype=np.float64) for n in self.names]

    def set_arrays(self, values: Sequence[NDArray[np.float64]]) -> None:
        for n, v in zip(self.names, values, strict=True):
            setattr(self, n, float(v) if v.ndim == 0 else v.astype(np.float32))


def episode_loss(p: Params, e: Episode) -> float:
    return _episode_grads(p, e, with_grads=False)[0]


def _episode_grads(p: Params, e: Episode, with_grads: bool = True) -> tuple[float, list[NDArray[np.float64]]]:
    """Cross-entropy of one episode and its gradient with respect to every parameter."""
    d = e.descriptions.astype(np.float64)
    x_in = e.prompts.astype(np.float64)
    up, down, b = (np.asarray(a, dtype=np.float64) for a in (p.up, p.down, p.offset))
    proj = d @ down  # (n, r)
    x = d + b + proj @ up.T  # (n, dim)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    unit = x / norms
    sims = x_in @ unit.T  # (m, n)
    scale = float(np.exp(p.log_scale))
    n, m = len(d), len(x_in)
    logits = np.concatenate([scale * sims, np.full((m, 1), scale * p.floor)], axis=1)
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    target = np.where(e.labels < 0, n, e.labels)
    loss = float(-np.log(probs[np.arange(m), target] + 1e-12).mean())
    if not with_grads:
        return loss, []
    g = probs
    g[np.arange(m), target] -= 1.0
    g /= m
    g_sims = scale * g[:, :n]
    d_log_scale = scale * float((g[:, :n] * sims).sum() + g[:, n].sum() * p.floor)
    d_floor = scale * float(g[:, n].sum())
    g_unit = g_sims.T @ x_in  # (n, dim)
    g_x = (g_unit - unit * (g_unit * unit).sum(axis=1, keepdims=True)) / norms
    d_up = g_x.T @ proj
    d_down = d.T @ (g_x @ up)
    d_offset = g_x.sum(axis=0)
    return loss, [d_up, d_down, d_offset, np.array(d_log_scale), np.array(d_floor)]


def _penalty(p: Params, l2: float) -> tuple[float, list[NDArray[np.float64]]]:
    up, down = p.up.astype(np.float64), p.down.astype(np.float64)
    loss = l2 * float(((up @ down.T) ** 2).sum())
    d_up = 2 * l2 * up @ (down.T @ down)
    d_down = 2 * l2 * down @ (up.T @ up)
    zero = np.array(0.0)
    return loss, [d_up, d_down, np.zeros_like(p.offset, dtype=np.float64), zero, zero]


def objective(
    p: Params,
    routers: Sequence[Episode],
    library: Sequence[Episode],
    s: FitSettings,
) -> tuple[float, list[NDArray[np.float64]]]:
    """Mean router loss + weighted mean library loss + penalty, and its gradient."""
    total, grads = _penalty(p, s.l2)
    parts = [(routers, 1.0), (library, s.library_weight)]
    for episodes, weight in parts:
        for e in episodes:
            loss, g = _episode_grads(p, e)
            w = weight / len(episodes)
            total += w * loss
            grads = [a + w * b for a, b in zip(grads, g, strict=True)]
    return total, grads


def fit(
    embedder: str,
    offset: F32,
    routers: Sequence[Episode],
    library: LibrarySample | None,
    settings: FitSettings | None = None,
) -> DescriptionAdapter:
    """Adam on ``objective``, starting from the plain offset (a zero correction)."""
    s = settings or FitSettings()
    rng = np.random.default_rng(s.seed)
    dim = len(offset)
    p = Params(
        up=(rng.standard_normal((dim, s.rank)) * 0.01).astype(np.float32),
        down=np.zeros((dim, s.rank), np.float32),
        offset=offset.astype(np.float32),
        log_scale=float(np.log(s.init_scale)),
        floor=s.init_floor,
    )
    values = p.arrays()
    first = [np.zeros_like(v) for v in values]
    second = [np.zeros_like(v) for v in values]
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for step in range(1, s.steps + 1):
        lib = [library.episode(rng) for _ in range(s.library_episodes)] if library else []
        _, grads = objective(p, routers, lib, s)
        for i, g in enumerate(grads):
            first[i] = beta1 * first[i] + (1 - beta1) * g
            second[i] = beta2 * second[i] + (1 - beta2) * g * g
            m_hat = first[i] / (1 - beta1**step)
            v_hat = second[i] / (1 - beta2**step)
            values[i] = values[i] - s.learning_rate * m_hat / (np.sqrt(v_hat) + eps)
        p.set_arrays(values)
    return DescriptionAdapter(embedder, p.offset, p.up, p.down, p.floor)


# ----- episodes from a classifier's own embeddings -----


def labelled_routers(paths: Sequence[Path]) -> list[tuple[RouterConfig, list[dict[str, Any]]]]:
    """Every ``NAME.yaml`` (given, or in a given folder) with a ``NAME.jsonl`` of labelled rows
    beside it."""
    from ..evaluate import load_rows

    configs = sorted({c for p in paths for c in (p.glob("*.yaml") if p.is_dir() else [p])})
    out = []
    for config in configs:
        data = config.with_suffix(".jsonl")
        if data.exists():
            out.append((next(iter(load_config(config).routers.values())), load_rows(data)))
    return out


def router_episode(clf: EmbeddingClassifier, router: RouterConfig, rows: Sequence[dict[str, Any]]) -> Episode:
    tasks = list(router.task_names)
    return Episode(
        clf.embedder.embed([p.custom_task.description for p in router.policies]),
        np.stack([clf.embed_conversation(r["messages"]) for r in rows]),
        np.array([tasks.index(r["route"]) if r["route"] != "fallback" else -1 for r in rows]),
    )


def library_sample(clf: EmbeddingClassifier) -> LibrarySample:
    examples, descriptions = clf.library_embeddings()
    return LibrarySample(
        examples,
        np.concatenate([[i] * len(t.examples) for i, t in enumerate(clf.library.types)]),
        np.concatenate(descriptions),
        np.concatenate([[i] * len(d) for i, d in enumerate(descriptions)]),
    )


def fit_for(
    clf: EmbeddingClassifier, routers: Sequence[Episode], settings: FitSettings | None = None
) -> DescriptionAdapter:
    """An adapter for ``clf``'s embedder and library, fitted on ``routers``."""
    adapter = fit(clf.embedder.name, clf.plain_offset(), routers, library_sample(clf), settings)
    return dataclasses.replace(adapter, library=clf.library_key())
