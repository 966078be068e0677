"""The description adapter: its hand-written gradients, its fit, and how the classifier uses it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tollway.classify import (
    EmbeddingClassifier,
    HashingEmbedder,
    Settings,
    default_classifier,
    default_embedder,
    default_library,
)
from tollway.classify.adapter import DescriptionAdapter, shipped_adapter
from tollway.classify.adapter_fit import (
    Episode,
    FitSettings,
    LibrarySample,
    Params,
    _episode_grads,
    _penalty,
    episode_loss,
    fit,
)
from tollway.config import load_config

DIM = 12


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def random_episode(rng: np.random.Generator, tasks: int = 3, rows: int = 20) -> Episode:
    return Episode(
        unit(rng.standard_normal((tasks, DIM))),
        unit(rng.standard_normal((rows, DIM))),
        rng.integers(-1, tasks, size=rows),
    )


def test_gradients_match_finite_differences() -> None:
    rng = np.random.default_rng(1)
    e = random_episode(rng)
    p = Params(
        up=(rng.standard_normal((DIM, 3)) * 0.3).astype(np.float32),
        down=(rng.standard_normal((DIM, 3)) * 0.3).astype(np.float32),
        offset=(rng.standard_normal(DIM) * 0.2).astype(np.float32),
        log_scale=float(np.log(5.0)),
        floor=0.2,
    )
    _, grads = _episode_grads(p, e)
    values = p.arrays()
    h = 1e-3
    for i, g in enumerate(grads):
        flat = values[i].reshape(-1)
        for j in rng.choice(flat.size, size=min(4, flat.size), replace=False):
            shifted = []
            for sign in (1, -1):
                trial = [v.copy() for v in values]
                trial[i].reshape(-1)[j] += sign * h
                q = Params(p.up, p.down, p.offset, p.log_scale, p.floor)
                q.set_arrays(trial)
                shifted.append(episode_loss(q, e))
            numeric = (shifted[0] - shifted[1]) / (2 * h)
            assert g.reshape(-1)[j] == pytest.approx(numeric, rel=2e-2, abs=2e-4)


def test_fit_learns_a_map_the_offset_alone_cannot() -> None:
    """Prompts lie along a fixed rotation of their task's description: no shared offset brings
    them together, a learned low-rank map does, and it carries over to tasks it never saw."""
    rng = np.random.default_rng(2)
    rotation = np.linalg.qr(rng.standard_normal((DIM, DIM)))[0]

    def episode() -> Episode:
        descs = unit(rng.standard_normal((3, DIM)))
        labels = rng.integers(0, 3, size=30)
        prompts = unit(descs[labels] @ rotation.T + 0.2 * rng.standard_normal((30, DIM)))
        return Episode(descs, prompts, labels)

    def accuracy(adapter: DescriptionAdapter, e: Episode) -> float:
        return float(((e.prompts @ adapter.apply(e.descriptions).T).argmax(axis=1) == e.labels).mean())

    train, test = [episode() for _ in range(20)], [episode() for _ in range(10)]
    offset = np.zeros(DIM, np.float32)
    settings = FitSettings(rank=DIM, steps=200, learning_rate=2e-2, l2=0.0, library_weight=0.0)
    learned = fit("test", offset, train, None, settings)
    plain = DescriptionAdapter.plain("test", offset)
    before = np.mean([accuracy(plain, e) for e in test])
    after = np.mean([accuracy(learned, e) for e in test])
    assert after > 0.9 > before + 0.3


def test_library_episodes_label_their_own_types() -> None:
    rng = np.random.default_rng(3)
    types = np.repeat(np.arange(6), 10)
    sample = LibrarySample(
        unit(rng.standard_normal((60, DIM))),
        types,
        unit(rng.standard_normal((12, DIM))),
        np.repeat(np.arange(6), 2),
    )
    e = sample.episode(rng)
    assert e.descriptions.shape == (4, DIM)
    assert (e.labels == -1).sum() == 12 and len(e.labels) == 4 * 8 + 12
    # every prompt labelled j is an exemplar of the type whose description is row j
    for j in range(4):
        rows = e.prompts[e.labels == j]
        kinds = {int(types[np.flatnonzero((sample.examples == r).all(axis=1))[0]]) for r in rows}
        descs = {
            int(
                sample.description_type[
                    np.flatnonzero((sample.descriptions == e.descriptions[j]).all(axis=1))[0]
                ]
            )
        }
        assert kinds == descs


def test_adapter_round_trips_through_a_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    a = DescriptionAdapter(
        "x",
        rng.standard_normal(DIM).astype(np.float32),
        *(rng.standard_normal((2, DIM, 3)).astype(np.float32)),
    )
    a.save(tmp_path / "a.npz")
    b = DescriptionAdapter.load(tmp_path / "a.npz")
    descs = unit(rng.standard_normal((5, DIM)))
    assert b.embedder == "x"
    assert np.allclose(a.apply(descs), b.apply(descs))
    assert np.allclose(np.linalg.norm(b.apply(descs), axis=1), 1.0)


def test_shipped_adapter_belongs_to_the_default_embedder_only() -> None:

    key = default_classifier().library_key()
    shipped = shipped_adapter(default_embedder().name, key)
    assert shipped is not None and shipped.up.shape[1] > 0 and shipped.library == key
    assert shipped_adapter("hashing/1024", key) is None  # another embedder's space
    assert shipped_adapter(default_embedder().name, "another library") is None


def test_an_adapter_from_another_embedder_is_refused() -> None:
    shipped = default_classifier().adapter
    clf = EmbeddingClassifier(embedder=HashingEmbedder(dim=64), adapter=shipped)
    with pytest.raises(ValueError, match="fitted for 'use-multilingual-v3"):
        _ = clf.adapter


def test_a_library_of_ones_own_gets_the_plain_offset() -> None:
    base = default_classifier()
    own = EmbeddingClassifier(
        embedder=base.embedder, library=default_library().without_sources(["openai/human-eval"])
    )
    assert base.adapter.learned and not own.adapter.learned


def test_classifier_uses_the_adapter_it_is_given() -> None:
    """Compiled descriptions are the adapter's output; another embedder gets the plain offset."""
    router = load_config(Path(__file__).parents[1] / "examples" / "tutorial-router.json")
    router = next(iter(router.routers.values()))
    emb = HashingEmbedder(dim=64)
    clf = EmbeddingClassifier(embedder=emb)
    assert clf.adapter.up.shape[1] == 0  # no shipped adapter for this embedder
    rng = np.random.default_rng(5)
    custom = DescriptionAdapter(
        "hashing/64", np.zeros(64, np.float32), *(rng.standard_normal((2, 64, 2)).astype(np.float32))
    )
    descs = emb.embed([p.custom_task.description for p in router.policies])
    compiled = EmbeddingClassifier(embedder=emb, adapter=custom).compiled(router)
    assert np.allclose(compiled.descriptions, custom.apply(descs), atol=1e-6)


