"""Static rules: a regular expression per task, first match in the router's task order wins.

For deterministic routing where meaning is not needed (tests, tenants with fixed traffic), and as
a cheap first step in a cascade.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..config import RouterConfig
from .base import Match, Messages


class RulesClassifier:
    def __init__(self, patterns: Mapping[str, str], *, last_user_only: bool = False) -> None:
        self.patterns = {task: re.compile(p, re.IGNORECASE) for task, p in patterns.items()}
        self.last_user_only = last_user_only

    async def classify(self, router: RouterConfig, messages: Messages) -> Match:
        text = self._text(messages)
        for task in router.task_names:
            pattern = self.patterns.get(task)
            if pattern is not None and pattern.search(text):
                return Match(task, {task: 1.0}, 1.0, f"rule for {task!r} matched /{pattern.pattern}/")
        return Match(None, {}, 0.0, "no rule matched")

    def _text(self, messages: Messages) -> str:
        users = [m.get("content") for m in messages if m.get("role") == "user"]
        texts = [c for c in users if isinstance(c, str)]
        return texts[-1] if self.last_user_only and texts else "\n".join(texts)
