"""Popularity-aware ranking figures: NDCG@k on head / torso / tail items, IPS and SNIPS NDCG, exposure Gini.

All of them read the same inputs as :func:`genre.metrics.evaluate_rankings` (each user's top-K catalog
indices, best first, and their relevant test items) plus every item's number of *training* interactions.

**Popularity groups** (Abdollahpouri et al., "The Unfairness of Popularity Bias in Recommendation", 2019):
items are sorted by training interactions, most first (ties by catalog index). *Head* is the shortest run
of most popular items that holds at least ``HEAD_SHARE`` (20%) of all training interactions; *tail* is the
longest run of least popular items that together hold at most ``TAIL_SHARE`` (20%) of them (items never
interacted with are always tail); *torso* is everything between. On MovieLens-100K that is a few dozen head
items and a tail of over a thousand.

**Group NDCG@k**: a user's relevant set is cut to the group's test items; the ranked list is left whole
(an item of another group takes a position but is never a hit); IDCG uses min(|relevant in group|, k).
Users with no test item in the group are left out of that group's mean.

**IPS / SNIPS NDCG@k** (Yang et al., "Unbiased Offline Recommender Evaluation for Missing-Not-At-Random
Implicit Feedback", RecSys 2018): a test interaction with item i was observed with propensity
p_i = max((n_i / max_j n_j) ** eta, clip), n_i its training interactions (``eta`` = 0.5 by default, the
square-root popularity model; ``clip`` = 0.01 bounds every weight 1/p_i at 100, so one rare item cannot
dominate the estimate). Each hit's DCG gain is divided by p_i::

    IPS-NDCG@k   = mean_u  sum_{hits i in top-k of u} disc(rank_i) / p_i / IDCG_u
    SNIPS-NDCG@k = IPS-NDCG@k / mean_u ( mean_{i in test_u} 1 / p_i )

With all propensities equal to 1 both equal naive NDCG@k. IPS is unbiased for the metric under uniform
exposure but on a larger scale (it can exceed 1); SNIPS divides by the estimated mean weight, so it reads on
the naive scale with lower variance, and is slightly biased.

**Gini index of exposure**: how unequally the top-k lists spread over the whole catalog. With x_1 <= ... <= x_n
the number of lists each of the n catalog items appears in, Gini = sum_i (2i - n - 1) x_i / (n sum_i x_i):
0 when every item is shown equally often, (n - 1) / n when one item takes every slot.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from genre.metrics import evaluate_rankings

HEAD_SHARE = 0.2
"""Head items together hold at least this share of the training interactions."""
TAIL_SHARE = 0.2
"""Tail items together hold at most this share of the training interactions."""
GROUPS = ("head", "torso", "tail")
PROPENSITY_ETA = 0.5
"""Exponent of the popularity propensity model p_i ∝ n_i ** eta."""
PROPENSITY_CLIP = 0.01
"""Smallest propensity used (largest inverse-propensity weight 1 / clip)."""


def popularity_groups(counts: np.ndarray, head_share: float = HEAD_SHARE, tail_share: float = TAIL_SHARE) -> np.ndarray:
    """Each item's group by training popularity: 0 head, 1 torso, 2 tail (see the module docstring)."""
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 1 or counts.size == 0:
        raise ValueError(f"counts must be a non-empty 1-D array of item interaction counts, got shape {counts.shape}")
    if not (0 < head_share < 1 and 0 < tail_share < 1 and head_share + tail_share <= 1):
        raise ValueError(
            f"head_share and tail_share must lie in (0, 1) and sum to at most 1; got {head_share}, {tail_share}"
        )
    groups = np.ones(counts.size, dtype=np.int8)
    total = counts.sum()
    if total <= 0:
        groups[:] = 2
        return groups
    order = np.argsort(-counts, kind="stable")
    share = counts[order] / total
    before = np.concatenate([[0.0], np.cumsum(share)[:-1]])  # share held by more popular items
    head = before < head_share - 1e-12
    # An item is tail when it and every less popular item together hold at most tail_share.
    from_here = 1.0 - before
    tail = (from_here <= tail_share + 1e-12) & ~head
    groups[order[head]] = 0
    groups[order[tail]] = 2
    groups[counts == 0] = 2
    return groups