def test_the_explanation_shows_what_the_adapter_added() -> None:
    router = next(
        iter(load_config(Path(__file__).parents[1] / "examples" / "tutorial-router.json").routers.values())
    )
    messages = [{"role": "user", "content": "Is this review positive or negative? 'Loved it.'"}]
    learned = default_classifier().decide(router, messages)
    plain = EmbeddingClassifier(
        embedder=default_classifier().embedder, settings=Settings(learned_adapter=False)
    )
    unadapted = plain.decide(router, messages)
    assert " with adapter +0." in learned.explanation
    assert "adapter" not in unadapted.explanation
    # the share shown is the conversation's cosine to the task's moved description
    share = float(learned.explanation.split(" with adapter ")[1].split(" ")[0])
    clf = default_classifier()
    moved = clf.compiled(router).descriptions[router.task_names.index("classify")]
    assert share == pytest.approx(float(moved @ clf.embed_conversation(messages)), abs=0.006)
    assert learned.task == unadapted.task == "classify"


def test_the_penalty_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(6)
    p = Params(
        up=(rng.standard_normal((DIM, 3)) * 0.3).astype(np.float32),
        down=(rng.standard_normal((DIM, 3)) * 0.3).astype(np.float32),
        offset=np.zeros(DIM, np.float32),
        log_scale=0.0,
        floor=0.0,
    )
    _, grads = _penalty(p, 0.7)
    values = p.arrays()
    for i in (0, 1):  # up, down
        for j in range(0, values[i].size, 7):
            shifted = []
            for sign in (1, -1):
                trial = [v.copy() for v in values]
                trial[i].reshape(-1)[j] += sign * 1e-3
                q = Params(p.up, p.down, p.offset, p.log_scale, p.floor)
                q.set_arrays(trial)
                shifted.append(_penalty(q, 0.7)[0])
            assert grads[i].reshape(-1)[j] == pytest.approx(
                (shifted[0] - shifted[1]) / 2e-3, rel=1e-2, abs=1e-4
            )


def test_replaced_settings_compile_the_router_anew() -> None:
    router = next(
        iter(load_config(Path(__file__).parents[1] / "examples" / "tutorial-router.json").routers.values())
    )
    clf = EmbeddingClassifier(embedder=default_classifier().embedder)
    before = clf.compiled(router)
    clf.settings = Settings(floor_shift=0.0)
    after = clf.compiled(router)
    assert after is not before
    assert after.adapter_floor == pytest.approx(before.adapter_floor + 0.05)
