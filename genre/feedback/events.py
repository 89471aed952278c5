"""Feedback events: what a user said about a recommended item or about a reason.

An event is valid on its own when its kind is known and its value fits the kind
(:func:`check_event`); the store adds the checks that need stored state (the run
exists, the item was shown in it).
"""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from genre.core.errors import FeedbackError
from genre.data.users import MAX_COMMENT_CHARS

ITEM_KINDS: tuple[str, ...] = ("like", "dislike", "rating", "click", "not_interested")
"""Feedback on a recommended item."""
REASON_KINDS: tuple[str, ...] = ("reason_rating", "reason_faithful")
"""Feedback on an item's generated reason; these name the generator that wrote it."""
EVENT_KINDS: tuple[str, ...] = ITEM_KINDS + REASON_KINDS

RATING_KINDS = frozenset({"rating", "reason_rating"})
OPINION_KINDS = frozenset({"like", "dislike", "not_interested"})
"""Opinions on an item that replace one another: a user's latest like, dislike or not-interested stands."""
APPEND_KINDS = frozenset({"click"})
"""Kinds where every event counts (each click is a new click); all the others are latest-wins."""
RATING_MIN, RATING_MAX = 1.0, 5.0


COMMENT_WHITESPACE = frozenset("\n\r\t")
"""Control characters a comment may hold (a multi-line text box writes them)."""


def bad_chars(text: str, allowed: frozenset[str] = frozenset()) -> list[str]:
    """Code points of ``text`` in Unicode category C* (control, format, private use, unassigned), as U+XXXX.

    None belongs in a name or a comment: they hide text (bidi overrides, zero-width) or break
    terminals, and NUL cannot even be stored in PostgreSQL text.
    """
    return [f"U+{ord(c):04X}" for c in text if c not in allowed and unicodedata.category(c).startswith("C")]


def check_comment(comment: str | None, where: str = "the comment") -> str | None:
    """``comment`` as stored (None when blank), or FeedbackError when too long or holding control characters.

    Comments are plain text: nothing interprets markup in them, and pages must escape them when shown.
    """
    if comment is None:
        return None
    if not isinstance(comment, str):
        raise FeedbackError(f"{where} must be text, not {type(comment).__name__}")
    if not comment.strip():
        return None
    if len(comment) > MAX_COMMENT_CHARS:
        raise FeedbackError(f"{where} is {len(comment):,} characters long; the limit is {MAX_COMMENT_CHARS:,}")
    bad = bad_chars(comment, COMMENT_WHITESPACE)
    if bad:
        raise FeedbackError(
            f"{where} contains control or invisible characters ({', '.join(sorted(set(bad)))}); remove them"
        )
    return comment


def utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime; a naive one is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _now() -> datetime:
    return datetime.now(UTC)


class FeedbackEvent(BaseModel):
    """One piece of feedback, as given by the explorer or read back from the store."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    user: str
    """The user's key (the store creates the user on first use)."""
    item_id: str
    """The item the feedback is about (for reason kinds: the item whose reason is judged)."""
    kind: str
    """One of :data:`EVENT_KINDS`; checked by :func:`check_event`, so a typo gets a FeedbackError."""
    value: float | None = None
    """1-5 for ``rating`` and ``reason_rating``, 0 or 1 for ``reason_faithful``, None otherwise."""
    run_id: str | None = None
    """The run that showed the item, when the feedback came from one."""
    comment: str | None = None
    generator: str | None = None
    """The reason generator judged (required for reason kinds; taken from the run when known)."""
    config_name: str | None = None
    """The pipeline config of the run (taken from the run when known)."""
    created_at: datetime = Field(default_factory=_now)
    """When the user gave the feedback (stored in UTC; a naive time is read as UTC)."""
    id: int | None = None
    """The store's row id; None until stored."""

    @field_validator("created_at")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        return utc(v)

    @field_validator("run_id", "comment", "generator", "config_name")
    @classmethod
    def _empty_is_none(cls, v: str | None) -> str | None:
        # One spelling for "absent", so a CSV round trip (where both are an empty cell) is exact.
        return v if v else None


def event_slot(event: FeedbackEvent) -> str | None:
    """The key under which ``event`` replaces an earlier one, or None for kinds that append (clicks).

    Latest wins per slot, so a repeated Like, a re-saved review or a changed rating is stored once:
    an item opinion (like, dislike, not_interested) per (user, item), whichever kind; an item rating
    per (user, item); a reason verdict (reason_rating, reason_faithful) per (user, run, item,
    generator, kind). Built as JSON so no id can fake a separator.
    """
    if event.kind in APPEND_KINDS:
        return None
    if event.kind in OPINION_KINDS:
        parts = ["opinion", event.user, event.item_id]
    elif event.kind == "rating":
        parts = ["rating", event.user, event.item_id]
    else:
        parts = [event.kind, event.user, event.run_id or "", event.item_id, event.generator or ""]
    return json.dumps(parts, ensure_ascii=False, separators=(",", ":"))


def check_event(event: FeedbackEvent, require_generator: bool = True) -> FeedbackEvent:
    """Raise FeedbackError naming the problem if ``event`` is invalid on its own; return it otherwise.

    ``require_generator=False`` defers the check that reason feedback names its generator (the
    store first fills it in from the event's run).
    """
    where = f"{event.kind} event on item {event.item_id!r}"
    if not event.user.strip():
        raise FeedbackError(f"{where}: the user key is empty")
    if not event.item_id.strip():
        raise FeedbackError(f"{event.kind} event: the item id is empty")
    if event.kind not in EVENT_KINDS:
        raise FeedbackError(
            f"unknown feedback kind {event.kind!r} (item {event.item_id!r}); valid kinds: "
            f"{', '.join(ITEM_KINDS)} (on items), {', '.join(REASON_KINDS)} (on reasons)"
        )
    v = event.value
    if event.kind in RATING_KINDS:
        if v is None:
            raise FeedbackError(f"{where}: a {event.kind} needs a value between 1 and 5")
        if not RATING_MIN <= v <= RATING_MAX:
            raise FeedbackError(f"{where}: rating {v:g} is out of range; ratings go from 1 to 5")
    elif event.kind == "reason_faithful":
        if v not in (0.0, 1.0):
            raise FeedbackError(f"{where}: reason_faithful takes 1 (faithful) or 0 (not faithful); got {v!r}")
    elif v is not None:
        raise FeedbackError(f"{where}: a {event.kind} takes no value; got {v:g}")
    if event.comment is not None:
        check_comment(event.comment, f"{where}: the comment")
    if require_generator and event.kind in REASON_KINDS and event.generator is None:
        raise FeedbackError(
            f"{where}: feedback on a reason must name the generator that wrote it "
            "(pass generator=..., or the run_id of a recorded run)"
        )
    return event
