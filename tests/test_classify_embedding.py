"""The embedded classifier: accuracy floors on the dev set and a second router, multi-turn
stability, caching, explanations. Offline: the model ships in the encoder's package."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tollway.classify import (
    EmbeddingClassifier,
    HashingEmbedder,
    default_classifier,
)
from tollway.classify.embedders import CachedEmbedder, clip_text
from tollway.classify.embedding import conversation_parts, split_instruction
from tollway.classify.exemplars import default_library
from tollway.classify.features import signals
from tollway.config import RouterConfig, load_config
from tollway.evaluate import load_rows, right_answers

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT.parent / "shared" / "eval" / "routing-dev.jsonl"
POLY = ROOT / "examples" / "routers" / "polyglot-desk.yaml"
POLY_ROWS = ROOT / "examples" / "routers" / "polyglot-desk.jsonl"

MISSION: dict[str, Any] = json.loads((ROOT / "examples" / "tutorial-router.json").read_text("utf-8"))


def router_of(body: dict[str, Any]) -> RouterConfig:
    return next(iter(load_config(body).routers.values()))


@pytest.fixture(scope="module")
def clf() -> EmbeddingClassifier:
    return default_classifier()


@pytest.fixture(scope="module")
def mission() -> RouterConfig:
    return router_of(MISSION)


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def accuracy(clf: EmbeddingClassifier, router: RouterConfig, rows: list[dict[str, Any]]) -> float:
    matches = clf.decide_many(router, [r["messages"] for r in rows])
    return right_answers(matches, rows) / len(rows)


@pytest.mark.skipif(not DEV.exists(), reason="shared eval data not present")
def test_dev_accuracy_floor(clf: EmbeddingClassifier, mission: RouterConfig) -> None:
    rows = load_rows(DEV)
    # measured 96.0% (see docs/classifier.md); the floor catches regressions
    assert accuracy(clf, mission, rows) >= 0.93


def test_second_router_accuracy_floor(clf: EmbeddingClassifier) -> None:
    router = next(iter(load_config(POLY).routers.values()))
    rows = load_rows(POLY_ROWS)
    # measured 94.5%
    assert accuracy(clf, router, rows) >= 0.85


HOLDOUT = Path(__file__).resolve().parents[1] / "examples" / "routers-holdout"


@pytest.mark.parametrize(
    ("name", "floor"),
    [("molding-plant-assistant", 0.75), ("newsroom-desk", 0.64), ("helpdesk-copilot", 0.69)],
)
def test_routers_written_blind_whose_tasks_no_library_type_covers(
    clf: EmbeddingClassifier, name: str, floor: float
) -> None:
    """Defects / NCRs / SPC / handovers, headlines / fact-checks / transcripts, replies / recaps /
    bug reports / triage: routers written blind by others, never fitted on, with most tasks
    claiming no library type. Measured once: 81%, 70% and 75% (plain cosine at its best threshold
    on the same rows: 62%, 57%, 65%; the classifier before the description adapter and the word
    overlap: 66%, 60%, 65%)."""
    router = next(iter(load_config(HOLDOUT / f"{name}.yaml").routers.values()))
    rows = load_rows(HOLDOUT / f"{name}.jsonl")
    assert accuracy(clf, router, rows) >= floor


TUTORIAL_HOLDOUT = Path(__file__).resolve().parents[1] / "examples" / "tutorial-holdout"


@pytest.mark.parametrize(
    ("name", "floor"),
    [
        ("tut1-chat-style", 0.90),
        ("tut2-power-users", 0.87),
        ("tut3-near-misses", 0.87),
        ("tut4-everyday", 0.91),
        ("tut5-dataset-styles", 0.94),
        ("tut6-support-desk", 0.87),
        ("tut7-conversations-languages", 0.92),
        ("tut8-everyday", 0.91),
        ("tut9-dataset-styles", 0.95),
        ("tut10-everyday", 0.91),
        ("tut11-support-desk", 0.88),
    ],
)
def test_the_tutorial_router_on_prompts_written_blind_in_other_wordings(
    clf: EmbeddingClassifier, mission: RouterConfig, name: str, floor: float
) -> None:
    """Prompts for the tutorial's router written by hand by helpers who had not seen the
    classifier (examples/tutorial-holdout/README.md; docs/classifier.md, stage 9). The final
    classifier: 92.6 / 89.4 / 89.5 / 93.4 / 96.9 / 90.2 / 95.7 / 94.4 / 98.1 / 93.8 / 91.4%; the
    last two were measured once, blind (the classifier the stage started from: 86.3 / 74.7%)."""
    rows = load_rows(TUTORIAL_HOLDOUT / f"{name}.jsonl")
    assert accuracy(clf, mission, rows) >= floor


def test_a_task_without_library_types_is_matched_by_its_description(clf: EmbeddingClassifier) -> None:
    router = next(iter(load_config(POLY.with_name("eng-desk.yaml")).routers.values()))
    compiled = clf.compiled(router)
    assert compiled.claims["regex-shell"] == ()
    bonus = dict(zip(compiled.tasks, compiled.description_bonus.tolist(), strict=True))
    assert bonus["regex-shell"] == pytest.approx(clf.settings.uncovered_bonus)
    assert bonus["code-review"] == pytest.approx(clf.settings.description_bonus)
    # near the tasks' subjects: no evidence for the fallback
    assert "tech-howto" in compiled.neutral_types and "tech-howto" not in compiled.fallback_types
    assert "chit-chat" in compiled.fallback_types
    assert "neither (near a task, claimed by none): " in clf.explain_router(router)
    prompt = "sed one-liner to swap the first two columns of a csv"
    match = clf.decide(router, [{"role": "user", "content": prompt}])
    assert match.task == "regex-shell", match.explanation


def test_descriptions_claim_library_types(clf: EmbeddingClassifier, mission: RouterConfig) -> None:
    compiled = clf.compiled(mission)
    claimed = {task: {c.type for c in claims} for task, claims in compiled.claims.items()}
    assert "text-classification" in claimed["classify"]
    assert "account-support" in claimed["customer-qa"]
    assert {"math", "logic-reasoning"} <= claimed["reasoning"]
    assert "code-generation" in compiled.fallback_types
    assert "creative-writing" in compiled.fallback_types
    text = clf.explain_router(mission)
    assert "classify: text-classification" in text and "fallback:" in text


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        (
            "Sort this ticket into billing, bug, how-to or account: my invoice shows the wrong VAT.",
            "classify",
        ),
        ("Can I switch my plan from monthly to yearly without losing my data?", "customer-qa"),
        (
            "A tank fills in 6 hours and drains in 9. Starting empty with both open, when is it full?",
            "reasoning",
        ),
        ("Write a haiku about the ocean.", None),
        ('def add(a, b):\n    """Return the sum of a and b."""', None),
    ],
)
def test_typical_prompts(
    clf: EmbeddingClassifier, mission: RouterConfig, prompt: str, expected: str | None
) -> None:
    match = clf.decide(mission, user(prompt))
    assert match.task == expected, match.explanation


async def test_match_carries_scores_margin_and_explanation(
    clf: EmbeddingClassifier, mission: RouterConfig
) -> None:
    match = await clf.classify(mission, user("How do I update the card on my subscription?"))
    assert match.task == "customer-qa"
    assert set(match.scores) == {"classify", "customer-qa", "reasoning", "fallback"}
    assert match.scores["customer-qa"] == max(match.scores.values())
    assert match.margin > 0
    assert "customer-qa" in match.explanation and "margin" in match.explanation


def test_follow_up_stays_on_the_conversation_task(clf: EmbeddingClassifier, mission: RouterConfig) -> None:
    first = "A shop sells pens at 3 for $2. How much do 27 pens cost, and how many for $50?"
    conv = [
        {"role": "user", "content": first},
        {"role": "assistant", "content": "27 pens cost $18; $50 buys 75 pens."},
        {"role": "user", "content": "and what if the price goes up by 10%?"},
    ]
    assert clf.decide(mission, user(first)).task == "reasoning"
    assert clf.decide(mission, conv).task == "reasoning"
    support = [
        {"role": "system", "content": "You are the support assistant of a subscription app."},
        {"role": "user", "content": "Why was I charged twice for my plan this month?"},
        {"role": "assistant", "content": "Sorry about that! Let me check."},
        {"role": "user", "content": "ok thanks, and when will I get it back?"},
    ]
    assert clf.decide(mission, support).task == "customer-qa"


def test_decide_many_agrees_with_decide(clf: EmbeddingClassifier, mission: RouterConfig) -> None:
    convs = [
        user("Why was I charged twice?"),
        user("Write a poem about cats."),
        [{"role": "system", "content": "Support bot."}, {"role": "user", "content": "Hi"}],
    ]
    assert [m.task for m in clf.decide_many(mission, convs)] == [clf.decide(mission, c).task for c in convs]


def test_conversation_parts() -> None:
    msgs: list[dict[str, Any]] = [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": [{"type": "text", "text": "first"}]},
        {"role": "assistant", "content": "a"},
        {"role": "user", "content": "last"},
    ]
    assert conversation_parts(msgs) == ("last", "first", "sys")
    assert conversation_parts([{"role": "user", "content": "only"}]) == ("only", "", "")
    assert conversation_parts([]) == ("", "", "")


def test_router_compiled_once_and_recompiled_on_change(
    clf: EmbeddingClassifier, mission: RouterConfig
) -> None:
    a = clf.compiled(mission)
    assert clf.compiled(router_of(MISSION)) is a  # same descriptions: cached
    body = json.loads(json.dumps(MISSION))
    body["policies"][0]["custom_task"]["description"] = "Translate text into French."
    b = clf.compiled(router_of(body))
    assert b is not a
    assert "translation" in {c.type for c in b.claims["classify"]}


def test_task_examples_are_neighbours(clf: EmbeddingClassifier) -> None:
    body = {
        "name": "zoo",
        "policies": [
            {
                "custom_task": {
                    "name": "feeding",
                    "description": "Questions for the zoo keepers.",
                    "examples": ["What do the penguins eat?", "When are the lions fed?"],
                },
                "models": ["openai-gpt-oss-20b"],
            },
        ],
        "fallback_models": ["llama3.3-70b-instruct"],
    }
    match = clf.decide(router_of(body), user("what do giraffes eat and when are they fed?"))
    assert match.task == "feeding", match.explanation


def test_a_type_two_tasks_claim_is_split_between_them(clf: EmbeddingClassifier) -> None:
    task = {"models": ["openai-gpt-oss-20b"]}
    body = {
        "name": "numbers",
        "policies": [
            {
                **task,
                "custom_task": {
                    "name": "geometry",
                    "description": "Solve math problems about shapes: areas, angles, perimeters and volumes.",
                },
            },
            {
                **task,
                "custom_task": {
                    "name": "money-maths",
                    "description": "Solve math word problems about money: prices, discounts, interest.",
                },
            },
        ],
        "fallback_models": ["llama3.3-70b-instruct"],
    }
    compiled = clf.compiled(router_of(body))
    groups = compiled.type_groups["math"]
    assert len(groups) == 2  # both tasks claim the math type: each gets the exemplars nearer to it
    targets = {compiled.tasks[compiled.group_target[g]] for g in groups}
    assert targets == {"geometry", "money-maths"}
    assert sum(compiled.sizes[g] for g in groups) == len(
        next(t for t in clf.library.types if t.name == "math").examples
    )
    assert {"math"} <= {c.type for c in compiled.claims["geometry"]}
    assert {"math"} <= {c.type for c in compiled.claims["money-maths"]}


def test_an_instruction_is_read_apart_from_the_material_it_comes_with() -> None:
    notes = "Mitochondria - site of aerobic respiration. Ribosomes - protein synthesis. " * 2
    assert split_instruction(f"Make 10 flashcards from these biology notes:\n\n{notes}") == (
        "Make 10 flashcards from these biology notes"
    )
    quoted = "Please arrive fifteen minutes early and bring your insurance card and photo ID."
    assert split_instruction(f"Translate to Arabic: '{quoted} {quoted}'") == "Translate to Arabic:"
    assert split_instruction("what's the capital of Australia?") is None
    assert split_instruction("Summarise this:\nshort") is None  # too little material to split
    assert split_instruction("\u201c" * 1_000_000) is None  # only the head is read
    # a greeting or a short line on top is not the instruction
    question = "How do I change the email address on my account? The settings page keeps failing."
    assert split_instruction(f"Good morning everyone,\n{question}") is None
    assert split_instruction(f"Hope you are well.\n{question}") is None
    assert split_instruction(f"Hi support,\n\nMake 10 flashcards from these biology notes:\n\n{notes}") == (
        "Make 10 flashcards from these biology notes"
    )


@pytest.mark.parametrize(
    "greeting", ["", "Hi support,\n\n", "Good morning everyone,\n", "Hope you are well.\n"]
)
def test_a_greeting_line_does_not_change_the_route(
    clf: EmbeddingClassifier, mission: RouterConfig, greeting: str
) -> None:
    prompt = "How do I change the email address on my account? I tried the settings page twice already."
    match = clf.decide(mission, user(greeting + prompt))
    assert match.task == "customer-qa", match.explanation


def test_match_threshold_sends_weak_matches_to_fallback(clf: EmbeddingClassifier) -> None:
    body = json.loads(json.dumps(MISSION))
    body["match_threshold"] = 0.99
    match = clf.decide(router_of(body), user("Can I change my plan?"))
    assert match.task is None
    assert "threshold" in match.explanation


def test_pluggable_embedder_and_library_subset() -> None:
    lib = default_library()
    small = type(lib)(tuple(t for t in lib.types if t.name in {"translation", "math", "chit-chat"}))
    clf = EmbeddingClassifier(embedder=HashingEmbedder(), library=small)
    body = {
        "name": "mini",
        "policies": [
            {
                "custom_task": {
                    "name": "translate",
                    "description": "Translate text from one language into another.",
                },
                "models": ["openai-gpt-oss-20b"],
            }
        ],
        "fallback_models": ["llama3.3-70b-instruct"],
    }
    router = router_of(body)
    assert clf.compiled(router).claims["translate"][0].type == "translation"
    assert clf.decide(router, user("Translate 'good night' into Spanish.")).task == "translate"


def test_library_is_sane() -> None:
    lib = default_library()
    assert len(lib.types) >= 20
    for t in lib.types:
        assert t.descriptions and len(t.examples) >= 5, t.name
    held = lib.without_sources(["openai/grade-school-math"])
    math = next(t for t in held.types if t.name == "math")
    assert all(not s.startswith("openai/grade-school-math") for s in math.sources)


def test_cached_embedder_reuses_vectors() -> None:
    calls: list[list[str]] = []

    class Counting(HashingEmbedder):
        def embed(self, texts):  # type: ignore[no-untyped-def]
            calls.append(list(texts))
            return super().embed(texts)

    emb = CachedEmbedder(Counting(), maxsize=2)
    a = emb.embed(["x", "y"])
    b = emb.embed(["y", "x", "x"])
    assert calls == [["x", "y"]]
    assert np.allclose(a[0], b[1]) and np.allclose(a[1], b[0])
    emb.embed(["z"])
    assert len(emb._cache) == 2


def test_clip_and_signals() -> None:
    assert clip_text("short", 10) == "short"
    long = "a" * 50 + "b" * 50
    clipped = clip_text(long, 30)
    assert clipped.startswith("a" * 20) and clipped.endswith("b" * 10)
    assert "text-classification" in signals("Classify this as spam, ham or unsure: hello")
    assert "math" in signals("Tom has 3 apples and buys 5 more at $2 each. How much did he pay?")
    assert "exam-question" in signals("Q?\nA) x\nB) y\nC) z\nD) w")
    assert "code-generation" in signals("def f(x):\n    return x + 1\nclass A:\n    pass")
    assert signals("Hello there") == {}


@pytest.mark.parametrize(
    ("rows", "dim"), [(2, 512), (767, 512), (768, 512), (769, 512), (1536, 512), (2000, 100)]
)
def test_group_scores_in_blocks_equal_one_product(rows: int, dim: int) -> None:
    """Scoring multiplies in blocks (one BLAS thread each): the same numbers as one product."""
    from tollway.classify.embedding import CompiledRouter

    rng = np.random.default_rng(rows)
    matrix = rng.standard_normal((rows, dim)).astype(np.float32)
    sizes = np.array([rows // 2, rows - rows // 2], dtype=np.intp)
    index = np.full((2, max(1, int(sizes.max()))), rows, dtype=np.intp)
    index[0, : sizes[0]] = np.arange(sizes[0])
    index[1, : sizes[1]] = np.arange(sizes[0], rows)
    c = CompiledRouter(
        tasks=("a",), matrix=matrix, index=index, sizes=sizes, group_names=("g0", "g1"),
        group_target=np.array([0, 1], dtype=np.intp), claims={}, fallback_types=(), threshold=0.0,
        k=3, descriptions=np.zeros((1, dim), np.float32), description_bonus=np.zeros(1, np.float32),
        neutral_types=(), type_groups={},
    )
    v = rng.standard_normal(dim).astype(np.float32)
    padded = np.append(matrix @ v, np.float32(-np.inf))[index]
    top = -np.partition(-padded, min(3, padded.shape[1]) - 1, axis=1)[:, : min(3, padded.shape[1])]
    expected = np.where(np.isfinite(top), top, 0.0).sum(axis=1) / np.minimum(sizes, 3)
    assert np.allclose(c.group_scores(v), expected.astype(np.float32), rtol=1e-6, atol=1e-6)
