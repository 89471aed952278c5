"""The immediate update: fold a user's feedback events into the UserContext of the next run.

The latest event per item wins (by ``created_at``; ties keep the given order):

- ``like``, a ``rating`` of 4 or more, and ``click`` add the item to the history with a weight
  (``like_weight`` for likes and high ratings, ``click_weight`` for clicks) that multiplies its
  recency weight in the user vector u. An item already in the history keeps its place and gets
  the larger of the two weights.
- ``dislike``, ``not_interested`` and a ``rating`` of 2 or less exclude the item from the
  candidates, drop it from the history, and push u away from it: the context stage computes
  u ← u − β·mean(embeddings of those items) and renormalizes (β = ``dislike_push``).
- A ``rating`` of 3 and feedback on reasons change nothing here (reason feedback is about
  generators; see :meth:`genre.feedback.store.FeedbackStore.generator_acceptance`).

Items added to the history count as recent as its newest event: when every history event has a
timestamp they take the newest one (with no history, the feedback's own time), otherwise none,
so they sit at the end of the ordered history.
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from datetime import datetime

from genre.config import FeedbackConfig
from genre.core.types import FeedbackApplied, HistoryEvent, UserContext
from genre.feedback.events import ITEM_KINDS, FeedbackEvent, check_event

POSITIVE_RATING = 4.0
NEGATIVE_RATING = 2.0


def classify(event: FeedbackEvent) -> str | None:
    """'positive', 'negative' or None (no effect on the user model) for one item event."""
    if event.kind in ("like", "click"):
        return "positive"
    if event.kind in ("dislike", "not_interested"):
        return "negative"
    if event.kind == "rating" and event.value is not None:
        if event.value >= POSITIVE_RATING:
            return "positive"
        if event.value <= NEGATIVE_RATING:
            return "negative"
    return None


def latest_per_item(events: Sequence[FeedbackEvent]) -> dict[str, FeedbackEvent]:
    """The most recent item event for each item (ties: the later one in ``events``), oldest first."""
    ordered = sorted((e for e in events if e.kind in ITEM_KINDS), key=lambda e: e.created_at)
    latest: dict[str, FeedbackEvent] = {}
    for e in ordered:
        latest.pop(e.item_id, None)  # re-insert so the dict stays in time order
        latest[e.item_id] = e
    return latest


def apply_feedback(
    ctx: UserContext,
    events: Sequence[FeedbackEvent],
    config: FeedbackConfig | None = None,
    known_items: Container[str] | None = None,
) -> tuple[UserContext, FeedbackApplied]:
    """``ctx`` updated by ``events``, and a record of what was applied.

    ``events`` are taken as the user's own (e.g. ``store.events_for_user(user)``); each is checked
    with :func:`~genre.feedback.events.check_event` (a FeedbackError names a bad one). Events on
    items not in ``known_items`` (when given) are ignored and listed as such.
    """
    cfg = config or FeedbackConfig()
    for e in events:
        check_event(e)
    latest = latest_per_item(events)
    ignored = [i for i in latest if known_items is not None and i not in known_items]
    positive: dict[str, float] = {}
    negative: list[str] = []
    ratings: dict[str, float] = {}
    times: dict[str, datetime] = {}
    for item_id, e in latest.items():
        if item_id in ignored:
            continue
        verdict = classify(e)
        if verdict == "positive":
            positive[item_id] = cfg.click_weight if e.kind == "click" else cfg.like_weight
            times[item_id] = e.created_at
            if e.kind == "rating" and e.value is not None:
                ratings[item_id] = e.value
        elif verdict == "negative":
            negative.append(item_id)

    dropped = set(negative)
    history: list[HistoryEvent] = []
    for h in ctx.history:
        if h.item_id in dropped:
            continue
        if h.item_id in positive:
            update: dict[str, float] = {"weight": max(h.weight, positive.pop(h.item_id))}
            if h.item_id in ratings:
                update["rating"] = ratings[h.item_id]
            h = h.model_copy(update=update)
        history.append(h)
    stamps = [h.timestamp for h in ctx.history]
    timed = all(t is not None for t in stamps)
    newest = max(stamps) if stamps and timed else None  # type: ignore[type-var]
    for item_id, weight in positive.items():
        when = (newest if newest is not None else times[item_id]) if timed else None
        history.append(HistoryEvent(item_id=item_id, timestamp=when, rating=ratings.get(item_id), weight=weight))

    liked = [i for i in latest if i not in ignored and classify(latest[i]) == "positive"]
    pushed = negative if cfg.dislike_push > 0 else []
    update_ctx: dict[str, object] = {
        "history": history,
        "exclude": list(dict.fromkeys([*ctx.exclude, *negative])),
    }
    if pushed:
        update_ctx["push_away"] = list(dict.fromkeys([*ctx.push_away, *pushed]))
        update_ctx["push_strength"] = cfg.dislike_push
    applied = FeedbackApplied(
        liked=liked,
        weights={i: next(h.weight for h in history if h.item_id == i) for i in liked},
        excluded=negative,
        pushed_away=list(pushed),
        ignored=ignored,
        n_events=len(events),
    )
    return ctx.model_copy(update=update_ctx), applied
