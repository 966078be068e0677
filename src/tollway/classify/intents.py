"""What kind of work a request asks for, read off its opening words; and whether a conversation
asks for labels at all.

A sentence encoder hears topic: "translate to Spanish: 'your invoice is attached'" lands next to
a billing task, and a customer's own question next to a task that *labels* customer messages.
The verb that opens a request says what is wanted whatever the subject, so:

- ``intents`` maps the opening words of a request (after greetings, "please", "can you",
  "now", ...) to the library types they ask for, in English and a little French, German and
  Spanish. Like ``features.signals``, each one adds a bonus to that type's score, so it helps
  whichever task claims the type, and the fallback when no task does.
- ``asks_for_labels`` tells whether anything in a conversation (system prompt included, where
  pipelines put the instruction) asks to classify, categorise, label, tag or triage. A task whose
  description is itself about labelling texts scores its description's subject, not the act of
  labelling, so without such a cue it loses ``Settings.unasked_label_penalty``.
"""

from __future__ import annotations

import re

_GREETING = r"(?:hi|hey|hello|hiya|dear|good (?:morning|afternoon|evening))(?:\s+[\w.'-]+){0,2}\s*[,!:\n]"
"""A greeting with up to two words of address ("Hi team,", "Hello Anna!")."""
_LEAD_WORDS = (
    r"(?:hi|hey|hello|hiya|ok(?:ay)?|cool|great|thanks|thank you|thx|ty|perfect|nice|awesome|now|also|"
    r"and|so|then|please|pls|plz|kindly|quick(?:ly)?|quick one|just|"
    r"(?:can|could|would|will)\s+(?:you|u)(?:\s+please|\s+pls)?|"
    r"i\s+(?:need|want|would like|'d like)\s+(?:you\s+)?(?:to\s+)?|help\s+me(?:\s+to)?|let'?s|go ahead and)\b"
)
_LEAD_IN = re.compile(rf"^(?:[\W_]*(?:{_GREETING}|{_LEAD_WORDS}))+[\W_]*", re.I)
"""Greetings, politeness and connectives before the verb of a request."""

_FEW = r"(?:[\w'-]+,?\s+){0,3}?"
"""Up to three words between a verb and its object ("write a short upbeat email")."""

_KINDS = {
    "translation": (
        r"(?:translate|traduis|tradui[rst]|tradu[cz]|übersetz|ubersetz|put (?:this|that|it) "
        r"(?:in|into) (?:english|french|german|spanish|italian|portuguese|japanese|chinese))"
    ),
    "summarization": (
        r"(?:summari[sz]|sum (?:it |this |that )?up|tl;?dr|recap\b|condense|résum|resumir|resúm|"
        r"resume (?:este|esta|el|la|los|las|en)\b|fasse\b|zusammenfass|(?:give me|write|make)\s+"
        r"(?:me\s+)?(?:a|an|the)?\s*" + _FEW + r"(?:summary|gist|tl;?dr|recap)\b)"
    ),
    "extraction": (
        r"(?:extract|pull (?:out|all|every)|parse\b|grab (?:all|every|the)|list (?:all|every) "
        r"(?:the )?(?:dates|names|emails|amounts|numbers|ids|entities|people))"
    ),
    "editing": (
        r"(?:rewrite|re-write|rephrase|reword|paraphrase|proofread|proof-read|polish|shorten|"
        r"tighten|edit (?:this|that|my|the)|fix (?:the |my )?(?:grammar|spelling|typos|wording|tone)|"
        r"make (?:this|it|that) (?:sound )?(?:more|less|shorter|longer|friendlier|nicer|formal|"
        r"professional|polite|concise|clearer)|turn (?:this|that|it) into|reformul|umformulier|"
        r"korrigier|corrige)"
    ),
    "business-writing": (
        r"(?:write|draft|compose|prepare|create|redacta|escribe|schreib|rédige|écris)\s+"
        r"(?:me\s+|us\s+)?(?:a|an|the|some|\d+)?\s*" + _FEW + r"(?:e-?mails?|letters?|tweets?|posts?|"
        r"announcements?|job (?:posting|ad|description)s?|press releases?|newsletters?|memos?|"
        r"repl(?:y|ies)|slogans?|taglines?|ad copy|copy|landing page|bios?|cover letters?|"
        r"proposals?|captions?|descriptions?)\b"
    ),
    "creative-writing": (
        r"(?:write|compose|make up|tell me|escribe|écris|schreib)\s+(?:me\s+)?(?:a|an|some|\d+)?\s*"
        + _FEW
        + r"(?:poems?|story|stories|limericks?|haikus?|songs?|lyrics|jokes?|sonnets?|raps?|"
        r"fables?|tales?)\b"
    ),
    "brainstorming": (
        r"(?:brainstorm|come up with|(?:give me|suggest|list) (?:\d+|some|a few|a list of)\s+"
        + _FEW
        + r"(?:ideas|names|suggestions|options|titles|slogans|ways)\b|ideas for\b)"
    ),
    "code-generation": (
        r"(?:write|create|generate|give me|make|implement|build|code)\s+(?:me\s+)?(?:a|an|the|some)?"
        r"\s*" + _FEW + r"(?:script|function|program|class|regex|regular expression|snippet|code|"
        r"cli|bot|endpoint|unit tests?|(?:json |xml |database )?schema)\b"
    ),
    "sql-database": (
        r"(?:write|create|generate|give me)\s+(?:me\s+)?(?:a|an|the)?\s*" + _FEW + r"(?:sql|query|queries)\b"
    ),
    "text-classification": (
        r"(?:classify|classification|categori[sz]|label\b|lbl\b|tag\b|triage|bucket\b|"
        r"(?:which|what) (?:category|label|bucket|queue)|categor(?:y|ies)\s*[?:]|"
        r"sort (?:this|these|it|them) into)"
    ),
}
_KIND_RES = {kind: re.compile(pattern, re.I) for kind, pattern in _KINDS.items()}

HEAD_CHARS = 120
"""How much of a request, after its lead-in, the opening verb is looked for in."""


def request_head(text: str) -> str:
    """The opening of a request, after any greeting, politeness or connective."""
    return _LEAD_IN.sub("", text.strip()[:300], count=1)[:HEAD_CHARS]


def intents(text: str) -> dict[str, float]:
    """Library types (keys, each 1.0) that the request's opening words ask for."""
    head = request_head(text)
    return {kind: 1.0 for kind, pattern in _KIND_RES.items() if pattern.match(head)}


_LABEL_CUE = re.compile(
    r"(?:classif|categor|\blabel|\blbl\b|\btag\b|triage|\bbucket|kategor|catégor|clasific|"
    r"einordn|\bordne\b|\bsort (?:this|it|into|them)\b|which (?:queue|team|department|bucket|class)\b)",
    re.I,
)
CUE_CHARS = 4000
"""A cue is looked for in the head and the tail of each message: a request to label may come
before or after the text to label, and a 4 MB paste does not hold a decision up."""


def asks_for_labels(texts: list[str]) -> bool:
    """Whether any of ``texts`` (a conversation's system prompt and user turns) asks to
    classify, categorise, label, tag or triage."""
    for text in texts:
        if len(text) > CUE_CHARS:
            text = text[: CUE_CHARS // 2] + "\n" + text[-CUE_CHARS // 2 :]
        if _LABEL_CUE.search(text):
            return True
    return False


def describes_labelling(description: str) -> bool:
    """Whether a task description is about labelling texts (its own words ask for it)."""
    return bool(_LABEL_CUE.search(description))
