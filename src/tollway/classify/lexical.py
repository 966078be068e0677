"""Words a prompt shares with a task description, weighed by how rare they are.

The sentence encoder's similarity is mostly topical: "Draft the 'resolved' status page post for
the login outage" lands nearer "find the root cause in these logs" than "write status page
updates", because the outage is what the text is about. When the prompt echoes a description's
own words, that is evidence the encoder misses. A task's *overlap* is the share of its
description's content words (stop words out, crude English stemming, each word weighed by its
inverse document frequency over the library's exemplars) that the latest user turn contains.
Overlaps are centred across a router's tasks before they are added, so a prompt that shares
nothing with any description (another language, small talk) is left as the encoder scored it.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .memo import text_memo

_WORD = re.compile(r"[^\W\d_][^\W_]+")

_STOP = (
    "a an the and or of to for in on with from by as at is are be this that these those it its "
    "their them they such example examples including include includes eg etc any other about "
    "into out up down how what which who whom when where why request requests ask asks asking "
    "user users question questions help task tasks want wants need needs write writing draft "
    "drafting make making get give"
)
STOP_WORDS = frozenset(_STOP.split())
"""Function words, and the words every task description uses ("requests to write ...")."""

HEAD_CHARS = 2000
"""Only the head of a turn is read, here and by ``split_instruction``: pasted material further
down says little about the task, and a decision never waits on a long turn's text."""


def stem(word: str) -> str:
    """A crude English stem, the same for the forms a request and a description use:
    update / updates / updated / updating, query / queries, box / boxes, status (kept)."""
    w = word
    if len(w) > 5 and w.endswith("ing"):
        w = w[:-3]
    elif len(w) > 4 and w.endswith("ed"):
        w = w[:-2]
    elif len(w) > 4 and w.endswith("ies"):
        w = w[:-3] + "y"
    elif len(w) > 4 and w.endswith(("ses", "xes", "zes", "ches", "shes")):
        w = w[:-2]
    elif len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]
    return w


def _content_words(text: str) -> frozenset[str]:
    return frozenset(stem(w) for w in set(_WORD.findall(text.lower())) if w not in STOP_WORDS)


content_words = text_memo(_content_words)
"""The stemmed content words of a text (remembered for short texts: prompts repeat)."""


def english_share(text: str) -> float:
    """The share of ``text``'s words that are English function words (about a third in an
    English task description, next to none in a French or German one)."""
    words = _WORD.findall(text.lower())
    return sum(w in STOP_WORDS for w in words) / len(words) if words else 0.0


ENGLISH_SHARE = 0.10
"""Task descriptions with fewer English function words than this, all taken together, are taken
for another language (the English ones of 55 routers: 0.15 and up, each alone)."""


@dataclass(frozen=True)
class DescriptionWords:
    weights: Mapping[str, float]
    """Each content word (stemmed) and its weight."""
    total: float


class Idf:
    """Inverse document frequencies over a corpus (the library's exemplars)."""

    def __init__(self, corpus: Iterable[str]) -> None:
        docs = [_content_words(t) for t in corpus]  # the library: read once, not worth keeping
        self.size = len(docs)
        self.frequency = Counter(w for d in docs for w in d)

    def description(self, text: str) -> DescriptionWords:
        n = self.size
        weights = {w: math.log((n + 1) / (self.frequency.get(w, 0) + 1)) for w in content_words(text)}
        return DescriptionWords(weights, sum(weights.values()))

    def router(self, descriptions: Sequence[str]) -> tuple[DescriptionWords, ...]:
        """The words of a router's task descriptions; none when they are not in English (the stop
        words and the stemming are English: a router in another language, or of bare labels
        such as "Code review", is left as the encoder scores it)."""
        if english_share(" ".join(descriptions)) < ENGLISH_SHARE:
            return ()
        return tuple(self.description(d) for d in descriptions)


def overlaps(prompt: str, descriptions: Sequence[DescriptionWords]) -> list[float]:
    """For each description, the weighed share of its words found in ``prompt``'s head, minus
    the mean over descriptions (all zero for a single task)."""
    words = content_words(prompt[:HEAD_CHARS])
    shares = [sum(x for w, x in d.weights.items() if w in words) / (d.total or 1.0) for d in descriptions]
    mean = sum(shares) / (len(shares) or 1)
    return [s - mean for s in shares]
