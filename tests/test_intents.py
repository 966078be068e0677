"""What a request asks for, from its opening words (classify/intents.py), and how the embedded
classifier uses it: the kind of work beats the subject."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tollway.classify import EmbeddingClassifier, Settings, default_classifier
from tollway.classify.intents import asks_for_labels, describes_labelling, intents, request_head
from tollway.config import RouterConfig, load_config

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL: dict[str, Any] = json.loads((ROOT / "examples" / "tutorial-router.json").read_text("utf-8"))


@pytest.fixture(scope="module")
def clf() -> EmbeddingClassifier:
    return default_classifier()


@pytest.fixture(scope="module")
def tutorial() -> RouterConfig:
    return next(iter(load_config(TUTORIAL).routers.values()))


def user(text: str, system: str | None = None) -> list[dict[str, str]]:
    head = [{"role": "system", "content": system}] if system else []
    return [*head, {"role": "user", "content": text}]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("translate to spanish: 'your invoice is attached'", "translation"),
        ("Traduis en anglais : 'votre abonnement a été renouvelé'", "translation"),
        ("thx! can u translate that answer into german for my boss", "translation"),
        ("Fasse diesen Text in einem Satz zusammen: Das Update 4.2 ...", "summarization"),
        ("Hi team,\nplease summarize this thread in two lines", "summarization"),
        ("pull out all the dates from this: 'moved from 3/4 to 3/11'", "extraction"),
        ("rewrite this to sound more professional: 'hey we messed up'", "editing"),
        ("cool now turn that into 3 bullet points for a slide", "editing"),
        ("write a marketing email announcing our new pro plan", "business-writing"),
        ("Could you draft a short, upbeat tweet about the outage being over", "business-writing"),
        ("write me a limerick about login issues lol", "creative-writing"),
        ("give me 10 name ideas for a budgeting app", "brainstorming"),
        ("write a python script that reads tickets from a csv", "code-generation"),
        ("write a sql query to find customers with 3 failed payments", "sql-database"),
        ("categorize: app crashes when i upload a png", "text-classification"),
        ("category? 'can i pay by wire transfer'", "text-classification"),
    ],
)
def test_the_opening_words_name_the_kind_of_work(text: str, kind: str) -> None:
    assert kind in intents(text)


@pytest.mark.parametrize(
    "text",
    [
        "How do I change the email address on my account?",
        "why was i charged twice for march",
        "A train leaves at 3pm going 60 mph; when does it catch the one that left at 2?",
        "Our customers keep asking us to translate the app. Is that on the roadmap?",  # not opening
        "give me some advice on my resume",
        "resume my paused subscription please",  # English "resume" is not the Spanish verb
    ],
)
def test_questions_and_mentions_ask_for_no_kind_of_work(text: str) -> None:
    assert intents(text) == {}


def test_the_head_skips_greetings_and_politeness() -> None:
    assert request_head("Hey! Could you please summarize this?").startswith("summarize")
    assert request_head("ok now translate it").startswith("translate")
    assert len(request_head("x" * 10_000)) <= 120


def test_a_labelling_cue_is_found_anywhere_in_the_conversation() -> None:
    assert asks_for_labels(["You are a ticket triage bot.", "'2fa codes never arrive by sms'"])
    assert asks_for_labels(["ticket: 'export does nothing' -> category pls"])
    assert asks_for_labels(["Kategorie bitte: 'Rechnung falsch'"])
    assert not asks_for_labels(["Does the free plan include custom domains?"])
    # a long paste: the cue after it is still read, in bounded time
    assert asks_for_labels(["x " * 1_000_000 + "\nwhich queue should own this?"])


def test_a_task_describes_labelling_in_its_own_words() -> None:
    assert describes_labelling(TUTORIAL["policies"][0]["custom_task"]["description"])
    assert not describes_labelling(TUTORIAL["policies"][1]["custom_task"]["description"])


def test_a_request_for_another_kind_of_work_about_the_same_subject_is_not_the_task(
    clf: EmbeddingClassifier, tutorial: RouterConfig
) -> None:
    # each of these is about billing or support, which the tutorial's tasks are about too
    for text in (
        "translate to spanish: 'your invoice is attached, thanks for your business'",
        "write a tweet saying our status page is back up and sorry for the outage",
        "rewrite this to sound more professional: 'hey we messed up ur billing, sorry, will fix'",
        "extract order id, email and amount from: 'hi, order 88-1923 charged 49.99 to jen@foo.io twice'",
    ):
        assert clf.decide(tutorial, user(text)).task is None, text


def test_a_labelling_task_needs_a_request_for_labels(
    clf: EmbeddingClassifier, tutorial: RouterConfig
) -> None:
    question = "Does Invoicely support multiple currencies on one account? I bill clients in GBP and EUR."
    assert clf.decide(tutorial, user(question)).task == "customer-qa"
    plain = EmbeddingClassifier(
        embedder=clf.embedder, settings=Settings(unasked_label_penalty=0.0, intent_weight=0.0)
    )
    assert plain.decide(tutorial, user(question)).task == "classify"  # what the penalty fixes
    # the same text under a pipeline's instruction to label it is the labelling task
    system = "You triage support tickets. Reply with one of: billing, bug, how-to, account."
    assert clf.decide(tutorial, user(question, system)).task == "classify"


def test_the_penalty_is_shown_and_falls_on_labelling_tasks_only(
    clf: EmbeddingClassifier, tutorial: RouterConfig
) -> None:
    question = user("Does merging two tickets notify the end customer?")
    _, scores, via = clf.scores(tutorial, question)
    _, before, _ = EmbeddingClassifier(
        embedder=clf.embedder, settings=Settings(unasked_label_penalty=0.0)
    ).scores(tutorial, question)
    assert "no labels asked=-0.3000" in via["classify"]
    assert before["classify"] - scores["classify"] == pytest.approx(0.3, abs=1e-3)
    assert all("no labels asked" not in via[t] for t in ("customer-qa", "reasoning", "fallback"))
    assert before["customer-qa"] == scores["customer-qa"]
    _, _, asked = clf.scores(tutorial, user("label this ticket: does merging two tickets notify anyone?"))
    assert "no labels asked" not in asked["classify"]


def test_the_compiled_router_names_its_labelling_tasks(
    clf: EmbeddingClassifier, tutorial: RouterConfig
) -> None:
    lines = clf.explain_router(tutorial).splitlines()
    assert lines[0].startswith("classify: text-classification") and "needs a request for labels" in lines[0]
    assert not any("labels" in line for line in lines[1:])
