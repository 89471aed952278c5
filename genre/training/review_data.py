"""Training pairs from reviews: reasons people accepted, and the winners of blind side-by-side judgements.

``train-reasoner --from-reviews`` reads the feedback store and adds to the adapter's training data:

* **rated reasons**: a reason stored with its context (``FeedbackStore.record_reasons``) whose
  reviewers rated it :data:`MIN_RATING` or better on average and marked it faithful (none said
  unfaithful);
* **pairwise winners**: the reason a reviewer picked over the other, only when the reviewer also
  marked it faithful; ties teach nothing and are skipped. Each such judgement is also a
  preference pair (winner over loser) for a DPO-style step, which needs :data:`DPO_MIN_PAIRS` of
  them and the ``trl`` package (not a dependency; see :func:`dpo_status`).

Both become literal (request, reason) pairs that go through the same delexicalisation and checks
as reference reasons (:func:`genre.training.slotted_data.slotted_pairs`): a reviewed reason that
names a title outside a slot, or fails the verifier, still teaches nothing.

A review whose request is one of the **held-out labelled** requests (``sample_data/reasons/labelled``,
split ``heldout``) is never used: those requests measure the change (:mod:`genre.training.review_eval`).
"""

from __future__ import annotations

import importlib.util
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from genre.core.errors import DataError
from genre.core.types import Catalog, ReasonRequest
from genre.data.request_records import request_from_record
from genre.text.verifier import Verifier
from genre.training.reasoner_data import TrainingPair
from genre.training.slotted_data import SlottedPair, slotted_pairs, survival

if TYPE_CHECKING:
    from genre.data.labelled import LabelledReason
    from genre.feedback.store import FeedbackStore

__all__ = [
    "DPO_MIN_PAIRS",
    "MIN_RATING",
    "PreferencePair",
    "ReviewPairs",
    "dpo_status",
    "heldout_keys",
    "review_pairs",
    "slot_review_pairs",
]

MIN_RATING = 4.0
"""A rated reason is acceptable at this mean reason_rating (1-5) or above, and marked faithful."""
DPO_MIN_PAIRS = 200
"""Preference pairs needed before a DPO-style step is worth running: with fewer, a preference step on a
135M model mostly memorises them (the SFT pairs still help). Counted per config."""
RATED = "review-rated"
PAIRWISE = "review-pairwise"


@dataclass(frozen=True)
class PreferencePair:
    """A request and two reasons for it, the first preferred (and marked faithful) by a reviewer."""

    request: ReasonRequest
    chosen: str
    rejected: str


@dataclass
class ReviewPairs:
    """What the store's reviews give for training, and why the rest gave nothing."""

    pairs: list[TrainingPair] = field(default_factory=list)
    """Literal pairs; source ``review-rated:<catalog>`` or ``review-pairwise:<catalog>``."""
    preferences: list[PreferencePair] = field(default_factory=list)
    judgements: int = 0
    """Judgements read (for the config)."""
    rated: int = 0
    """Reviewed reasons read (distinct reason and reviewer)."""
    skipped: Counter[str] = field(default_factory=Counter)
    """Why a judgement or a rated reason gave no pair, counted."""

    def describe(self) -> str:
        """One line: what was read, what was used, and why the rest was not."""
        used = Counter(p.source.split(":", 1)[0] for p in self.pairs)
        why = "; ".join(f"{n} {reason}" for reason, n in self.skipped.most_common())
        return (
            f"{self.judgements} pairwise judgements and {self.rated} reviewed reasons read; used "
            f"{used[PAIRWISE]} faithful winners and {used[RATED]} reasons rated {MIN_RATING:g}+ and faithful"
            + (f"; not used: {why}" if why else "")
        )


HeldoutKeys = dict[str, list[tuple[str, ...]]]
"""Per item id, the history ids of each held-out labelled request for it."""


def heldout_keys(labelled: Iterable[LabelledReason]) -> HeldoutKeys:
    """The held-out labelled requests as item id -> histories (what a review may not be trained on)."""
    out: HeldoutKeys = {}
    for r in labelled:
        if r.split == "heldout":
            out.setdefault(r.item_id, []).append(tuple(r.history_ids))
    return out


