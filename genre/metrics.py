"""Top-k ranking metrics with binary relevance: nDCG, recall, reciprocal rank, catalog coverage.

The scalar functions score one user; :func:`evaluate_rankings` scores every user at once and
agrees with them exactly. A ranked list is read best-first; an item repeated in it counts only
at its first position, so a list can never score above a perfect one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def _discounts(k: int) -> np.ndarray:
    """1 / log2(rank + 1) for ranks 1..k."""
    return 1.0 / np.log2(np.arange(k, dtype=np.float64) + 2.0)


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")


def _first_occurrence(ranked: np.ndarray) -> np.ndarray:
    """Boolean mask over ``ranked`` that is True at the first position of each distinct item."""
    mask = np.zeros(ranked.shape[0], dtype=bool)
    _, first = np.unique(ranked, return_index=True)
    mask[first] = True
    return mask


def _hits(ranked: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    ranked = np.asarray(ranked).ravel()
    return np.isin(ranked, np.asarray(relevant).ravel()) & _first_occurrence(ranked)


def ndcg_at_k(ranked: np.ndarray, relevant: np.ndarray, k: int) -> float:
    """Normalized DCG of the first ``k`` items of ``ranked`` against the ``relevant`` item set.

    DCG sums 1/log2(i + 2) over hit positions i < k; the ideal DCG places min(|relevant|, k)
    hits first. Returns 0.0 when ``relevant`` is empty.
    """
    _check_k(k)
    n_relevant = np.unique(np.asarray(relevant)).size
    if n_relevant == 0:
        return 0.0
    hits = _hits(np.asarray(ranked)[:k], relevant)
    disc = _discounts(k)
    dcg = float(disc[: hits.size][hits].sum())
    idcg = float(disc[: min(n_relevant, k)].sum())
    return dcg / idcg


def recall_at_k(ranked: np.ndarray, relevant: np.ndarray, k: int) -> float:
    """Share of the ``relevant`` items found in the first ``k`` of ``ranked``; 0.0 when ``relevant`` is empty."""
    _check_k(k)
    n_relevant = np.unique(np.asarray(relevant)).size
    if n_relevant == 0:
        return 0.0
    return float(_hits(np.asarray(ranked)[:k], relevant).sum()) / n_relevant


def reciprocal_rank(ranked: np.ndarray, relevant: np.ndarray) -> float:
    """1 / (position + 1) of the first relevant item anywhere in ``ranked``; 0.0 when there is none."""
    hits = _hits(np.asarray(ranked), relevant)
    if not hits.any():
        return 0.0
    return 1.0 / (int(np.argmax(hits)) + 1)


def _recommended_items(topk_lists: Sequence[np.ndarray] | np.ndarray, n_items: int) -> np.ndarray:
    """Distinct catalog indices across the lists; negative entries are padding and skipped."""
    if isinstance(topk_lists, np.ndarray):
        flat = topk_lists.ravel()
    else:
        parts = [np.asarray(lst).ravel() for lst in topk_lists]
        flat = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    flat = flat[flat >= 0]
    if flat.size and int(flat.max()) >= n_items:
        raise ValueError(f"recommended item index {int(flat.max())} is outside a catalog of {n_items} items")
    seen = np.zeros(n_items, dtype=bool)
    seen[flat] = True
    return np.flatnonzero(seen)


def catalog_coverage(topk_lists: Sequence[np.ndarray] | np.ndarray, n_items: int) -> float:
    """Share of the catalog's ``n_items`` that appear in at least one list (negative entries are padding)."""
    if n_items < 1:
        raise ValueError(f"n_items must be at least 1, got {n_items}")
    return _recommended_items(topk_lists, n_items).size / n_items


@dataclass
class RankingMetrics:
    """Per-user metrics from :func:`evaluate_rankings`.

    ``ndcg`` and ``recall`` map each cutoff k to an array with one value per user; ``rr`` is the
    reciprocal rank within the K items given. Users without relevant items score 0 in the arrays
    but are left out of :meth:`mean`, since they say nothing about ranking quality.
    """

    ks: tuple[int, ...]
    ndcg: dict[int, np.ndarray]
    recall: dict[int, np.ndarray]
    rr: np.ndarray
    coverage: dict[int, float]
    n_relevant: np.ndarray  # int64, distinct relevant items per user
    topk: np.ndarray  # (n_users, K) int; kept so that subset() can recompute coverage
    n_items: int

    @property
    def n_users(self) -> int:
        return int(self.rr.shape[0])

    def mean(self) -> dict[str, float]:
        """Means over users with at least one relevant item (NaN when there are none), plus coverage."""
        scored = self.n_relevant > 0

        def avg(values: np.ndarray) -> float:
            return float(values[scored].mean()) if scored.any() else float("nan")

        out: dict[str, float] = {}
        for k in self.ks:
            out[f"ndcg@{k}"] = avg(self.ndcg[k])
        for k in self.ks:
            out[f"recall@{k}"] = avg(self.recall[k])
        out["mrr"] = avg(self.rr)
        for k in self.ks:
            out[f"coverage@{k}"] = self.coverage[k]
        return out

    def subset(self, mask: np.ndarray) -> RankingMetrics:
        """The same metrics for a subset of users (a boolean mask or index array), coverage recomputed."""
        topk = self.topk[mask]
        return RankingMetrics(
            ks=self.ks,
            ndcg={k: v[mask] for k, v in self.ndcg.items()},
            recall={k: v[mask] for k, v in self.recall.items()},
            rr=self.rr[mask],
            coverage={k: catalog_coverage(topk[:, :k], self.n_items) for k in self.ks},
            n_relevant=self.n_relevant[mask],
            topk=topk,
            n_items=self.n_items,
        )


