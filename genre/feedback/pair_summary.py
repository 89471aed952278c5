"""Aggregates of pairwise judgements per pair of arms: wins, win rate with its interval, faithful rates, agreement.

Pure (no store): :func:`summarize` takes judgements and returns one :class:`PairSummary` per pair of
arms; the store's ``pairwise_summary`` reads the judgements and calls it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict

from genre.feedback.pairwise import CHOICES, Arm, Judgement
from genre.feedback.stats import cohen_kappa, fleiss_kappa, wilson_interval, win_rate, win_rate_interval

__all__ = ["PairSummary", "RateCount", "summarize"]


class RateCount(BaseModel):
    """A proportion with its counts and its 95% Wilson interval."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    yes: int
    """How many said yes (e.g. marked faithful)."""
    n: int
    """How many were asked (judgements where the reviewer marked this arm at all)."""
    rate: float | None
    """``yes / n``; None when ``n == 0``."""
    low: float
    high: float

    @classmethod
    def of(cls, yes: int, n: int) -> RateCount:
        low, high = wilson_interval(yes, n)
        return cls(yes=yes, n=n, rate=yes / n if n else None, low=low, high=high)


class PairSummary(BaseModel):
    """How one pair of arms fared in blind side-by-side review."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    arm_a: Arm
    arm_b: Arm
    n: int
    """Judgements of this pair (every reviewer, item and subject)."""
    wins_a: int
    wins_b: int
    ties: int
    win_rate_a: float | None
    """Arm a's share of wins, a tie counting half (:func:`genre.feedback.stats.win_rate`); b's is ``1 - this``."""
    win_rate_low: float
    """Lower end of the 95% Wilson interval of ``win_rate_a``."""
    win_rate_high: float
    faithful_a: RateCount
    """Judgements that marked arm a's reason faithful, of those that marked it at all."""
    faithful_b: RateCount
    left_picks: int
    """Non-tie judgements where the reason shown on the left won: far from half of ``wins_a + wins_b`` hints at
    a position bias."""
    reviewers: int
    """Distinct reviewers of this pair."""
    kappa: float | None
    """Agreement between reviewers on the choice (a, b, tie) over items judged by two or more of them."""
    kappa_method: Literal["cohen", "fleiss"] | None
    """``cohen`` when exactly two reviewers judged every shared item, ``fleiss`` otherwise; None without kappa."""
    kappa_items: int
    """Items (per subject) judged by two or more reviewers: what the kappa is computed on."""
    kappa_note: str | None
    """Why ``kappa`` is None, or a caution when it rests on few items; None otherwise."""
    n_comments: int


FEW_KAPPA_ITEMS = 10
"""Below this many shared items a kappa comes with a caution: its uncertainty is large."""


def summarize(judgements: Iterable[Judgement]) -> list[PairSummary]:
    """One summary per pair of arms, ordered by the arms' labels (then keys)."""
    by_pair: dict[tuple[str, str], list[Judgement]] = defaultdict(list)
    for j in judgements:
        by_pair[(j.arm_a.key, j.arm_b.key)].append(j)
    out = [_summary(js) for js in by_pair.values()]
    return sorted(out, key=lambda s: (s.arm_a.label, s.arm_b.label, s.arm_a.key, s.arm_b.key))


def _summary(js: list[Judgement]) -> PairSummary:
    wins_a = sum(j.choice == "a" for j in js)
    wins_b = sum(j.choice == "b" for j in js)
    ties = sum(j.choice == "tie" for j in js)
    low, high = win_rate_interval(wins_a, wins_b, ties)
    marked_a = [j.faithful_a for j in js if j.faithful_a is not None]
    marked_b = [j.faithful_b for j in js if j.faithful_b is not None]
    kappa, method, items, note = _agreement(js)
    return PairSummary(
        arm_a=js[0].arm_a,
        arm_b=js[0].arm_b,
        n=len(js),
        wins_a=wins_a,
        wins_b=wins_b,
        ties=ties,
        win_rate_a=win_rate(wins_a, wins_b, ties),
        win_rate_low=low,
        win_rate_high=high,
        faithful_a=RateCount.of(sum(marked_a), len(marked_a)),
        faithful_b=RateCount.of(sum(marked_b), len(marked_b)),
        left_picks=sum(j.choice != "tie" and j.choice == j.left for j in js),
        reviewers=len({j.reviewer for j in js}),
        kappa=kappa,
        kappa_method=method,
        kappa_items=items,
        kappa_note=note,
        n_comments=sum(j.comment is not None for j in js),
    )


def _agreement(js: list[Judgement]) -> tuple[float | None, Literal["cohen", "fleiss"] | None, int, str | None]:
    # One judgement per (reviewer, subject, item) and pair: the store keeps only the latest.
    by_item: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
    for j in js:
        by_item[(j.subject, j.item_id)][j.reviewer] = j.choice
    shared = {k: v for k, v in by_item.items() if len(v) >= 2}
    if not shared:
        return None, None, 0, "no item was judged by two or more reviewers, so agreement cannot be measured"
    raters = {r for v in shared.values() for r in v}
    method: Literal["cohen", "fleiss"]
    if len(raters) == 2:
        first, second = sorted(raters)
        kappa = cohen_kappa([v[first] for v in shared.values()], [v[second] for v in shared.values()])
        method = "cohen"
    else:
        counts = [[list(v.values()).count(c) for c in CHOICES] for v in shared.values()]
        kappa = fleiss_kappa(counts)
        method = "fleiss"
    if kappa is None:
        only = next(iter(next(iter(shared.values())).values()))
        why = f"every shared judgement chose {only!r}, so chance agreement is certain and kappa is undefined"
        return None, None, len(shared), why
    note = None
    if len(shared) < FEW_KAPPA_ITEMS:
        note = f"only {len(shared)} shared item(s): this kappa is very uncertain"
    return kappa, method, len(shared), note
