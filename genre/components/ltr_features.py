"""Features of the learning-to-rank fusion: one row per (user, pooled candidate), the same at fit and at serving.

The candidates are pooled from each scorer's top ``depth`` list. Per pooled item the features are
each scorer's score (z-scored over the user's candidates) and rank, and the context: the item's
popularity, the user's activity, how much of the history shares the item's categories, the item's
age, and how recently the user met the most related history item (co-interaction cosine).
Everything is read from a :class:`ItemStats` made from the interactions the fusion may see (the
fit's training part, or the pipeline's training data), so fit and serving compute features alike.

Every feature belongs to one group, and a group is what the trace shows as one contribution: a
scorer's score and rank are that scorer's, the context features are named in plain words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from scipy import sparse

from genre.core.types import Catalog, UserState

POPULARITY = "item popularity"
ACTIVITY = "user activity"
GENRES = "genre overlap"
AGE = "item age"
RECENCY = "recency"
BASE = "base value"
OUTSIDE = "outside the pool"
MODEL = "ranking model"
"""A pooled item's whole model score, when the caller asked for scores only (no SHAP values)."""
CONTEXT_GROUPS: tuple[str, ...] = (POPULARITY, ACTIVITY, GENRES, AGE, RECENCY)
"""The context contributions, in the order the trace lists them (after the scorers')."""
LTR_SUFFIX = " (ltr)"
"""Appended to a context contribution's name when a scorer of the pipeline has the same name."""
FUSION_TERMS: frozenset[str] = frozenset(name for g in (*CONTEXT_GROUPS, BASE, OUTSIDE) for name in (g, g + LTR_SUFFIX))
"""Contribution names the learning-to-rank fusion adds beside the scorers': terms of its model, no component."""

CONTEXT_FEATURES: tuple[tuple[str, str], ...] = (
    ("popularity", POPULARITY),
    ("recent_popularity", POPULARITY),
    ("history_length", ACTIVITY),
    ("genre_share_mean", GENRES),
    ("genre_share_max", GENRES),
    ("item_age_days", AGE),
    ("first_seen_days", AGE),
    ("related_events_ago", RECENCY),
    ("related_similarity", RECENCY),
)
"""(feature, group) of every context feature, in column order after the scorers' features."""

TREND_DAYS = 30.0
"""Recent popularity: an item's share of all interactions in the this-many days before the user's "now"."""
RELATED_WINDOW = 50
"""How many of the most recent history items are searched for the one most related to a candidate."""