def _first_occurrence_rows(topk: np.ndarray) -> np.ndarray:
    """Row-wise :func:`_first_occurrence`: a stable sort puts each item's earliest position first."""
    order = np.argsort(topk, axis=1, kind="stable")
    sorted_items = np.take_along_axis(topk, order, axis=1)
    repeat_sorted = np.zeros(topk.shape, dtype=bool)
    repeat_sorted[:, 1:] = sorted_items[:, 1:] == sorted_items[:, :-1]
    repeat = np.empty_like(repeat_sorted)
    np.put_along_axis(repeat, order, repeat_sorted, axis=1)
    return ~repeat


# Above this many (user, item) cells, a dense lookup table costs too much memory and hits are
# found by binary search instead (about 20x slower, still vectorized).
_TABLE_CELLS = 1 << 24


def _lookup(codes: np.ndarray, rel_codes: np.ndarray, n_users: int, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """Which ``codes`` (-1 = padding) are among ``rel_codes``, and each user's distinct relevant count."""
    if n_users * n_items <= _TABLE_CELLS:
        table = np.zeros(n_users * n_items + 1, dtype=bool)  # the extra last cell is what -1 reads
        table[rel_codes] = True
        n_relevant = table[:-1].reshape(n_users, n_items).sum(axis=1).astype(np.int64)
        return table[codes], n_relevant
    unique = np.unique(rel_codes)
    n_relevant = np.bincount(unique // n_items, minlength=n_users).astype(np.int64)
    if not unique.size:
        return np.zeros(codes.shape, dtype=bool), n_relevant
    return unique[np.minimum(np.searchsorted(unique, codes), unique.size - 1)] == codes, n_relevant


def evaluate_rankings(
    topk: np.ndarray,
    relevant: Sequence[np.ndarray],
    n_items: int,
    ks: Sequence[int] = (10, 20),
) -> RankingMetrics:
    """Score every user's top-K list at once.

    ``topk`` is an (n_users, K) int array of catalog indices, best first, with K >= max(ks);
    negative entries are padding for users who got fewer than K items. ``relevant[u]`` holds
    user u's test item indices.
    """
    topk = np.asarray(topk)
    if topk.ndim != 2 or not np.issubdtype(topk.dtype, np.integer):
        raise ValueError(f"topk must be a 2-D integer array, got shape {topk.shape} of {topk.dtype}")
    n_users, width = topk.shape
    if len(relevant) != n_users:
        raise ValueError(f"relevant has {len(relevant)} entries for {n_users} users")
    if n_items < 1:
        raise ValueError(f"n_items must be at least 1, got {n_items}")
    cutoffs = tuple(sorted({int(k) for k in ks}))
    if not cutoffs or cutoffs[0] < 1:
        raise ValueError(f"ks must be positive cutoffs, got {tuple(ks)}")
    if cutoffs[-1] > width:
        raise ValueError(f"topk holds {width} items per user, fewer than the largest cutoff {cutoffs[-1]}")
    topk = topk.astype(np.int64, copy=False)
    if topk.size and int(topk.max()) >= n_items:
        raise ValueError(f"recommended item index {int(topk.max())} is outside a catalog of {n_items} items")

    # Encode (user, item) as one int64 so one lookup finds every hit of every user and dedups
    # every relevant set; an out-of-range item would alias another user's code, hence the check.
    lengths = np.array([np.size(r) for r in relevant], dtype=np.int64)
    parts = [np.asarray(r).ravel().astype(np.int64) for r in relevant]
    flat = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    if flat.size and (int(flat.min()) < 0 or int(flat.max()) >= n_items):
        bad = int(flat.min()) if int(flat.min()) < 0 else int(flat.max())
        raise ValueError(f"relevant item index {bad} is outside a catalog of {n_items} items")
    owner = np.repeat(np.arange(n_users, dtype=np.int64), lengths)
    rel_codes = owner * n_items + flat
    rows = np.arange(n_users, dtype=np.int64)[:, None]
    codes = np.where(topk >= 0, rows * n_items + topk, -1)
    found, n_relevant = _lookup(codes, rel_codes, n_users, n_items)
    hits = found & _first_occurrence_rows(topk)

    disc = _discounts(width)
    dcg_cum = np.cumsum(hits * disc, axis=1)
    hit_cum = np.cumsum(hits, axis=1)
    ideal_cum = np.concatenate([[0.0], np.cumsum(disc)])
    has_rel = n_relevant > 0
    safe_n = np.maximum(n_relevant, 1)

    ndcg: dict[int, np.ndarray] = {}
    recall: dict[int, np.ndarray] = {}
    coverage: dict[int, float] = {}
    for k in cutoffs:
        idcg = ideal_cum[np.minimum(n_relevant, k)]
        ndcg[k] = np.where(has_rel, dcg_cum[:, k - 1] / np.where(has_rel, idcg, 1.0), 0.0)
        recall[k] = np.where(has_rel, hit_cum[:, k - 1] / safe_n, 0.0)
        coverage[k] = catalog_coverage(topk[:, :k], n_items)
    any_hit = hits.any(axis=1)
    rr = np.where(any_hit, 1.0 / (np.argmax(hits, axis=1) + 1.0), 0.0)
    return RankingMetrics(
        ks=cutoffs,
        ndcg=ndcg,
        recall=recall,
        rr=rr,
        coverage=coverage,
        n_relevant=n_relevant,
        topk=topk,
        n_items=n_items,
    )
