"""Cheap structural signals of a prompt, each tied to the library task type it is evidence for.

They add a small bonus to that type's score. Because types are mapped to a router's tasks at
compile time, the signals help whichever task claims the type, and the fallback when none does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .memo import text_memo

_LABEL_VERB = re.compile(
    r"\b(classify|classification|categori[sz]e|category|categories|label|tag|triage|"
    r"sentiment|intent|which (bucket|queue|team|department|class))\b",
    re.I,
)
# an explicit set of options: "a, b, c or d", "a | b | c", "[a, b, c]", "one of: ..."
_OPTION_LIST = re.compile(
    r"(\b[\w-]+\s*(,|\|)\s*[\w-]+\s*(,|\|)\s*(or\s+)?[\w-]+)|(\bone of\b)|(\bone (word|label)\b)"
    r"|(\b[\w-]+\s+or\s+[\w-]+\b\s*[?.:)\]])",
    re.I,
)
_CODE = re.compile(
    r"(```|^\s*(def|class|import|from\s+\S+\s+import|function|const|let|var|public|private|"
    r"#include|package|fn)\b|[;{}]\s*$|=>|\bself\.|\breturn\b\s+\w)",
    re.M,
)
_SQL = re.compile(r"\b(select|join|group\s+by|order\s+by|where|insert\s+into|sql|query)\b", re.I)
_SQL_STRONG = re.compile(r"\bselect\b[\s\S]{1,200}\bfrom\b|\bsql\b|\bgroup by\b|\bjoin\b", re.I)
_CHOICES = re.compile(r"(^|\n)\s*\(?[A-Da-d][).:]\s+\S", re.M)
_NUMBER = re.compile(r"(?<![\w.])[$€£]?\d[\d,]*(\.\d+)?%?")
_MATH_OP = re.compile(r"[=+*/^]|\bx\s*\d|\d\s*x\b|\b(solve|equation|integral|derivative|probability)\b", re.I)
_QUANT_Q = re.compile(r"\b(how (many|much|long|far|old)|what (is|was) the (total|sum|average|percent))", re.I)


# Signals read the head and tail of a long message: enough to see its shape, and a 4 MB prompt
# does not hold the event loop for a second of regular expressions.
SIGNAL_CHARS = 4000


def signals(text: str) -> dict[str, float]:
    """Evidence, in [0, 1], for library types (keys are type names)."""
    return dict(_signals(text))


@text_memo
def _signals(text: str) -> tuple[tuple[str, float], ...]:
    """``signals`` as pairs: remembered, so nothing a caller does can change it."""
    if len(text) > SIGNAL_CHARS:
        text = text[: SIGNAL_CHARS // 2] + "\n" + text[-SIGNAL_CHARS // 2 :]
    out: dict[str, float] = {}
    if _LABEL_VERB.search(text) and _OPTION_LIST.search(text):
        out["text-classification"] = 1.0
    if len(_CODE.findall(text)) >= 2:
        out["code-generation"] = 1.0
        out["code-debug-review"] = 1.0
    if _SQL_STRONG.search(text) and len(_SQL.findall(text)) >= 2:
        out["sql-database"] = 1.0
    if len(_CHOICES.findall(text)) >= 3:
        out["exam-question"] = 1.0
    numbers = len(_NUMBER.findall(text))
    if numbers >= 2 and (_QUANT_Q.search(text) or _MATH_OP.search(text)):
        out["math"] = 1.0 if numbers >= 3 else 0.5
    return tuple(out.items())


def bonuses(
    evidence: Mapping[str, float], type_groups: Mapping[str, tuple[int, ...]], weight: float
) -> dict[int, float]:
    """Group index -> score bonus for the groups of the types that ``evidence`` (type name ->
    strength, from ``signals`` or ``intents.intents``) points at."""
    return {g: weight * value for name, value in evidence.items() for g in type_groups.get(name, ())}
