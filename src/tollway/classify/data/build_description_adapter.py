"""Fit ``description_adapter.npz`` from the labelled routers in ``examples/routers`` and the
exemplar library (run from a checkout, after ``build_library_vectors.py``):

    python src/tollway/classify/data/build_description_adapter.py           # fit and write
    python src/tollway/classify/data/build_description_adapter.py --cv      # leave one router out

``--cv`` fits once per router without that router and scores it with the adapter alone (cosine to
the moved descriptions, a fallback floor learned with it) and with the whole classifier, next to
the plain offset: an estimate of what the shipped adapter does on a router nobody labelled.
The tutorial's dev set (``../shared/eval``) is never fitted on.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from tollway.classify import EmbeddingClassifier, default_classifier
from tollway.classify.adapter import FILE, DescriptionAdapter
from tollway.classify.adapter_fit import Episode, FitSettings, LibrarySample, fit
from tollway.config import RouterConfig, load_config
from tollway.evaluate import load_rows

ROOT = Path(__file__).resolve().parents[4]
ROUTERS = ROOT / "examples" / "routers"


def labelled_routers(folder: Path) -> list[tuple[RouterConfig, list[dict[str, Any]]]]:
    out = []
    for config in sorted(folder.glob("*.yaml")):
        data = config.with_suffix(".jsonl")
        if data.exists():
            out.append((next(iter(load_config(config).routers.values())), load_rows(data)))
    return out


def episode(clf: EmbeddingClassifier, router: RouterConfig, rows: list[dict[str, Any]]) -> Episode:
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


def fit_on(clf: EmbeddingClassifier, episodes: list[Episode]) -> DescriptionAdapter:
    return fit(clf.embedder.name, clf.plain_offset(), episodes, library_sample(clf), FitSettings())


def accuracy(matches: list[Any], rows: list[dict[str, Any]]) -> float:
    right = sum((m.task or "fallback") == r["route"] for m, r in zip(matches, rows, strict=True))
    return float(right) / len(rows)


def cross_validate(folder: Path) -> None:
    base = default_classifier()
    routers = labelled_routers(folder)
    episodes = [episode(base, r, rows) for r, rows in routers]
    plain = EmbeddingClassifier(embedder=base.embedder, adapter=base.plain_adapter())
    print(f"{'held-out router':<24}{'offset only':>12}{'adapted':>10}")
    scores = []
    for k, (router, rows) in enumerate(routers):
        adapter = fit_on(base, episodes[:k] + episodes[k + 1 :])
        clf = EmbeddingClassifier(embedder=base.embedder, adapter=adapter)
        convs = [r["messages"] for r in rows]
        pair = (
            accuracy(plain.decide_many(router, convs), rows),
            accuracy(clf.decide_many(router, convs), rows),
        )
        scores.append(pair)
        print(f"{router.name:<24}{pair[0]:>12.1%}{pair[1]:>10.1%}", flush=True)
    mean = np.mean(scores, axis=0)
    print(f"{'mean':<24}{mean[0]:>12.1%}{mean[1]:>10.1%}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--routers", default=str(ROUTERS))
    ap.add_argument("--cv", action="store_true", help="leave-one-router-out estimate, writes nothing")
    args = ap.parse_args()
    if args.cv:
        cross_validate(Path(args.routers))
        return 0
    clf = default_classifier()
    adapter = fit_on(clf, [episode(clf, r, rows) for r, rows in labelled_routers(Path(args.routers))])
    target = Path(__file__).parent / FILE
    adapter.save(target)
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
