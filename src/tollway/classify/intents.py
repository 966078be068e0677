"""What kind of work a request asks for, read off its opening words; and whether a conversation
asks for labels at all.

A sentence encoder hears topic: "translate to Spanish: 'your invoice is attached'" lands next to
a billing task, and a customer's own question next to a task that *labels* customer messages.
The verb that opens a request says what is wanted whatever the subject, so:

- ``intents`` maps the opening of a request (after greetings, "please", "can you", "now", ...)
  to the library types it asks for, in English and a little French, German, Spanish and
  Portuguese. Like
  ``features.signals``, each adds a bonus to that type's score, so it helps whichever task
  claims the type, and the fallback when no task does. A verb that works on a given text
  (translate, summarise, extract, rewrite, classify) counts only when it points at one ("this",
  "the following", a colon, a quotation, pasted lines), so that "Translated invoices arrive
  garbled" or "Polish invoices show the wrong VAT" stay questions about a product; a verb that
  makes something counts with its object ("write a tweet", "draft an email", "write a script").
- ``asks_for_labels`` tells whether a text asks to classify, categorise, label or triage, offers
  a choice among two of a labelling task's own categories, or asks "positive or negative";
  ``label_request`` reads a conversation's system prompt, first and latest user turns (what the
  embedding reads) in that light. A task about labelling texts scores its description's
  subject, not the act of labelling, so it gains ``Settings.asked_label_bonus`` when labels are
  asked for and loses ``Settings.unasked_label_penalty`` when they are not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .memo import text_memo

GREETING_WORDS = (
    r"hi|hello|hey|hiya|dear|good (?:morning|afternoon|evening|day)|greetings|hola|bonjour|salut|"
    r"hallo|guten (?:morgen|tag)|buenos d[ií]as|thanks|thank you|cheers"
)
"""Words that open a greeting or a pleasantry (also used by ``embedding.split_instruction``)."""

_ADDRESSED = rf"(?:{GREETING_WORDS})(?:\s+[\w.'-]+){{0,2}}\s*[,!:\n]"
"""A greeting with up to two words of address: "Hi team,", "Hello Anna!"."""
_POLITE = (
    rf"(?:{GREETING_WORDS}|ok(?:ay)?|cool|great|thx|ty|perfect|nice|awesome|now|also|and|so|then|"
    r"ahora|agora|maintenant|jetzt|"
    r"please|pls|plz|kindly|quick(?:ly)?|quick one|just|por favor|bitte|s['\u2019]il (?:te|vous) pla[iî]t|"
    r"stp|(?:can|could|would|will)\s+(?:you|u)(?:\s+please|\s+pls)?|peux-tu|pouvez-vous|"
    r"puedes|podr[ií]as|i\s+(?:need|want)\s+(?:you\s+)?(?:to\s+)?|"
    r"i\s*(?:['\u2019]d|\s+would)\s+like\s+(?:you\s+)?(?:to\s+)?|help\s+me(?:\s+to)?|let['\u2019]?s|"
    r"go ahead and)\b"
)
_LEAD_IN = re.compile(rf"^[\W_]*(?:\d+[.)]\s*)?(?:(?:{_ADDRESSED}|{_POLITE})[\W_]*)*", re.I)
"""Markdown, list numbers, greetings, politeness and connectives before the verb of a request."""

_FEW = r"(?:[\w'-]+,?\s+){0,3}?"
"""Up to three words between a verb and its object ("write a short, upbeat email")."""
_DET = r"(?:me\s+|us\s+)?(?:a|an|the|some|\d+|two|three|four|five|ten|a few|a couple of)\s+"
"""What stands between a verb that makes something and its object: "write me a ...", "draft 3 ..."."""
_POINTS_AT = (
    r"(?=[^\n]{0,60}?(?:[:\u2192]|(?<!\w)['\"\u201c\u2018\u2019\u00ab])|[^\n]{0,60}\n|\S*(?:\s+[\w'-]+){0,3}?\s+"
    r"(?:this|that|these|those|it|them|the following|following|below|above|diesen|dieses|diese|"
    r"den folgenden|ce|cette|ces|le texte|este|esta|estos|estas|lo siguiente|esse|essa|isso|isto)\b)"
)
"""A verb's object is at hand: a colon, a quotation or a line break (the text follows) in the
rest of the line, or a deictic word among the next four."""

_LABEL_VERBS = r"classify|categori[sz]e|label|lbl|tag|triage|bucket|sort"
_ACTS = {
    "translation": (
        r"(?:translate|traduis|traduire|traduce|traducir|traduz|traduza|übersetze\w*|ubersetze\w*)\b"
    ),
    "summarization": (
        r"(?:summari[sz]e|sum (?:it |this |that )?up|tl;?dr|condense|boil \w+ down|fasse|"
        r"r[ée]sum[ea]|resumir)\b"
    ),
    "extraction": r"(?:extract|pull (?:out|all|every)|grab (?:all|every))\b",
    "editing": (
        r"(?:rewrite|re-write|rephrase|reword|paraphrase|proofread|proof-read|polish|shorten|tighten|"
        r"edit|reformulate|reformule|umformulieren|formuliere|korrigiere|corrige|correct)\b"
    ),
    "text-classification": rf"(?:(?:{_LABEL_VERBS})\b|(?:which|what) (?:category|label|bucket|queue)\b)",
}
"""Verbs that work on a text: they count when they point at one (``_POINTS_AT``)."""

_MAKES = {
    "summarization": r"(?:give me|write|make)\s+" + _DET + _FEW + r"(?:summary|gist|tl;?dr|recap)\b",
    "editing": (
        r"make (?:this|it|that|these)(?:\s+[\w-]+){0,2}\s+(?:sound )?(?:more|less|shorter|longer|"
        r"friendlier|nicer|formal|professional|polite|concise|clearer)\b|turn (?:this|that|it|these|"
        r"those|them)(?:\s+[\w-]+){0,2}\s+into\b|fix (?:the |my )?(?:grammar|spelling|typos|wording)\b"
    ),
    "business-writing": (
        r"(?:write|draft|compose|prepare|create|redacta|escribe|schreib\w*|rédige|écris)\s+" + _DET + _FEW
        + r"(?:e-?mails?|letters?|tweets?|posts?|announcements?|job (?:posting|ad|description)s?|"
        r"press releases?|newsletters?|memos?|repl(?:y|ies)|responses?|slogans?|taglines?|"
        r"(?:ad|marketing|product|sales|website) copy|landing page|bios?|cover letters?|proposals?|"
        r"captions?|descriptions?)\b"
    ),
    "creative-writing": (
        r"(?:write|compose|make up|tell me|escribe|écris|schreib\w*)\s+" + _DET + _FEW
        + r"(?:poems?|story|stories|limericks?|haikus?|songs?|lyrics|jokes?|sonnets?|raps?|fables?|"
        r"tales?)\b"
    ),
    "brainstorming": (
        r"(?:brainstorm|come up with)\b|(?:give me|suggest|list)\s+(?:\d+|some|a few|a list of)\s+"
        + _FEW
        + r"(?:ideas|names|suggestions|options|titles|slogans|ways)\b|ideas for\b"
    ),
    "code-generation": (
        r"(?:write|create|generate|give me|make|implement|build|code)\s+" + _DET + _FEW
        + r"(?:script|function|program|class|regex|regular expression|snippet|cli|bot|endpoint|"
        r"unit tests?|one-liner|(?:json |xml |database |db )?schema|(?:python|javascript|js|"
        r"typescript|bash|shell|java|go|rust|ruby|php|c#|c\+\+) code)\b"
    ),
    "sql-database": r"(?:write|create|generate|give me)\s+" + _DET + _FEW + r"(?:sql|query|queries)\b",
}
"""Verbs that make something: they count with their object."""

_KIND_RES = [
    *((kind, re.compile(act + _POINTS_AT, re.I)) for kind, act in _ACTS.items()),
    *((kind, re.compile(make, re.I)) for kind, make in _MAKES.items()),
    ("text-classification", re.compile(r"categor(?:y|ies)\s*[?:]", re.I)),
]

OPENING_CHARS = 120
"""How much of a request, after its lead-in, its opening verb is looked for in."""


def request_head(text: str) -> str:
    """The opening of a request, after any markdown, greeting, politeness or connective."""
    head = text[:400].strip()[:300]
    lead = _LEAD_IN.match(head)
    return head[lead.end() if lead else 0 :][:OPENING_CHARS]


def intents(text: str) -> dict[str, float]:
    """Library types (keys, each 1.0) that the request's opening words ask for."""
    return dict.fromkeys(_intents(text), 1.0)


