"""The embedded default classifier: task descriptions matched through a library of task types.

Plain cosine between a prompt and a task description mostly measures topic: descriptions say what
to do, prompts *are* requests. So a router is compiled once (per distinct set of descriptions):

1. each task description is compared with the descriptions of the library's task types
   (description to description: an easy match) and claims the types close to it;
2. the claimed types' exemplar prompts become that task's neighbours, together with the task's
   own ``examples`` and its description (moved toward where prompts lie by the learned
   ``DescriptionAdapter``, and with a bonus when the task claims no type); the types no task
   claims become the fallback's neighbours (explicit negatives), except those near some task's
   subject, which count for neither;
3. a prompt is embedded once (the whole conversation: latest user turn, first user turn and system
   prompt, weighted; the instruction of a turn that carries pasted material also on its own) and
   scored against every group of neighbours (mean of the top-k cosines, plus a bonus where
   the prompt's shape or its opening verb points at a group's type: ``features``, ``intents``);
   each task's score then gains the prompt's cosine to its moved description and its word
   overlap, the fallback's the adapter's floor; a task about labelling texts gains a bonus when
   the conversation asks for labels and loses a penalty when it does not (``intents.
   label_request``); the best task wins unless a fallback group scores higher or the score is
   under the threshold.

``classify`` is one embedding, a matrix-vector product, a word overlap and a few regular
expressions over the head of the request.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from ..config import RouterConfig
from .adapter import DescriptionAdapter, shipped_adapter
from .base import Match, Messages
from .embedders import Embedder, Vectors, default_embedder
from .exemplars import Library, default_library
from .features import bonuses, signals
from .intents import GREETING_WORDS, categories, cue_text, describes_labelling, intents, label_request
from .lexical import HEAD_CHARS, DescriptionWords, Idf, overlaps
from .memo import text_memo
from .vectors import key_of, shipped_vectors

FALLBACK = "fallback"

PRODUCT_ELEMENTS = 768 * 512
"""Matrix elements per matrix-vector product when scoring. OpenBLAS (0.3.31 here) hands a
(1,514 x 512) product to a second thread, which then spins: on two cores that doubled a server's
CPU per request (1,730 against 825 us at c=32) for 10 us of wall time saved. Products of up to
768 x 512 stayed on one thread; 1,024 x 512 and 768 x 768 did not."""


@dataclass(frozen=True)
class Settings:
    """Knobs of the embedded classifier. Defaults were chosen on the dev set and twelve labelled
    routers, then checked once on fifteen routers written blind by others; the adapter's two
    under leave-one-router-out over those 27, then checked once on eighteen more written blind
    (all 45 are in examples/routers); the intent weight and the labelling bonus and penalty on
    sets of the tutorial router's prompts written blind (read once measured) and five-fold CV
    by router, each round then checked once on two sets nobody had read, and on six more
    routers (docs/classifier.md, stage 9, has every figure)."""

    k: int = 3
    """Neighbours averaged per group."""
    claim_floor: float = 0.45
    """A task claims a library type only if its description is at least this close to the type's."""
    claim_window: float = 0.12
    """...and within this much of the task's closest type..."""
    claim_relative: float = 2.0
    """...and stands out from the other types (see ``EmbeddingClassifier.affinities``)."""
    share_window: float = 0.25
    """A type several tasks claim goes to each within this much of the closest one, its exemplars
    split among them by which task description each is closest to."""
    description_bonus: float = 0.05
    """Added to the prompt-to-description cosine of a task that claims library types."""
    uncovered_bonus: float = 0.15
    """Added instead for a task that claims no library type: its description is all it has, and
    a prompt-to-description cosine runs lower than the prompt-to-prompt ones it competes with."""
    learned_adapter: bool = True
    """Move task descriptions toward prompts with the shipped ``DescriptionAdapter`` (when it was
    fitted for this embedder); off, or without one, they move along the plain offset."""
    adapter_weight: float = 1.0
    """With a learned adapter, every task's score gains this times the prompt's cosine to its
    moved description, and the fallback's (when it has neighbours) this times the adapter's
    floor plus ``floor_shift``: two views of each task added, not the better one taken. When a
    task's best neighbour is its own description, that cosine so counts twice (once with the
    description bonus); the weights were chosen, and every figure measured, that way."""
    floor_shift: float = -0.05
    """Added to the adapter's floor: the fit's floor is for the adapter alone, and the fallback
    also has its own neighbours here."""
    lexical_weight: float = 1.0
    """Every task's score gains this times its description's word overlap with the latest user
    turn, centred across the router's tasks (``lexical``)."""
    gap_shift: float = 1.0
    """The plain offset: this far along the library's description-to-prompt offset (mean exemplar
    minus mean type description). A learned adapter carries its own offset (fitted from this one
    at build time), so this only moves descriptions without one."""
    neutral_floor: float = 0.40
    """An unclaimed library type at least this close to some task's description is left out of
    the fallback's neighbours: near a task's subject, its prompts are no evidence against it."""
    neutral_relative: float = 3.0
    """...and so is one that stands out this much for some task (relative score)."""
    last_weight: float = 1.0
    first_weight: float = 0.5
    system_weight: float = 0.35
    short_turn_words: int = 8
    """A latest user turn shorter than this is a follow-up: the first turn then weighs as much."""
    signal_weight: float = 0.1
    """Bonus to a library type's score per structural signal (see ``features``)."""
    intent_weight: float = 0.3
    """Bonus to a library type's score when the request's opening words ask for that kind of
    work ("translate ...", "summarize ...", "write a tweet ...": see ``intents``)."""
    unasked_label_penalty: float = 0.3
    """Taken from a task about labelling texts (its description asks to classify, categorise,
    label or triage, and the closest library type it claims is text classification) when
    nothing the classifier reads of the conversation asks for labels or offers a choice among
    the task's own categories, or when only the first turn asked and the latest asks for
    another kind of work (``intents.label_request``): such a task's description matches
    the *texts* it labels, so a customer's own question would otherwise look like a request to
    label it. Only where some other task could take the text: a router of labelling tasks alone
    is left as it was."""
    asked_label_bonus: float = 0.2
    """Given instead to such a task when the conversation does ask for labels: a pipeline's
    system prompt or a first turn that says "classify these" makes a bare ticket in the latest
    turn a request to label it. Neither is given when only the first turn asked and the latest
    is a question of its own. (The opening-verb reading behind "another kind of work" is used
    here even when ``intent_weight`` is 0.)"""
    pasted_weight: float = 0.5
    """When the latest turn is an instruction followed by pasted material (a text to translate,
    notes to summarise), the instruction is embedded on its own with weight 1 and the whole turn
    counts this much: the pasted material says what the text is about, not what to do with it."""
    min_score: float = 0.0
    """A task needs at least this score; ``RouterConfig.match_threshold`` overrides it."""