def _is_heldout(req: ReasonRequest, keys: HeldoutKeys) -> bool:
    # A labelled record keeps the last part of the history only: a request matches when its history ends so.
    history = tuple(h.item_id for h in req.history)
    return any(not h or history[-len(h) :] == h for h in keys.get(req.item.item_id, []))


def _request(context: dict[str, Any] | None, catalog: Catalog | None) -> ReasonRequest | str:
    if context is None:
        return "no context stored"
    try:
        return request_from_record(context, catalog)
    except DataError:
        return "context unreadable"


def review_pairs(
    store: FeedbackStore,
    config_name: str,
    catalog: Catalog,
    *,
    heldout: HeldoutKeys | None = None,
    min_rating: float = MIN_RATING,
) -> ReviewPairs:
    """Training and preference pairs from ``store``'s reviews of ``config_name``'s reasons."""
    out = ReviewPairs()
    keys = heldout or {}
    for j in store.judgements(config_name=config_name):
        out.judgements += 1
        winner = j.winner
        if winner is None:
            out.skipped["ties"] += 1
            continue
        if winner.config_name != config_name:
            out.skipped["winner from another config"] += 1
            continue
        chosen, rejected, faithful = (
            (j.reason_a, j.reason_b, j.faithful_a) if j.choice == "a" else (j.reason_b, j.reason_a, j.faithful_b)
        )
        if faithful is not True:
            out.skipped["winner not marked faithful"] += 1
            continue
        req = _request(j.context, catalog)
        if isinstance(req, str):
            out.skipped[f"judgement: {req}"] += 1
            continue
        if _is_heldout(req, keys):
            out.skipped["held-out labelled request"] += 1
            continue
        out.pairs.append(TrainingPair(req, chosen, f"{PAIRWISE}:{catalog.name}"))
        out.preferences.append(PreferencePair(req, chosen, rejected))
    by_reason: dict[tuple[str, str, str], list[Any]] = {}
    for r in store.reviewed_reasons(config_name=config_name):
        out.rated += 1
        by_reason.setdefault((r.run_id, r.item_id, r.generator), []).append(r)
    for reviews in by_reason.values():
        ratings = [r.rating for r in reviews if r.rating is not None]
        verdicts = [r.faithful for r in reviews if r.faithful is not None]
        if not ratings:
            out.skipped["reason not rated"] += 1
        elif sum(ratings) / len(ratings) < min_rating:
            out.skipped[f"reason rated below {min_rating:g}"] += 1
        elif not verdicts:
            out.skipped["reason not marked faithful"] += 1
        elif not all(verdicts):
            out.skipped["reason marked unfaithful"] += 1
        else:
            req = _request(reviews[0].context, catalog)
            if isinstance(req, str):
                out.skipped[f"reason: {req}"] += 1
            elif _is_heldout(req, keys):
                out.skipped["held-out labelled request"] += 1
            else:
                out.pairs.append(TrainingPair(req, reviews[0].text, f"{RATED}:{catalog.name}"))
    return out


def slot_review_pairs(
    pairs: Sequence[TrainingPair], catalog: Catalog
) -> tuple[list[SlottedPair], dict[str, dict[str, int]]]:
    """The review pairs that survive delexicalisation and the checks, and what happened to each source's."""
    verifier = Verifier(catalog)
    sources = {p.source for p in pairs}
    categories = catalog.category_names()
    kept, outcomes = slotted_pairs(pairs, dict.fromkeys(sources, verifier), dict.fromkeys(sources, categories))
    return kept, survival(outcomes)


def dpo_status(preferences: int) -> str:
    """Whether a DPO-style step could run, as one line for the CLI."""
    has_trl = importlib.util.find_spec("trl") is not None
    if preferences < DPO_MIN_PAIRS:
        return (
            f"DPO step not run: {preferences} preference pairs (faithful winner over loser); it needs at least "
            f"{DPO_MIN_PAIRS}" + ("" if has_trl else " and the trl package")
        )
    if not has_trl:
        return f"DPO step not run: {preferences} preference pairs are enough, but trl is not installed"
    return f"DPO step not run: {preferences} preference pairs are enough, but this version trains by SFT only"