_DAY = 86400.0
_YEAR_START = re.compile(r"^\s*(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


def feature_names(scorers: list[str]) -> list[str]:
    """Column names: per scorer its score and rank, then the context features."""
    return [f"{s}:{kind}" for s in scorers for kind in ("score", "rank")] + [f for f, _ in CONTEXT_FEATURES]


def feature_groups(scorers: list[str]) -> list[str]:
    """The group (contribution name) of each column of :func:`feature_names`."""
    return [s for s in scorers for _ in range(2)] + [g for _, g in CONTEXT_FEATURES]


def release_time(attributes: dict[str, object]) -> float:
    """Seconds since epoch of an item's release: ``year`` (mid-year), or a ``published``/``release_date``/``date``
    string starting with a year (ISO date); NaN when the item has none."""
    year = attributes.get("year")
    if isinstance(year, int | float) and not isinstance(year, bool) and 1000 <= year <= 3000:
        return datetime(int(year), 7, 1, tzinfo=UTC).timestamp()
    for key in ("published", "release_date", "date"):
        value = attributes.get(key)
        m = _YEAR_START.match(value) if isinstance(value, str) else None
        if m and 1000 <= int(m[1]) <= 3000:
            month = int(m[2]) if m[2] and 1 <= int(m[2]) <= 12 else 7
            day = int(m[3]) if m[3] and 1 <= int(m[3]) <= 28 else 1
            return datetime(int(m[1]), month, day, tzinfo=UTC).timestamp()
    return float("nan")


@dataclass(frozen=True)
class ItemStats:
    """What the context features read about items, from one set of interactions."""

    popularity: np.ndarray
    """Share of the users who interacted with each item."""
    first_seen: np.ndarray
    """Each item's first interaction (seconds), NaN for items nobody interacted with."""
    released: np.ndarray
    """Each item's release time (seconds), NaN where the catalog has none."""
    categories: sparse.csr_matrix
    """Items x categories, 1 where the item has the category."""
    cooc: sparse.csr_matrix
    """Items x users, rows L2-normalized: row products are co-interaction cosines."""
    latest: float
    """The latest interaction: the reference time of a user without timestamps."""
    event_keys: np.ndarray
    """Every interaction as ``item * 2**32 + seconds since the first one``, sorted: an item's events in a
    time window are one ``searchsorted`` away."""
    event_times: np.ndarray
    """Every interaction's seconds since the first one, sorted."""
    start: float
    """The first interaction (seconds)."""

    @classmethod
    def from_catalog(cls, catalog: Catalog) -> ItemStats:
        inter = catalog.interactions
        n = len(catalog)
        if inter is None or len(inter) == 0:
            raise ValueError(f"the {catalog.name} catalog has no interactions to take item statistics from")
        users, rows = np.unique(inter.user_ids, return_inverse=True)
        x = sparse.csr_matrix((np.ones(len(inter)), (inter.item_index, rows)), shape=(n, users.size))
        x.data[:] = 1.0  # repeated events count once
        counts = np.asarray(x.sum(axis=1)).ravel()
        norms = np.sqrt(counts)
        cooc = sparse.diags(np.divide(1.0, norms, out=np.zeros(n), where=norms > 0)) @ x
        first = np.full(n, np.inf)
        np.minimum.at(first, inter.item_index, inter.timestamps)
        first[~np.isfinite(first)] = np.nan
        names = catalog.category_names()
        col = {c: j for j, c in enumerate(names)}
        pairs = [(i, col[c]) for i, item in enumerate(catalog.items) for c in set(item.categories)]
        cats = sparse.csr_matrix(
            (np.ones(len(pairs)), ([p[0] for p in pairs], [p[1] for p in pairs])), shape=(n, len(names))
        )
        start = float(inter.timestamps.min())
        offsets = np.clip(inter.timestamps - start, 0, 2**32 - 1).astype(np.int64)
        return cls(
            event_keys=np.sort(inter.item_index.astype(np.int64) * 2**32 + offsets),
            event_times=np.sort(offsets),
            start=start,
            popularity=counts / max(users.size, 1),
            first_seen=first,
            released=np.array([release_time(item.attributes) for item in catalog.items]),
            categories=cats,
            cooc=cooc.tocsr(),
            latest=float(inter.timestamps.max()),
        )


def pool_positions(lists: dict[str, np.ndarray], depth: int) -> np.ndarray:
    """Positions (into the candidates) in any scorer's top ``depth``, ascending."""
    picked: list[np.ndarray] = []
    for scores in lists.values():
        ok = np.flatnonzero(np.isfinite(scores))
        if ok.size == 0:
            continue
        take = min(depth, ok.size)
        top = ok[np.argpartition(-scores[ok], take - 1)[:take]]
        picked.append(top)
    return np.unique(np.concatenate(picked)) if picked else np.zeros(0, dtype=np.int64)


def _zscore(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    ref = reference[np.isfinite(reference)]
    if ref.size == 0:
        return np.full(values.shape, np.nan)
    sd = ref.std()
    return (values - ref.mean()) / sd if sd > 0 else np.where(np.isfinite(values), 0.0, np.nan)


def _rank(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """1 + how many finite reference scores are strictly higher (NaN where the value is NaN)."""
    ref = np.sort(reference[np.isfinite(reference)])
    out = ref.size - np.searchsorted(ref, values, side="right") + 1.0
    return np.where(np.isfinite(values), out, np.nan)


def features(
    stats: ItemStats,
    scorers: list[str],
    items: np.ndarray,
    values: dict[str, np.ndarray],
    reference: dict[str, np.ndarray],
    state: UserState | None,
) -> np.ndarray:
    """The feature rows of ``items`` (catalog indices), shape (len(items), len(feature_names(scorers))).

    ``values`` are each scorer's scores of ``items``; ``reference`` its scores of all of the user's
    candidates, which the z-score and the rank are taken against. A scorer missing from ``values``
    and, without ``state``, the user's context features are NaN (the trees route missing values as
    they learned to).
    """
    n = items.size
    known = items >= 0  # -1: an item not at hand (a fusion called without its candidates)
    items = np.where(known, items, 0)
    cols: list[np.ndarray] = []
    for name in scorers:
        if name in values and name in reference:
            v = np.asarray(values[name], dtype=np.float64)
            cols += [_zscore(v, reference[name]), _rank(v, reference[name])]
        else:
            cols += [np.full(n, np.nan), np.full(n, np.nan)]
    nan = np.full(n, np.nan)
    seen = state.seen_index if state is not None else None
    user_cols = [nan, nan, nan] if seen is None else [np.full(n, float(seen.size)), *_genre_share(stats, items, seen)]
    ref_time = _reference_time(state, stats)
    ages = [(ref_time - stats.released[items]) / _DAY, (ref_time - stats.first_seen[items]) / _DAY]
    related = [nan, nan] if seen is None or seen.size == 0 else _related(stats, items, seen[-RELATED_WINDOW:])
    popularity = [stats.popularity[items], _recent_share(stats, items, ref_time)]
    context = [*popularity, *user_cols, *ages, *related]
    # Only the user's activity is known for an item not at hand.
    context = [c if j == 2 else np.where(known, c, np.nan) for j, c in enumerate(context)]
    return np.column_stack(cols + context)


def _genre_share(stats: ItemStats, items: np.ndarray, seen: np.ndarray) -> list[np.ndarray]:
    """Per item: the mean and the max, over its categories, of the share of history items in that category."""
    n = items.size
    if stats.categories.shape[1] == 0 or seen.size == 0:
        return [np.full(n, np.nan), np.full(n, np.nan)]
    share = np.asarray(stats.categories[seen].sum(axis=0)).ravel() / seen.size
    cats = stats.categories[items]
    per_item = np.asarray(cats.sum(axis=1)).ravel()
    mean = np.divide(cats @ share, per_item, out=np.full(n, np.nan), where=per_item > 0)
    dense = cats.multiply(share[None, :]).tocsr()
    peak = np.asarray(dense.max(axis=1).todense()).ravel()
    return [mean, np.where(per_item > 0, peak, np.nan)]


def _recent_share(stats: ItemStats, items: np.ndarray, ref_time: float) -> np.ndarray:
    """Each item's share of all interactions in the ``TREND_DAYS`` before ``ref_time`` (NaN: none in it)."""
    hi = int(np.clip(ref_time - stats.start, 0, 2**32 - 1))
    lo = int(np.clip(ref_time - stats.start - TREND_DAYS * _DAY, 0, 2**32 - 1))
    total = np.searchsorted(stats.event_times, hi, side="right") - np.searchsorted(stats.event_times, lo, side="left")
    if total == 0:
        return np.full(items.size, np.nan)
    base = items.astype(np.int64) * 2**32
    mine = np.searchsorted(stats.event_keys, base + hi, side="right") - np.searchsorted(
        stats.event_keys, base + lo, side="left"
    )
    return mine / total


def _related(stats: ItemStats, items: np.ndarray, recent: np.ndarray) -> list[np.ndarray]:
    """Per item: how many events ago the user met the history item most co-interacted with it, and the cosine."""
    sims = (stats.cooc[items] @ stats.cooc[recent].T).toarray()
    best = sims.argmax(axis=1)
    top = sims[np.arange(items.size), best]
    ago = (recent.size - 1 - best).astype(np.float64)
    return [np.where(top > 0, ago, np.nan), np.where(top > 0, top, np.nan)]


def _reference_time(state: UserState | None, stats: ItemStats) -> float:
    """The user's latest history timestamp: "now" for that user (the latest interaction when none is known)."""
    if state is not None:
        stamps = [e.timestamp.timestamp() for e in state.context.history if e.timestamp is not None]
        if stamps:
            return max(stamps)
    return stats.latest