def group_ndcg(topk: np.ndarray, relevant: Sequence[np.ndarray], groups: np.ndarray, k: int = 10) -> dict[str, float]:
    """NDCG@k per popularity group ("head", "torso", "tail"); NaN for a group no user has test items in."""
    out: dict[str, float] = {}
    n_items = groups.size
    for g, name in enumerate(GROUPS):
        cut = [np.asarray(r)[groups[np.asarray(r, dtype=np.int64)] == g] for r in relevant]
        out[name] = evaluate_rankings(topk[:, :k], cut, n_items, ks=(k,)).mean()[f"ndcg@{k}"]
    return out


def propensities(counts: np.ndarray, eta: float = PROPENSITY_ETA, clip: float = PROPENSITY_CLIP) -> np.ndarray:
    """p_i = max((n_i / max n) ** eta, clip): the chance that an interaction with item i was observed."""
    if eta < 0:
        raise ValueError(f"eta must be at least 0, got {eta}")
    if not 0 < clip <= 1:
        raise ValueError(f"clip must lie in (0, 1], got {clip}")
    counts = np.asarray(counts, dtype=np.float64)
    top = counts.max() if counts.size else 0.0
    if top <= 0:
        return np.ones(counts.size)
    return np.maximum((counts / top) ** eta, clip)


def ips_ndcg(
    topk: np.ndarray, relevant: Sequence[np.ndarray], propensity: np.ndarray, k: int = 10
) -> tuple[float, float]:
    """(IPS-NDCG@k, SNIPS-NDCG@k) over users with at least one test item (formulas in the module docstring)."""
    disc = 1.0 / np.log2(np.arange(k, dtype=np.float64) + 2.0)
    ideal = np.cumsum(disc)
    inv = 1.0 / np.asarray(propensity, dtype=np.float64)
    ips, mean_weight = [], []
    for row, rel in zip(np.asarray(topk)[:, :k], relevant, strict=True):
        rel_set = np.unique(np.asarray(rel, dtype=np.int64))
        if rel_set.size == 0:
            continue
        _, first = np.unique(row, return_index=True)
        seen_first = np.zeros(row.size, dtype=bool)
        seen_first[first] = True
        hit = np.isin(row, rel_set) & seen_first & (row >= 0)
        ips.append(float((disc[: row.size][hit] * inv[row[hit]]).sum()) / ideal[min(rel_set.size, k) - 1])
        mean_weight.append(float(inv[rel_set].mean()))
    if not ips:
        return float("nan"), float("nan")
    value = float(np.mean(ips))
    return value, value / float(np.mean(mean_weight))


def exposure_gini(topk: np.ndarray, n_items: int, k: int = 10) -> float:
    """Gini index of how often each of the ``n_items`` catalog items appears in the top-k lists (padding -1 skipped)."""
    if n_items < 1:
        raise ValueError(f"n_items must be at least 1, got {n_items}")
    flat = np.asarray(topk)[:, :k].ravel()
    x = np.sort(np.bincount(flat[flat >= 0], minlength=n_items).astype(np.float64))
    total = x.sum()
    if total == 0:
        return 0.0
    i = np.arange(1, n_items + 1, dtype=np.float64)
    return float(((2 * i - n_items - 1) * x).sum() / (n_items * total))


def slice_metrics(
    topk: np.ndarray,
    relevant: Sequence[np.ndarray],
    train_counts: np.ndarray,
    k: int = 10,
    eta: float = PROPENSITY_ETA,
    clip: float = PROPENSITY_CLIP,
) -> dict[str, float]:
    """The popularity figures of one row, keyed like the harness's metrics: ``ndcg@k-head|torso|tail``,
    ``ips-ndcg@k``, ``snips-ndcg@k`` and ``gini@k``."""
    groups = popularity_groups(train_counts)
    out = {f"ndcg@{k}-{g}": v for g, v in group_ndcg(topk, relevant, groups, k).items()}
    ips, snips = ips_ndcg(topk, relevant, propensities(train_counts, eta, clip), k)
    out[f"ips-ndcg@{k}"] = ips
    out[f"snips-ndcg@{k}"] = snips
    out[f"gini@{k}"] = exposure_gini(topk, train_counts.size, k)
    return out
