"""What a request asks for, from its opening words (classify/intents.py), and how the embedded
classifier uses it: the kind of work beats the subject."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tollway.classify import EmbeddingClassifier, Settings, default_classifier
from tollway.classify.intents import (
    asks_for_labels,
    categories,
    cue_text,
    describes_labelling,
    intents,
    label_request,
    request_head,
)
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
        ("give me a two-line summary of the call", "summarization"),
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
        ("**Summarize** the following notes", "summarization"),
        ("1. Translate this into French", "translation"),
        ("I'd like you to translate this", "translation"),
        ("Make this email sound friendlier", "editing"),
        ("Turn these notes into a memo", "editing"),
        ("Write a bash one-liner to count files", "code-generation"),
        ("lbl this for the queue: webhooks firing twice", "text-classification"),
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
        # customers' questions and bug reports that open with a verb-like noun: no object at hand
        "Polish invoices show the wrong VAT rate, why?",
        "Edit the invoice after sending it, is that possible?",
        "Give me a new code please, the 2fa sms never arrived",
        "Recap: I paid twice and nobody answered",
        "Parse error when importing my CSV of contacts",
        "Create a copy of my last invoice?",
        "Translated invoices arrive garbled in Outlook",
        "Shorten my billing cycle to monthly?",
        "Tag not showing on my invoices",
        "What category should I pick for a refund request in your form?",
        "I need to translate our invoices into French - which plan supports that?",
        "Can you extract line items from uploaded PDF receipts?",
        "Could you label invoices by client automatically?",
        "Draft emails aren't saving",
        "Label printer not working",
        "Triage queue is empty since Monday",
        "Corrige el error de facturación",
        "Edit the invoice, can't I?",
        "list all the phone numbers on my account, I want to remove the old one",
    ],
)
def test_questions_and_mentions_ask_for_no_kind_of_work(text: str) -> None:
    assert intents(text) == {}


def test_the_head_skips_greetings_and_politeness() -> None:
    assert request_head("Hey! Could you please summarize this?").startswith("summarize")
    assert request_head("ok now translate it").startswith("translate")
    assert request_head("Bonjour, pouvez-vous traduire ceci").startswith("traduire")
    assert request_head("- **Rewrite** this") == "Rewrite** this"
    assert request_head("x" * 10_000) == "x" * 120


def test_a_labelling_cue_is_found_in_what_the_classifier_reads() -> None:
    assert asks_for_labels(cue_text("You are a ticket triage bot.\n'2fa codes never arrive by sms'"))
    assert asks_for_labels(cue_text("ticket: 'export does nothing' -> category pls"))
    assert asks_for_labels(cue_text("Kategorie bitte: 'Rechnung falsch'"))
    assert asks_for_labels(cue_text("Is this review positive or negative? 'Loved it.'"))
    assert not asks_for_labels(cue_text("Does the free plan include custom domains?"))
    # a long paste: the cue after it is still read
    assert asks_for_labels(cue_text("x " * 1_000_000 + "\nwhich queue should own this?"))
    assert len(cue_text("x" * 1_000_000)) < 3000


def test_a_choice_among_the_tasks_own_categories_asks_for_labels() -> None:
    labels = categories(TUTORIAL["policies"][0]["custom_task"]["description"])
    assert labels == {"billing", "bug", "how-to", "account"}
    assert asks_for_labels(cue_text("billing, bug, how-to or account? 'I can't log in'"), labels)
    assert asks_for_labels(cue_text("is this billing or account lol: 'pls cancel my sub'"), labels)
    # naming two of them in passing is a customer's question, not a choice
    assert not asks_for_labels(cue_text("Does deleting a workspace stop billing for my account?"), labels)
    assert not asks_for_labels(cue_text("can i pay by card or wire?"), labels)


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
    assert before["customer-qa"] == pytest.approx(scores["customer-qa"])
    _, _, asked = clf.scores(tutorial, user("label this ticket: does merging two tickets notify anyone?"))
    assert "no labels asked" not in asked["classify"] and "labels asked=0.2000" in asked["classify"]


def test_a_cue_in_the_first_turn_or_the_system_prompt_counts(
    clf: EmbeddingClassifier, tutorial: RouterConfig
) -> None:
    conversation = [
        {"role": "user", "content": "Classify these tickets for me, one at a time."},
        {"role": "assistant", "content": "Sure, send the first one."},
        {"role": "user", "content": [{"type": "text", "text": "next: 'how do i set up recurring tasks'"}]},
    ]
    _, _, via = clf.scores(tutorial, conversation)
    assert "no labels asked" not in via["classify"] and "labels asked" in via["classify"]
    assert clf.decide(tutorial, conversation).task == "classify"
    pipeline = [{"role": "system", "content": "Triage each message."}, {"role": "user", "content": None}]
    _, _, via = clf.scores(tutorial, pipeline)
    assert "labels asked=0.2000" in via["classify"]


def test_whether_labels_were_asked_for_reads_the_turns_in_order() -> None:
    def ask(system: str, first: str, last: str) -> bool | None:
        return label_request(cue_text(system), cue_text(first), cue_text(last), intents(last))

    # a pipeline's instruction makes whatever the user sends the text to label
    triage = "Triage each message into billing, bug, how-to or account. Reply with the label only."
    assert ask(triage, "", "rewrite this invoice: the VAT line is wrong") is True
    assert ask("", "", "Summarize and classify this ticket: 'app crashes'") is True
    # asked in the first turn: a pasted ticket is to label, other work is not, a question is neither
    first = "Classify these tickets for me, one at a time."
    assert ask("", first, "next: 'how do i set up recurring tasks'") is True
    assert ask("", first, "the export button does nothing since Tuesday") is True
    assert ask("", first, "thanks! now write a short apology email to that customer") is False
    assert ask("", first, "unrelated, how do I add a second user to my own workspace?") is None
    assert ask("", "", "how do I add a second user to my workspace?") is False


@pytest.mark.parametrize(
    ("conversation", "route"),
    [
        (
            [
                {"role": "system", "content": "Triage each message: billing, bug, how-to or account."},
                {"role": "user", "content": "rewrite this invoice: the VAT line is wrong, the total is off"},
            ],
            "classify",
        ),
        (
            [
                {"role": "user", "content": "Classify this ticket: 'I was charged twice in March'"},
                {"role": "assistant", "content": "billing"},
                {"role": "user", "content": "thanks. unrelated, how do I add a second user to my workspace?"},
            ],
            "customer-qa",
        ),
        (
            [
                {"role": "user", "content": "Classify this ticket: 'I was charged twice in March'"},
                {"role": "assistant", "content": "billing"},
                {"role": "user", "content": "thanks! now write a short apology email to that customer"},
            ],
            None,
        ),
    ],
)
def test_conversations_that_asked_for_labels_once(
    clf: EmbeddingClassifier, tutorial: RouterConfig, conversation: list[dict[str, str]], route: str | None
) -> None:
    assert clf.decide(tutorial, conversation).task == route


def test_the_label_bonus_and_penalty_can_be_turned_off(
    clf: EmbeddingClassifier, tutorial: RouterConfig
) -> None:
    off = EmbeddingClassifier(
        embedder=clf.embedder, settings=Settings(asked_label_bonus=0.0, unasked_label_penalty=0.0)
    )
    for text in ("label this ticket: 'refund please'", "Does the free plan include custom domains?"):
        _, _, via = off.scores(tutorial, user(text))
        assert "labels asked" not in via["classify"]


def test_a_router_of_labelling_tasks_only_is_not_penalised(clf: EmbeddingClassifier) -> None:
    body = {
        "name": "labels-only",
        "policies": [
            {
                "custom_task": {
                    "name": "triage",
                    "description": "Classify a support ticket as billing, bug, how-to or account.",
                },
                "models": ["openai-gpt-oss-20b"],
            },
            {
                "custom_task": {
                    "name": "sentiment",
                    "description": "Label a review's sentiment as positive, neutral or negative.",
                },
                "models": ["openai-gpt-oss-20b"],
            },
        ],
        "fallback_models": ["llama3.3-70b-instruct"],
    }
    router = next(iter(load_config(body).routers.values()))
    compiled = clf.compiled(router)
    assert compiled.labelling == ()
    _, _, via = clf.scores(router, user("I was charged twice for March"))
    assert not any("no labels asked" in v for v in via.values())


def test_the_opening_words_are_shown_and_can_be_turned_off(
    clf: EmbeddingClassifier, tutorial: RouterConfig
) -> None:
    text = user("translate to spanish: 'your invoice is attached, thanks for your business'")
    m = clf.decide(tutorial, text)
    assert m.task is None and "opening words +0.30" in m.explanation
    off = EmbeddingClassifier(embedder=clf.embedder, settings=Settings(intent_weight=0.0))
    _, scores, via = off.scores(tutorial, text)
    assert "opening words" not in via["fallback"]
    assert m.scores["fallback"] - scores["fallback"] == pytest.approx(0.3, abs=0.05)


def test_the_compiled_router_names_its_labelling_tasks(
    clf: EmbeddingClassifier, tutorial: RouterConfig
) -> None:
    lines = clf.explain_router(tutorial).splitlines()
    assert lines[0].startswith("classify: text-classification") and "needs a request for labels" in lines[0]
    assert not any("labels" in line for line in lines[1:])


@pytest.mark.parametrize(
    ("text", "route"),
    [
        ("Polish invoices show the wrong VAT rate, why?", "customer-qa"),
        ("Translated invoices arrive garbled in Outlook", "customer-qa"),
        ("Edit the invoice after sending it, is that possible?", "customer-qa"),
        ("I need to translate our invoices into French - which plan supports that?", "customer-qa"),
        ("Tag not showing on my invoices", "customer-qa"),
        ("billing, bug, how-to or account? 'I can't log in after the update'", "classify"),
        ("What kind of issue is this: 'I was charged twice this month'", "classify"),
    ],
)
def test_questions_that_sound_like_instructions_route_by_what_they_ask(
    clf: EmbeddingClassifier, tutorial: RouterConfig, text: str, route: str
) -> None:
    """Cases an independent review found misrouted by the first version of the intents."""
    assert clf.decide(tutorial, user(text)).task == route
