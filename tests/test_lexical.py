"""Word overlap between a prompt and the task descriptions (classify/lexical.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tollway.classify import EmbeddingClassifier, Settings, default_classifier
from tollway.classify.lexical import HEAD_CHARS, DescriptionWords, Idf, content_words, overlaps, stem
from tollway.config import load_config

ONCALL = Path(__file__).resolve().parents[1] / "examples" / "routers" / "platform-oncall.yaml"


def test_content_words_drop_function_words_and_stem() -> None:
    words = content_words("Requests to write status page updates, including the incidents.")
    assert words == {"status", "pag", "updat", "incident"}
    for forms in ("update updates updated updating", "query queries", "box boxes", "rule rules"):
        assert len({stem(w) for w in forms.split()}) == 1, forms
    assert stem("status") == "status" and stem("process") == "process" and stem("analysis") == "analysis"


def test_rare_words_weigh_more() -> None:
    idf = Idf(["the outage page", "a page of text", "another page", "logs from the outage"])
    w = idf.description("status page outage").weights
    assert w["status"] > w["outag"] > w["pag"] > 0


def test_overlaps_are_centred_and_ignore_prompts_sharing_nothing() -> None:
    descs = [
        DescriptionWords({"status": 2.0, "pag": 1.0}, 3.0),
        DescriptionWords({"log": 1.0, "trac": 1.0}, 2.0),
    ]
    assert overlaps("status pages, please", descs) == [0.5, -0.5]
    assert overlaps("the status, please", descs) == pytest.approx([1 / 3, -1 / 3])
    assert overlaps("Bonjour, ça va ?", descs) == [0.0, 0.0]
    assert overlaps("x" * HEAD_CHARS + " status page", descs) == [0.0, 0.0]  # only the head is read


def test_the_classifier_adds_the_weighed_overlap_to_each_task() -> None:
    router = next(iter(load_config(ONCALL).routers.values()))
    prompt = "Draft the 'resolved' status page post for the login outage, all users affected."
    messages = [{"role": "user", "content": prompt}]
    on = default_classifier()
    off = EmbeddingClassifier(embedder=on.embedder, settings=Settings(lexical_weight=0.0))
    words = on.compiled(router).description_words
    expected = overlaps(prompt, words)
    got_on, got_off = on.decide(router, messages), off.decide(router, messages)
    for task, share in zip(router.task_names, expected, strict=True):
        assert got_on.scores[task] - got_off.scores[task] == pytest.approx(share, abs=2e-4)
    assert got_on.scores["fallback"] == got_off.scores["fallback"]
    assert expected[router.task_names.index("incident-comms")] == max(expected) > 0


def test_routers_not_in_english_get_no_overlap() -> None:
    idf = Idf(["write the status page post", "what do these logs say"])
    english = ["Requests to write status page updates.", "Requests that paste logs and ask for the cause."]
    assert len(idf.router(english)) == 2
    french = ["Questions sur le montant de la facture.", "Traduire des textes du français vers l'anglais."]
    assert idf.router(french) == ()
    assert idf.router(["Code review", "SQL queries"]) == ()  # bare labels: the encoder decides alone


def test_the_overlap_reads_the_instruction_not_the_pasted_material() -> None:
    router = next(iter(load_config(ONCALL).routers.values()))
    logs = "\n".join(f"12:0{i}:01 checkout-api status page check failed: upstream 502" for i in range(6))
    prompt = f"Why did checkout-api start returning 502s? Here are the logs:\n{logs}"
    on = default_classifier()
    off = EmbeddingClassifier(embedder=on.embedder, settings=Settings(lexical_weight=0.0))
    messages = [{"role": "user", "content": prompt}]
    with_words, without = on.decide(router, messages), off.decide(router, messages)
    assert with_words.task == without.task == "log-triage", with_words.explanation
