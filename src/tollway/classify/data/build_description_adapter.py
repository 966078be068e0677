"""Fit ``description_adapter.npz`` from the labelled routers in ``examples/routers`` and the
exemplar library (run from a checkout, after ``build_library_vectors.py``; deterministic):

    python src/tollway/classify/data/build_description_adapter.py           # fit and write
    python src/tollway/classify/data/build_description_adapter.py --cv      # leave one router out
    python src/tollway/classify/data/build_description_adapter.py --routers A.yaml B.yaml --out F


``--cv`` fits once per router without that router and scores it with the whole classifier, next
to the plain offset: an estimate of what the shipped adapter does on a router nobody labelled.
The tutorial's dev set (``../shared/eval``) is never fitted on.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from tollway.classify import EmbeddingClassifier, default_classifier
from tollway.classify.adapter import FILE
from tollway.classify.adapter_fit import fit_for, labelled_routers, router_episode
from tollway.evaluate import right_answers

ROUTERS = Path(__file__).resolve().parents[4] / "examples" / "routers"


def accuracy(matches: list[Any], rows: list[dict[str, Any]]) -> float:
    return right_answers(matches, rows) / len(rows)


def cross_validate(paths: list[Path]) -> None:
    base = default_classifier()
    routers = labelled_routers(paths)
    episodes = [router_episode(base, r, rows) for r, rows in routers]
    plain = EmbeddingClassifier(embedder=base.embedder, adapter=base.plain_adapter())
    print(f"{'held-out router':<26}{'offset only':>12}{'adapted':>10}")
    scores = []
    for k, (router, rows) in enumerate(routers):
        adapted = EmbeddingClassifier(
            embedder=base.embedder, adapter=fit_for(base, episodes[:k] + episodes[k + 1 :])
        )
        convs = [r["messages"] for r in rows]
        pair = tuple(accuracy(c.decide_many(router, convs), rows) for c in (plain, adapted))
        scores.append(pair)
        print(f"{router.name:<26}{pair[0]:>12.1%}{pair[1]:>10.1%}", flush=True)
    mean = np.mean(scores, axis=0)
    print(f"{'mean':<26}{mean[0]:>12.1%}{mean[1]:>10.1%}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--routers", nargs="+", type=Path, default=[ROUTERS], help="folders or .yaml files")
    ap.add_argument("--cv", action="store_true", help="leave-one-router-out estimate; writes nothing")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / FILE, help="where to write")
    args = ap.parse_args()
    if args.cv:
        cross_validate(args.routers)
        return 0
    clf = default_classifier()
    routers = labelled_routers(args.routers)
    target = args.out
    fit_for(clf, [router_episode(clf, r, rows) for r, rows in routers]).save(target)
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