@text_memo
def _intents(text: str) -> tuple[str, ...]:
    head = request_head(text)
    return tuple(kind for kind, pattern in _KIND_RES if pattern.match(head))


_CUE_STEMS = ("classif", "categor", "kategor", "catégor", "clasific", "einordn", "triag", "sentiment")
_VERB_NOUNS = ("label", "lbl", "tag", "bucket", "sort", "ordne")
"""Verbs that are also everyday nouns ("shipping label", "add a tag"): a cue only when they point
at something to label."""
_CUE_PHRASES = (
    *(
        f"{verb}{what}"
        for verb in _VERB_NOUNS
        for what in (" this", " these", " it", " each", " them", ":", " the following", " into")
    ),
    "which queue", "which team", "which department", "which bucket", "which class",
    "positive or negative", "spam or", "route this", "route it", "intent of", "intent:",
)
_KIND_OF = re.compile(
    r"(?:what|which) (?:kind|type|sort) of (?:issue|ticket|message|request|problem|query|case)\b"
)
CUE_CHARS = 1000
"""A cue is looked for in the head and the tail of a turn (half each): a request to label may
come before or after the text to label, and a 4 MB paste does not hold a decision up."""


def cue_text(turn: str) -> str:
    """The lower-cased head and tail of a turn, where a request for labels would be."""
    if len(turn) > CUE_CHARS:
        turn = f"{turn[: CUE_CHARS // 2]}\n{turn[-CUE_CHARS // 2 :]}"
    return turn.lower()


