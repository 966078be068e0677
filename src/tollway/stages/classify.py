"""Match the conversation to a task by meaning, unless a pin already fixed the task."""

from __future__ import annotations

from ..classify.base import Classifier
from ..pipeline import Call, Next, Reply


class Classify:
    def __init__(self, classifier: Classifier) -> None:
        self.classifier = classifier

    async def __call__(self, call: Call, next: Next) -> Reply:
        decision = call.decision
        if not decision.pinned:
            match = await self.classifier.classify(call.router, call.request.messages)
            decision.task = match.task
            decision.scores = dict(match.scores)
            decision.margin = match.margin
            decision.reason = match.explanation
        return await next(call)
