"""The built-in library of task types: words that describe each type, and prompts that are one.

``task_types.yaml`` is written for tollway; ``public_exemplars.jsonl`` holds prompts taken from
public datasets (licences and attribution in ``data/ATTRIBUTION.md``). A router's task
descriptions are matched to these types when the router is compiled; the types' prompts then
stand in as the task's neighbours, and the types no task claims stand for the fallback.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..once import once

DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class TaskType:
    name: str
    descriptions: tuple[str, ...]
    examples: tuple[str, ...]
    sources: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class Library:
    types: tuple[TaskType, ...]

    def __post_init__(self) -> None:
        names = [t.name for t in self.types]
        if len(set(names)) != len(names):
            raise ValueError("task type names in a library must be unique")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.types)

    def without_sources(self, prefixes: Iterable[str]) -> Library:
        """A copy without the exemplars whose source starts with any of ``prefixes`` (for
        leave-one-source-out evaluation)."""
        drop = tuple(prefixes)
        types = []
        for t in self.types:
            kept = [
                (e, s) for e, s in zip(t.examples, t.sources, strict=True) if not (s and s.startswith(drop))
            ]
            types.append(
                TaskType(t.name, t.descriptions, tuple(e for e, _ in kept), tuple(s for _, s in kept))
            )
        return Library(tuple(types))

    def key(self) -> str:
        import hashlib

        h = hashlib.sha256()
        for t in self.types:
            h.update(t.name.encode())
            for text in t.descriptions + t.examples:
                h.update(b"\0" + text.encode())
        return h.hexdigest()[:16]


@once
def default_library() -> Library:
    """The packaged library, parsed once per process."""
    written = yaml.safe_load((DATA / "task_types.yaml").read_text("utf-8"))
    examples: dict[str, list[tuple[str, str]]] = {
        name: [(text, "") for text in body.get("examples", [])] for name, body in written.items()
    }
    with (DATA / "public_exemplars.jsonl").open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if row["type"] not in examples:
                raise ValueError(f"public exemplar of unknown type {row['type']!r}")
            examples[row["type"]].append((row["text"], row["source"]))
    for name, body in written.items():
        for text in [*body["descriptions"], *body.get("examples", [])]:
            if not isinstance(text, str):
                raise ValueError(f"task type {name!r}: {text!r} is not a string (quote it)")
    types = tuple(
        TaskType(
            name=name,
            descriptions=tuple(body["descriptions"]),
            examples=tuple(text for text, _ in examples[name]),
            sources=tuple(source for _, source in examples[name]),
        )
        for name, body in written.items()
    )
    return Library(types)

