"""Remembered text features (classify/memo.py): short texts once, long ones every time."""

from __future__ import annotations

from tollway.classify.memo import MAX_CHARS, text_memo


def test_a_short_text_is_computed_once_and_a_long_one_every_time() -> None:
    calls: list[str] = []

    @text_memo
    def length(text: str, extra: int = 0) -> int:
        calls.append(text)
        return len(text) + extra

    assert length("hello") == length("hello") == 5
    assert calls == ["hello"]
    assert length("hello", 1) == 6 and len(calls) == 2  # other arguments, another entry
    long = "x" * (MAX_CHARS + 1)
    assert length(long) == length(long) == MAX_CHARS + 1
    assert calls[2:] == [long, long]
    assert length.__name__ == "length"


def test_the_features_a_decision_reads_are_copies_callers_may_change() -> None:
    from tollway.classify.features import signals
    from tollway.classify.intents import intents

    first = intents("translate this: 'hola'")
    first["editing"] = 1.0
    assert intents("translate this: 'hola'") == {"translation": 1.0}
    sig = signals("def f(x):\n    return x + 1\nclass A:\n    pass")
    sig.clear()
    assert "code-generation" in signals("def f(x):\n    return x + 1\nclass A:\n    pass")


def test_other_arguments_are_part_of_the_key_and_long_texts_are_still_right() -> None:
    from tollway.classify.intents import asks_for_labels

    text = "is this billing or account: 'pls cancel my sub'"
    assert asks_for_labels(text) is False
    assert asks_for_labels(text, frozenset({"billing", "account"})) is True
    long = "x " * MAX_CHARS + "which queue should own this?"
    assert asks_for_labels(long) is True and asks_for_labels(long) is True