@dataclass(frozen=True)
class Claim:
    type: str
    affinity: float


@dataclass
class CompiledRouter:
    """What ``classify`` needs, precomputed once per router."""

    tasks: tuple[str, ...]
    matrix: Vectors
    index: NDArray[np.intp]
    """(groups, width) row indices into ``matrix``; ``len(matrix)`` pads (a -inf sentinel)."""
    sizes: NDArray[np.intp]
    group_names: tuple[str, ...]
    group_target: NDArray[np.intp]
    """Target of each group: 0..len(tasks)-1 for a task, len(tasks) for the fallback."""
    claims: Mapping[str, tuple[Claim, ...]]
    fallback_types: tuple[str, ...]
    threshold: float
    k: int
    descriptions: Vectors
    """(tasks, dim) the task descriptions, moved toward prompts by the classifier's adapter."""
    description_bonus: NDArray[np.float32]
    """(tasks,) added to each task's description cosine."""
    neutral_types: tuple[str, ...]
    """Unclaimed types close to a task: neither a task's neighbours nor the fallback's."""
    type_groups: Mapping[str, tuple[int, ...]]
    """Library type name -> its group indices (several when tasks share the type)."""
    adapter_floor: float | None = None
    """With a learned adapter: what the fallback's score gains where each task's gains its
    cosine to the moved description (``Settings.adapter_weight``, ``Settings.floor_shift``)."""
    description_words: tuple[DescriptionWords, ...] = ()
    """Each task description's content words and their weights (``lexical``)."""
    labelling: tuple[bool, ...] = ()
    """Per task: is it about labelling texts (``Settings.unasked_label_penalty``)."""
    label_categories: tuple[frozenset[str], ...] = ()
    """Per task: the categories its description lists (a choice among them asks for labels)."""

    def group_scores(self, vector: Vectors) -> NDArray[np.float32]:
        """Each group's mean of its top-k cosines to ``vector``."""
        sims = np.empty(len(self.matrix) + 1, dtype=np.float32)
        block = max(1, PRODUCT_ELEMENTS // max(1, self.matrix.shape[1]))
        for start in range(0, len(self.matrix), block):
            rows = self.matrix[start : start + block]
            np.matmul(rows, vector, out=sims[start : start + len(rows)])
        sims[-1] = -np.inf  # the padding sentinel of ``index``
        padded = sims[self.index]
        k = min(self.k, padded.shape[1])
        top = -np.partition(-padded, k - 1, axis=1)[:, :k]
        top = np.where(np.isfinite(top), top, 0.0)
        counts = np.minimum(self.sizes, k).astype(np.float32)
        means: NDArray[np.float32] = (top.sum(axis=1) / counts).astype(np.float32)
        return means


def message_text(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        parts = []
        for part in content:
            if isinstance(part, Mapping) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, str):
                parts.append(part)
        return "\n".join(parts)
    return ""


_PASTE_AFTER = re.compile(r"(.{8,200}?)(?::\s*\n|\n)(.+)", re.S)
_QUOTE_CHARS = "'\"\u201c\u2018\u00ab\u201d\u2019\u00bb"
_QUOTED = re.compile("(['\"\u201c\u2018\u00ab])(.{40,}?)(['\"\u201d\u2019\u00bb])", re.S)
_GREETING = re.compile(rf"(?:{GREETING_WORDS}|hope (?:you are|you're|this finds|all is))\b", re.I)


def _lead_in(line: str) -> bool:
    """A greeting, a pleasantry or a line of under three words: not an instruction."""
    line = line.strip()
    return len(line.split()) < 3 or bool(_GREETING.match(line))


@text_memo
def split_instruction(text: str, min_pasted: int = 80) -> str | None:
    """The instruction of a turn that carries pasted material, or None: the first line (after
    any greeting) when at least ``min_pasted`` characters follow it, else the text around a long
    quotation. Only the head of a long turn is read, and the quotation rule only when the head
    holds few quote marks, so a decision never waits on these regular expressions."""
    text = text[:HEAD_CHARS].strip()
    lines = text.split("\n")
    skip = 0
    while skip < min(len(lines) - 1, 3) and _lead_in(lines[skip]):
        skip += 1
    m = _PASTE_AFTER.match("\n".join(lines[skip:]).strip())
    if m and len(m.group(2)) >= min_pasted and not _lead_in(m.group(1)):
        return m.group(1)
    q = _QUOTED.search(text) if sum(map(text.count, _QUOTE_CHARS)) <= 20 else None
    if q and len(q.group(2)) >= min_pasted:
        around = f"{text[: q.start()]} {text[q.end() :]}".strip()
        if len(around) >= 8:
            return around
    return None


def conversation_parts(messages: Messages) -> tuple[str, str, str]:
    """(latest user turn, first user turn if different, system prompt)."""
    users = [message_text(m) for m in messages if m.get("role") == "user"]
    users = [u for u in users if u.strip()]
    system = "\n".join(message_text(m) for m in messages if m.get("role") in ("system", "developer")).strip()
    if not users:
        other = [message_text(m) for m in messages if message_text(m).strip()]
        return (other[-1] if other else "", "", system)
    last = users[-1]
    first = users[0] if len(users) > 1 else ""
    return last, first, system


class _Parts(NamedTuple):
    """What ``classify`` reads of a conversation: the texts to embed and their weights, the
    latest user turn, its request (the instruction alone when material is pasted under it), the
    first user turn (when it differs) and the system prompt."""

    texts: list[str]
    weights: list[float]
    last: str
    request: str
    first: str
    system: str


class EmbeddingClassifier:
    """The embedded classifier. Construct once and share; routers are compiled on first sight and
    cached by their task descriptions (a changed description compiles anew)."""

    def __init__(
        self,
        embedder: Embedder | None = None,
        library: Library | None = None,
        settings: Settings | None = None,
        max_routers: int = 256,
        adapter: DescriptionAdapter | None = None,
    ) -> None:
        self._embedder = embedder
        self._library = library
        self._adapter = adapter
        self.settings = settings or Settings()
        self.max_routers = max_routers
        self._compiled: OrderedDict[tuple[Any, ...], CompiledRouter] = OrderedDict()
        self._lock = threading.Lock()
        self._library_vectors: Vectors | None = None
        self._type_desc_vectors: list[Vectors] | None = None
        self._library_lock = threading.Lock()
        self._idf: Idf | None = None
        self._derived_lock = threading.Lock()

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = default_embedder()
        return self._embedder

    @property
    def library(self) -> Library:
        if self._library is None:
            self._library = default_library()
        return self._library

    # ----- compile -----

    @property
    def adapter(self) -> DescriptionAdapter:
        """What moves task descriptions toward prompts: the shipped, learned adapter when it was
        fitted for this embedder and library, else the plain offset. An adapter given to the
        constructor must belong to this embedder."""
        if self._adapter is None:
            with self._derived_lock:
                if self._adapter is None:
                    learned = None
                    if self.settings.learned_adapter:
                        learned = shipped_adapter(self.embedder.name, self.library_key())
                    self._adapter = learned or self.plain_adapter()
        dim = self.library_embeddings()[0].shape[1]
        if self._adapter.embedder != self.embedder.name or len(self._adapter.offset) != dim:
            raise ValueError(
                f"the description adapter was fitted for {self._adapter.embedder!r} "
                f"({len(self._adapter.offset)} dimensions), not {self.embedder.name!r} ({dim})"
            )
        return self._adapter

    def idf(self) -> Idf:
        """Word weights over the library's exemplars (built on first use)."""
        if self._idf is None:
            with self._derived_lock:
                if self._idf is None:
                    self._idf = Idf(e for t in self.library.types for e in t.examples)
        return self._idf

    def library_key(self) -> str:
        """A hash of the embedder's name and the library's texts (what shipped files are for)."""
        return key_of(self.embedder.name, self._library_texts())

    def _library_texts(self) -> list[str]:
        lib = self.library
        return [e for t in lib.types for e in t.examples] + [d for t in lib.types for d in t.descriptions]

    def plain_offset(self) -> NDArray[np.float32]:
        """The library's mean exemplar minus its mean type description, times ``gap_shift``."""
        ex_vecs, type_descs = self.library_embeddings()
        gap = ex_vecs.mean(axis=0) - np.concatenate(type_descs).mean(axis=0)
        offset: NDArray[np.float32] = (self.settings.gap_shift * gap).astype(np.float32)
        return offset

    def plain_adapter(self) -> DescriptionAdapter:
        return DescriptionAdapter.plain(self.embedder.name, self.plain_offset())

    def library_embeddings(self) -> tuple[Vectors, list[Vectors]]:
        """The library's exemplar vectors, and each type's description vectors."""
        if self._library_vectors is None or self._type_desc_vectors is None:
            with self._library_lock:
                if self._library_vectors is None or self._type_desc_vectors is None:
                    texts = self._library_texts()
                    vecs = shipped_vectors(self.embedder.name, texts)
                    if vecs is None:
                        vecs = self.embedder.embed(texts)
                    n_examples = sum(len(t.examples) for t in self.library.types)
                    ex_vecs, desc_vecs = vecs[:n_examples], vecs[n_examples:]
                    per_type, at = [], 0
                    for t in self.library.types:
                        per_type.append(desc_vecs[at : at + len(t.descriptions)])
                        at += len(t.descriptions)
                    self._type_desc_vectors = per_type
                    self._library_vectors = ex_vecs
        return self._library_vectors, self._type_desc_vectors

    def _key(self, router: RouterConfig) -> tuple[Any, ...]:
        return (
            self.embedder.name,
            id(self.library),
            self.settings,  # replaced settings compile anew (the adapter stays as first chosen)
            router.match_threshold,
            tuple((p.name, p.custom_task.description, p.custom_task.examples) for p in router.policies),
        )

    def compiled(self, router: RouterConfig) -> CompiledRouter:
        """The router's precomputed form (compiled on first use, then cached)."""
        key = self._key(router)
        with self._lock:
            hit = self._compiled.get(key)
            if hit is not None:
                self._compiled.move_to_end(key)
                return hit
        built = self.compile(router)
        with self._lock:
            self._compiled[key] = built
            while len(self._compiled) > self.max_routers:
                self._compiled.popitem(last=False)
        return built

    def affinities(self, router: RouterConfig) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Closeness of each task description to each library type, as (tasks, types) arrays:
        the raw cosine to the type's closest description, and a relative score (z-scores across
        types of that cosine plus half the z-score of the cosine to the type's exemplar centroid)
        that discounts types which are close to every description."""
        _, type_descs = self.library_embeddings()
        centroids = self._centroids()
        task_vecs = self.embedder.embed([p.custom_task.description for p in router.policies])
        raw = np.zeros((len(router.policies), len(type_descs)), dtype=np.float32)
        for j, descs in enumerate(type_descs):
            raw[:, j] = (task_vecs @ descs.T).max(axis=1)
        cen = task_vecs @ centroids.T
        rel = _zscore(raw) + 0.5 * _zscore(cen)
        return raw, rel.astype(np.float32)

    def _centroids(self) -> Vectors:
        ex_vecs, _ = self.library_embeddings()
        out, at = [], 0
        for t in self.library.types:
            n = len(t.examples)
            c = ex_vecs[at : at + n].mean(axis=0) if n else np.zeros(ex_vecs.shape[1], np.float32)
            out.append(c / (np.linalg.norm(c) or 1.0))
            at += n
        return np.stack(out).astype(np.float32)

    def _claimants(self, aff: NDArray[np.float32], rel: NDArray[np.float32]) -> list[list[int]]:
        """For each library type, the tasks that claim it. A task claims the types close to its
        description in absolute terms, close to its own best type, and standing out from the other
        types; a type claimed by several tasks goes to those within ``share_window`` of the
        closest one."""
        s = self.settings
        best_of_task = aff.max(axis=1)
        close = (aff >= s.claim_floor) & (rel >= s.claim_relative)
        close &= aff >= best_of_task[:, None] - s.claim_window
        out = []
        for j in range(aff.shape[1]):
            tasks = np.flatnonzero(close[:, j])
            if len(tasks):
                top = aff[tasks, j].max()
                tasks = tasks[aff[tasks, j] >= top - s.share_window]
            out.append([int(i) for i in tasks])
        return out

    def compile(self, router: RouterConfig) -> CompiledRouter:
        s = self.settings
        lib = self.library
        ex_vecs, _ = self.library_embeddings()
        aff, rel = self.affinities(router)
        tasks = router.task_names
        n_tasks = len(tasks)

        task_desc = self.adapter.apply(
            self.embedder.embed([p.custom_task.description for p in router.policies])
        )
        claimants = self._claimants(aff, rel)
        near = (aff.max(axis=0) >= s.neutral_floor) | (rel.max(axis=0) >= s.neutral_relative)
        neutral = np.array([not c for c in claimants]) & near

        rows: list[Vectors] = []
        groups: list[tuple[str, int, int]] = []  # name, target, size
        type_groups: dict[str, list[int]] = {}
        at = 0
        for j, t in enumerate(lib.types):
            vecs = ex_vecs[at : at + len(t.examples)]
            at += len(t.examples)
            if not len(vecs) or neutral[j]:
                continue
            targets = claimants[j] or [n_tasks]
            nearest = np.full(len(vecs), targets[0])
            if len(targets) > 1:  # shared: each exemplar to the claimant whose description is closest
                nearest = np.asarray(targets)[(vecs @ task_desc[targets].T).argmax(axis=1)]
            for target in targets:
                mine = np.flatnonzero(nearest == target)
                if len(mine):
                    type_groups.setdefault(t.name, []).append(len(groups))
                    rows.append(vecs[mine])
                    groups.append((f"type:{t.name}", int(target), len(mine)))
        covered = np.array([any(i in c for c in claimants) for i in range(n_tasks)], dtype=bool)
        bonus = np.where(covered, s.description_bonus, s.uncovered_bonus).astype(np.float32)
        for i, policy in enumerate(router.policies):
            examples = list(policy.custom_task.examples)
            if examples:
                rows.append(self.embedder.embed(examples))
                groups.append((f"examples:{policy.name}", i, len(examples)))
        matrix = np.concatenate(rows, axis=0) if rows else np.zeros((0, 1), np.float32)
        width = max([g[2] for g in groups], default=1)
        index = np.full((len(groups), width), len(matrix), dtype=np.intp)
        start = 0
        for g, (_, _, size) in enumerate(groups):
            index[g, :size] = np.arange(start, start + size)
            start += size
        claims = {
            tasks[i]: tuple(
                sorted(
                    (
                        Claim(lib.types[j].name, round(float(aff[i, j]), 3))
                        for j in range(len(lib.types))
                        if i in claimants[j]
                    ),
                    key=lambda c: -c.affinity,
                )
            )
            for i in range(n_tasks)
        }
        threshold = router.match_threshold if router.match_threshold is not None else s.min_score
        return CompiledRouter(
            tasks=tasks,
            matrix=matrix.astype(np.float32),
            index=index,
            sizes=np.array([g[2] for g in groups], dtype=np.intp),
            group_names=tuple(g[0] for g in groups),
            group_target=np.array([g[1] for g in groups], dtype=np.intp),
            claims=claims,
            fallback_types=tuple(
                lib.types[j].name for j in range(len(lib.types)) if not claimants[j] and not neutral[j]
            ),
            threshold=float(threshold),
            k=s.k,
            descriptions=task_desc,
            description_bonus=bonus,
            neutral_types=tuple(lib.types[j].name for j in range(len(lib.types)) if neutral[j]),
            type_groups={name: tuple(gs) for name, gs in type_groups.items()},
            adapter_floor=self.adapter.floor + s.floor_shift if self.adapter.learned else None,
            description_words=self.idf().router([p.custom_task.description for p in router.policies]),
            **self._labelling(router, claims),
        )

    @staticmethod
    def _labelling(router: RouterConfig, claims: Mapping[str, tuple[Claim, ...]]) -> dict[str, Any]:
        """Which tasks are about labelling texts, and their categories; none when every task's
        description asks for labels (then no other task could take a text that does not)."""
        describes = [describes_labelling(p.custom_task.description) for p in router.policies]
        if all(describes):
            return {}
        labelling = tuple(
            d and bool(claims[p.name]) and claims[p.name][0].type == "text-classification"
            for p, d in zip(router.policies, describes, strict=True)
        )
        found = tuple(
            categories(p.custom_task.description) if labels else frozenset()
            for p, labels in zip(router.policies, labelling, strict=True)
        )
        return {"labelling": labelling, "label_categories": found}

    # ----- classify -----

    def _parts(self, messages: Messages) -> _Parts:
        s = self.settings
        last, first, system = conversation_parts(messages)
        texts = [last or " "]
        weights = [s.last_weight]
        if first:
            texts.append(first)
            short = len(last.split()) < s.short_turn_words
            weights.append(s.last_weight if short else s.first_weight)
        if system:
            texts.append(system)
            weights.append(s.system_weight)
        instruction = split_instruction(last)
        if instruction:
            weights[0] *= s.pasted_weight
            texts.append(instruction)
            weights.append(s.last_weight)
        return _Parts(texts, weights, last, instruction or last, first, system)

    @staticmethod
    def _combine(vecs: Vectors, weights: list[float]) -> Vectors:
        v = (np.asarray(weights, dtype=np.float32)[:, None] * vecs).sum(axis=0)
        norm = float(np.linalg.norm(v))
        return (v / norm if norm else v).astype(np.float32)  # type: ignore[no-any-return]

    def embed_conversation(self, messages: Messages) -> Vectors:
        """One unit vector for the whole conversation: the latest user turn, the first user turn
        (weighted up when the latest is a short follow-up) and the system prompt."""
        parts = self._parts(messages)
        return self._combine(self.embedder.embed(parts.texts), parts.weights)

    def scores(
        self, router: RouterConfig, messages: Messages
    ) -> tuple[CompiledRouter, dict[str, float], dict[str, str]]:
        """Per-target scores (tasks and ``fallback``) and the group that gave each."""
        parts = self._parts(messages)
        vector = self._combine(self.embedder.embed(parts.texts), parts.weights)
        return self._scores(self.compiled(router), vector, parts)

    def _scores(
        self, c: CompiledRouter, v: Vectors, parts: _Parts
    ) -> tuple[CompiledRouter, dict[str, float], dict[str, str]]:
        s = self.settings
        gs = c.group_scores(v) if len(c.group_names) else np.zeros(0, np.float32)
        told: dict[int, str] = {}  # group -> what its bonuses were, for the explanation
        kinds = intents(parts.last)
        for name, evidence, weight in (
            ("signals", signals(parts.last) if s.signal_weight else {}, s.signal_weight),
            ("opening words", kinds, s.intent_weight),
        ):
            if weight:
                for g, bonus in bonuses(evidence, c.type_groups, weight).items():
                    gs[g] += bonus
                    told[g] = f"{told.get(g, '')}|{name}={bonus:.4f}"
        n = len(c.tasks)
        # Plain floats from here: a per-group loop over numpy scalars costs more than the maths.
        best = [-1.0] * (n + 1)
        via = [""] * (n + 1)
        for g, (score, target) in enumerate(zip(gs.tolist(), c.group_target.tolist(), strict=True)):
            if score > best[target]:
                best[target] = score
                via[target] = c.group_names[g] + told.get(g, "")
        cosines, bonus = (c.descriptions @ v).tolist(), c.description_bonus.tolist()
        for i in range(n):
            if cosines[i] + bonus[i] > best[i]:
                best[i] = cosines[i] + bonus[i]
                via[i] = "description"
        if c.adapter_floor is not None:  # a learned adapter: its cosines are evidence of their own
            self._add(best, via, "adapter", s.adapter_weight, cosines)
            if via[n]:  # no fallback groups: nothing for the floor to add to
                best[n] += s.adapter_weight * c.adapter_floor
                via[n] += f"|floor={s.adapter_weight * c.adapter_floor:.4f}"
        if s.lexical_weight and c.description_words:
            shares = overlaps(parts.request, c.description_words)
            self._add(best, via, "words", s.lexical_weight, shares)
        if any(c.labelling):  # read the turns for a request for labels only where it matters
            cue = (cue_text(parts.system), cue_text(parts.first), cue_text(parts.last))
            for i in (i for i, labels in enumerate(c.labelling) if labels):
                asked = label_request(*cue, kinds, c.label_categories[i])
                if asked:
                    self._add_one(best, via, i, "labels asked", s.asked_label_bonus)
                elif asked is not None:
                    self._add_one(best, via, i, "no labels asked", -s.unasked_label_penalty)
        names = [*c.tasks, FALLBACK]
        return (
            c,
            {names[i]: round(best[i], 4) for i in range(n + 1)},
            {names[i]: via[i] for i in range(n + 1)},
        )

    @staticmethod
    def _add(best: list[float], via: list[str], name: str, weight: float, values: list[float]) -> None:
        """Add ``weight`` times each task's value to its score, and say so in ``via``."""
        for i, value in enumerate(values):
            best[i] += weight * value
            via[i] += f"|{name}={weight * value:.4f}"

    @staticmethod
    def _add_one(best: list[float], via: list[str], i: int, name: str, value: float) -> None:
        """Add ``value`` to target ``i``'s score, and say so in ``via`` (nothing when zero)."""
        if value:
            best[i] += value
            via[i] += f"|{name}={value:.4f}"

    def decide(self, router: RouterConfig, messages: Messages) -> Match:
        """Synchronous ``classify``."""
        return self._match(*self.scores(router, messages))

    def decide_many(self, router: RouterConfig, conversations: Sequence[Messages]) -> list[Match]:
        """``decide`` for many conversations, embedding all their texts in one batch (offline
        evaluation; a request path calls ``classify``)."""
        c = self.compiled(router)
        parts = [self._parts(m) for m in conversations]
        flat = [t for p in parts for t in p.texts]
        vecs = self.embedder.embed(flat) if flat else np.zeros((0, 1), np.float32)
        out, at = [], 0
        for p in parts:
            v = self._combine(vecs[at : at + len(p.texts)], p.weights)
            at += len(p.texts)
            out.append(self._match(*self._scores(c, v, p)))
        return out

    def _match(self, c: CompiledRouter, scores: dict[str, float], via: dict[str, str]) -> Match:
        task_scores = {t: scores[t] for t in c.tasks}
        best_task = max(task_scores, key=lambda t: task_scores[t])
        best = task_scores[best_task]
        fb = scores[FALLBACK] if via[FALLBACK] else -1.0
        others = sorted((v for t, v in task_scores.items() if t != best_task), reverse=True)
        runner_up = max(others[0] if others else -1.0, fb)
        if best < c.threshold:
            margin = c.threshold - best
            why = (
                f"fallback: best task {best_task!r} scored {best:.2f}, under the match "
                f"threshold {c.threshold:.2f}"
            )
            return Match(None, scores, round(margin, 4), why)
        if fb >= best:
            margin = fb - best
            why = (
                f"fallback: closest to {_label(via[FALLBACK])} ({fb:.2f}), which no task "
                f"claims; best task {best_task!r} {best:.2f} via {_label(via[best_task])}"
            )
            return Match(None, scores, round(margin, 4), why)
        margin = best - runner_up
        second = max(
            ((t, v) for t, v in scores.items() if t != best_task),
            key=lambda kv: kv[1],
            default=(FALLBACK, -1.0),
        )
        why = (
            f"task {best_task!r}: score {best:.2f} via {_label(via[best_task])}; next "
            f"{second[0]!r} {second[1]:.2f}; margin {margin:.2f}"
        )
        return Match(best_task, scores, round(margin, 4), why)

    async def classify(self, router: RouterConfig, messages: Messages) -> Match:
        return self.decide(router, messages)

    def explain_router(self, router: RouterConfig) -> str:
        """Which library types each task claimed, and which stand for the fallback."""
        c = self.compiled(router)
        lines = []
        for task, labelling in zip(c.tasks, c.labelling or [False] * len(c.tasks), strict=True):
            claimed = ", ".join(f"{cl.type} ({cl.affinity:.2f})" for cl in c.claims[task])
            note = "; labels texts: needs a request for labels" if labelling else ""
            lines.append(f"{task}: {claimed or '(no library type; its description and examples)'}{note}")
        lines.append(f"fallback: {', '.join(c.fallback_types) or '(none)'}")
        if c.neutral_types:
            lines.append(f"neither (near a task, claimed by none): {', '.join(c.neutral_types)}")
        return "\n".join(lines)


def _zscore(a: NDArray[np.float32]) -> NDArray[np.float32]:
    std = a.std(axis=1, keepdims=True)
    std[std == 0] = 1.0
    return (a - a.mean(axis=1, keepdims=True)) / std  # type: ignore[no-any-return]


def _label(via: str) -> str:
    """``type:NAME`` / ``examples:TASK`` / ``description``, then what else was added
    (``|adapter=0.31|words=-0.05``), in words."""
    group, *added = via.split("|")
    extras = [f"{name} {float(value):+.2f}" for name, _, value in (a.partition("=") for a in added)]
    label = _group_label(group)
    return f"{label} with {' and '.join(extras)}" if extras else label


def _group_label(group: str) -> str:
    if group.startswith("type:"):
        return f"library type {group[5:]!r}"
    if group.startswith("examples:"):
        return "the task's examples"
    return group or "nothing"
