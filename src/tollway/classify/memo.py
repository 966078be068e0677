"""Remembered text features: a decision reads the same system prompts and repeated requests
again and again, and its regular expressions and word lists cost more than a dictionary lookup.

``text_memo`` wraps a pure function whose first argument is a text (the rest hashable) in an LRU,
like the embedder's cache of vectors; texts longer than ``MAX_CHARS`` are not kept (a pasted
document is not worth holding, and is rarely sent twice). Wrapped functions must return values
nobody mutates (tuples, frozensets, strings), or copy them on the way out.

Like the embedder's cache, this keeps the texts of recent requests in memory (up to ``SIZE`` per
wrapped function, per process): about 2 MB per function for typical prompts, 10-30 MB for the
word sets of ``lexical.content_words`` at worst (1,024 texts of 2,000 characters).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar, cast

P = ParamSpec("P")
T = TypeVar("T")

MAX_CHARS = 2000
SIZE = 1024


def text_memo(fn: Callable[Concatenate[str, P], T]) -> Callable[Concatenate[str, P], T]:
    """``fn``, remembering the results for its last ``SIZE`` short texts."""
    cached = functools.lru_cache(maxsize=SIZE)(fn)

    def call(text: str, *args: P.args, **kwargs: P.kwargs) -> T:
        if len(text) > MAX_CHARS:
            return fn(text, *args, **kwargs)
        return cached(text, *args, **kwargs)  # type: ignore[arg-type]  # the arguments of a memoised function are hashable

    return cast(Callable[Concatenate[str, P], T], functools.wraps(fn)(call))
