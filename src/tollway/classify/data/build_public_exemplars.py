"""Rebuild public_exemplars.jsonl from the public samples (see ATTRIBUTION.md).

    python src/tollway/classify/data/build_public_exemplars.py ../shared/eval

Deterministic. Every text that occurs in ``routing-dev.jsonl`` (as a whole message or inside a
message) is left out, so the library never contains an evaluation prompt. Not imported at run time.
"""

from __future__ import annotations

import json
import random
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

# Wrappers written for tollway (deliberately unlike any evaluation template): they turn a short
# message into a classification request, with label sets that vary.
WRAPPERS = [
    "Route this ticket to one queue - cards, transfers, fraud or other - and answer with the "
    "queue name.\n\n{t}",
    "Sentiment of the following customer message (positive/negative/neutral)?\n{t}",
    "Pick the intent for this chat message from [refund, lost_card, fees, technical_issue, other]: {t}",
    "Tag with one topic label only (payments | security | onboarding | general).\nInput: {t}",
    "Decide if this message is a complaint or a question. Respond with one word.\n> {t}",
    "Annotate the user query below with its category (hardware, software, network, account).\nQuery: {t}",
    "Here's a message from our inbox: {t}\nWhich team owns it: Payments, Risk, or Customer Care?",
    "Assign a severity (P1, P2, P3) to the following request and output just the severity: {t}",
]

MMLU_MATH = {
    "abstract_algebra",
    "college_mathematics",
    "elementary_mathematics",
    "high_school_mathematics",
    "high_school_statistics",
    "econometrics",
}
MMLU_LOGIC = {"formal_logic", "logical_fallacies"}


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def main(eval_dir: Path) -> None:
    public = eval_dir / "public"
    dev_texts = [
        norm(m["content"])
        for line in (eval_dir / "routing-dev.jsonl").open()
        for m in json.loads(line)["messages"]
    ]
    dev_blob = "\n".join(dev_texts)

    def in_dev(text: str) -> bool:
        return norm(text) in dev_blob

    def load(name: str) -> list[dict[str, Any]]:
        rows = [json.loads(line) for line in (public / f"{name}.jsonl").open()]
        return [r for r in rows if not in_dev(r["text"])]

    rnd = random.Random(7)
    out: list[dict[str, str]] = []

    def add(kind: str, rows: list[dict[str, Any]], cap: int, text_key: str = "text") -> None:
        rows = list(rows)
        rnd.shuffle(rows)
        for r in rows[:cap]:
            out.append({"type": kind, "text": r[text_key].strip(), "source": r["source"]})

    banking = load("banking77_test")
    by_label: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in banking:
        by_label[r["label"]].append(r)
    one_each = [rnd.choice(v) for _, v in sorted(by_label.items())]
    add("account-support", one_each, 77)
    rest = [r for r in banking if r not in one_each]
    rnd.shuffle(rest)
    for i, r in enumerate(rest[:32]):
        text = WRAPPERS[i % len(WRAPPERS)].format(t=r["text"].strip())
        out.append({"type": "text-classification", "text": text, "source": r["source"]})

    se = load("stackexchange_intents")
    ubuntu = [r for r in se if r["meta"].get("corpus") == "AskUbuntuCorpus"]
    add("tech-howto", ubuntu, 50)
    web = [r for r in se if r["meta"].get("corpus") != "AskUbuntuCorpus" and len(r["text"]) > 12]
    add("tech-howto", web, 10)

    add("math", load("gsm8k_test"), 50)
    mmlu = load("routellm_mmlu_correctness_sample")

    def subject(r: dict[str, Any]) -> str:
        return str(r["label"]).removeprefix("mmlu_")

    add("math", [r for r in mmlu if subject(r) in MMLU_MATH], 30)
    add("logic-reasoning", [r for r in mmlu if subject(r) in MMLU_LOGIC], 12)
    add("exam-question", [r for r in mmlu if subject(r) not in MMLU_MATH | MMLU_LOGIC], 35)

    rb = load("routerbench_subset_arc_mbpp_winogrande")
    add("exam-question", [r for r in rb if r["label"] == "arc-challenge"], 25)
    add("exam-question", [r for r in rb if r["label"] == "winogrande"], 10)
    add("code-generation", [r for r in rb if r["label"] == "mbpp"], 40)
    add("code-generation", load("humaneval"), 40)

    dolly = load("dolly15k_sample")
    cls_words = re.compile(r"\b(classify|which|identify|tell me whether|tell me which|categor)", re.I)
    add(
        "text-classification",
        [r for r in dolly if r["label"] == "classification" and cls_words.search(r["text"])],
        30,
    )
    ext_words = re.compile(r"\b(extract|list|from the (passage|text|paragraph))", re.I)
    add(
        "extraction",
        [r for r in dolly if r["label"] == "information_extraction" and ext_words.search(r["text"])],
        20,
    )
    add("brainstorming", [r for r in dolly if r["label"] == "brainstorming"], 30)
    add("creative-writing", [r for r in dolly if r["label"] == "creative_writing"], 20)
    summ = [r for r in dolly if r["label"] == "summarization"]
    add("summarization", [r for r in summ if re.search(r"summar|aspects|facts", r["text"], re.I)], 20)
    qa = [r for r in dolly if r["label"] in ("open_qa", "general_qa", "closed_qa")]
    qa += [r for r in summ if not re.search(r"summar|aspects|facts", r["text"], re.I)]
    add("general-knowledge", qa, 40)

    mt = load("mt_bench_questions")
    add("general-knowledge", [r for r in mt if r["label"] == "stem"], 10)

    path = HERE / "public_exemplars.jsonl"
    with path.open("w") as f:
        for row in out:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    counts: dict[str, int] = defaultdict(int)
    for row in out:
        counts[row["type"]] += 1
    print(path.name, len(out), dict(counts))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/eval"))
