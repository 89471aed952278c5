"""The cold-item slice: how well rankings find the test items the training data barely knows.

A cold item has at most ``max_train`` training interactions (events, repeats included). The slice keeps
the users with at least one cold item among their test items and, for each, only those cold items as the
relevant set; the rankings stay whole (every catalog item competes), so a model scores here only by
ranking a cold item among its overall top ``k``. NDCG@k and recall@k are the usual binary ones
(:mod:`genre.metrics`: IDCG over min(|cold relevant|, k)), averaged over the slice's users.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from genre.metrics import ndcg_at_k, recall_at_k

COLD_ITEM_MAX_TRAIN = 5
"""Test items with at most this many training interactions form the cold-item slice."""


@dataclass(frozen=True)
class ColdItemSlice:
    max_train: int
    """Items with at most this many training interactions count as cold."""
    k: int
    ndcg: float
    """Mean NDCG@k over the slice's users, relevant set restricted to their cold test items (NaN: empty slice)."""
    recall: float
    """Mean recall@k over the same users and relevant sets (NaN: empty slice)."""
    users: int
    """Users with at least one cold test item."""
    items: int
    """Distinct cold items among those users' test items."""
    interactions: int
    """(user, cold test item) pairs in the slice."""

    def as_dict(self) -> dict[str, float | int]:
        return {
            f"ndcg@{self.k}": self.ndcg,
            f"recall@{self.k}": self.recall,
            "users": self.users,
            "items": self.items,
            "interactions": self.interactions,
            "max_train": self.max_train,
        }


def cold_item_slice(
    topk: Sequence[np.ndarray] | np.ndarray,
    relevant: Sequence[np.ndarray],
    train_counts: np.ndarray,
    max_train: int = COLD_ITEM_MAX_TRAIN,
    k: int = 10,
) -> ColdItemSlice:
    """NDCG@k and recall@k on the cold-item slice.

    ``topk[u]`` is user u's ranking (catalog indices, best first; only the first ``k`` are read),
    ``relevant[u]`` their test items, ``train_counts[i]`` item i's training interactions.
    """
    if len(topk) != len(relevant):
        raise ValueError(f"topk has {len(topk)} users but relevant has {len(relevant)}; they must match row for row")
    if max_train < 0:
        raise ValueError(f"max_train must be 0 or more, got {max_train}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    counts = np.asarray(train_counts)
    ndcgs: list[float] = []
    recalls: list[float] = []
    items: set[int] = set()
    pairs = 0
    for ranked, rel in zip(topk, relevant, strict=True):
        rel = np.unique(np.asarray(rel, dtype=np.int64))
        cold = rel[counts[rel] <= max_train]
        if cold.size == 0:
            continue
        items.update(cold.tolist())
        pairs += cold.size
        ndcgs.append(ndcg_at_k(np.asarray(ranked), cold, k))
        recalls.append(recall_at_k(np.asarray(ranked), cold, k))
    return ColdItemSlice(
        max_train=max_train,
        k=k,
        ndcg=float(np.mean(ndcgs)) if ndcgs else float("nan"),
        recall=float(np.mean(recalls)) if recalls else float("nan"),
        users=len(ndcgs),
        items=len(items),
        interactions=pairs,
    )
