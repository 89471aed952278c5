"""Feedback: a durable store of what users said, and the update that makes the next run reflect it.

``FeedbackStore`` (SQLAlchemy) is imported on first use, so the pipeline can apply feedback
without loading the database layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from genre.feedback.apply import apply_feedback
from genre.feedback.events import EVENT_KINDS, ITEM_KINDS, REASON_KINDS, FeedbackEvent, check_event

if TYPE_CHECKING:
    from genre.feedback.store import EventFilter, FeedbackStore, GeneratorAcceptance

__all__ = [
    "EVENT_KINDS",
    "ITEM_KINDS",
    "REASON_KINDS",
    "EventFilter",
    "FeedbackEvent",
    "FeedbackStore",
    "GeneratorAcceptance",
    "apply_feedback",
    "check_event",
]

_LAZY = {"FeedbackStore", "EventFilter", "GeneratorAcceptance"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from genre.feedback import store

        return getattr(store, name)
    raise AttributeError(f"module 'genre.feedback' has no attribute {name!r}")