@text_memo
def asks_for_labels(text: str, categories: frozenset[str] = frozenset()) -> bool:
    """Whether ``text`` (from ``cue_text``) asks to classify, categorise, label or triage, or
    offers a choice among at least two of ``categories`` (a labelling task's own labels:
    "billing, bug, how-to or account?", "billing/bug?"). Substring tests first: tens of
    microseconds on the longest ``cue_text``."""
    if any(stem in text for stem in _CUE_STEMS) or any(p in text for p in _CUE_PHRASES):
        return True
    if "of " in text and _KIND_OF.search(text):
        return True
    if len(categories) < 2 or sum(c in text for c in categories) < 2:
        return False
    return any(len(choices(m) & categories) >= 2 for m in _CHOICES.findall(text))


_QUOTED = re.compile(
    r"(?<!\w)['\"\u201c\u2018\u00ab][^'\"\u201d\u2019\u00bb]{3,}['\"\u201d\u2019\u00bb](?!\w)"
)
"""A quotation in a turn: the text to label, pasted."""


def label_request(
    system: str, first: str, last: str, kinds: Iterable[str], categories: frozenset[str] = frozenset()
) -> bool | None:
    """Does a conversation ask for labels? ``system``, ``first`` and ``last`` are the ``cue_text``
    of its system prompt, first and latest user turns; ``kinds`` what the latest turn's opening
    asks for (``intents``). True when the system prompt or the latest turn asks (a pipeline's
    instruction makes whatever the user turn says the text to label). When only the first turn
    asked ("classify these for me"): False if the latest turn asks for another kind of work
    ("now translate that ticket"), True if it reads as material to label (quoted, or not a
    question), None (neither) if it is a question of its own."""
    if asks_for_labels(system, categories) or asks_for_labels(last, categories):
        return True
    if not (first and asks_for_labels(first, categories)):
        return False
    if any(kind != "text-classification" for kind in kinds):
        return False
    if _QUOTED.search(last) or not last.rstrip().endswith("?"):
        return True
    return None


def describes_labelling(description: str) -> bool:
    """Whether a task description is about labelling texts (its own words ask for it)."""
    return asks_for_labels(description.lower())


_CHOICES = re.compile(r"[\w-]+(?:\s*(?:,|/|\|)\s*(?:(?:or|and)\s+)?[\w-]+)+|[\w-]+\s+or\s+[\w-]+")
"""A list of options: "a, b, c or d", "a/b/c", "a or b"."""
_SEPARATORS = re.compile(r"\s*(?:,|/|\|)\s*(?:(?:or|and)\s+)?|\s+(?:or|and)\s+")


def choices(options: str) -> set[str]:
    """The options of a list ("a, b, c or d" -> {a, b, c, d})."""
    return {w for w in _SEPARATORS.split(options.lower()) if w}


def categories(description: str) -> frozenset[str]:
    """The labels a labelling task's description lists ("billing, bug, how-to, or account")."""
    found: set[str] = set()
    for options in _CHOICES.findall(description.lower()):
        if len(found_here := choices(options)) >= 3 or "," in options or "/" in options:
            found |= found_here
    return frozenset(found)
