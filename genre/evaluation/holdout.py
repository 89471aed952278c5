"""Held-out quality for one user: the number the explorer's A/B view shows beside two rankings.

The pipeline must be built on ``HoldoutSplit.train_catalog`` so that no held-out interaction
reaches a trained component; the user's context is their training history only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genre.core.errors import InputError
from genre.core.types import Catalog, RunTrace, UserContext
from genre.data.splits import Split
from genre.evaluation.harness import make_split
from genre.metrics import ndcg_at_k, recall_at_k
from genre.pipeline.rank import user_contexts

__all__ = ["HeldoutResult", "HoldoutSplit", "holdout_split", "score_heldout"]


@dataclass
class HoldoutSplit:
    catalog: Catalog
    train_catalog: Catalog
    split: Split
    relevant: dict[str, np.ndarray]
    """Held-out catalog indices per user."""

    def context(self, user_id: str) -> UserContext:
        """The user's training history as a context (oldest first)."""
        if user_id not in self.relevant:
            raise InputError(f"user {user_id!r} has no held-out interactions in this split")
        return user_contexts(self.split.train, self.catalog, [user_id])[0]


@dataclass
class HeldoutResult:
    ndcg: float
    recall: float
    hits: list[str]
    """Recommended item ids that are in the user's held-out set."""
    heldout: int


def holdout_split(catalog: Catalog, protocol: str = "T") -> HoldoutSplit:
    split = make_split(catalog, protocol, None)  # type: ignore[arg-type]
    return HoldoutSplit(catalog, catalog.with_interactions(split.train), split, split.test_items_by_user())


def score_heldout(trace: RunTrace, holdout: HoldoutSplit, k: int = 10) -> HeldoutResult:
    """NDCG@k and Recall@k of a trace's ranking against the user's held-out items."""
    user = trace.user.user_id
    if user is None or user not in holdout.relevant:
        raise InputError("held-out metrics need a dataset user with held-out interactions")
    relevant = holdout.relevant[user]
    ranked = np.array([holdout.catalog.index_of(i.item_id) for i in trace.items[:k]], dtype=np.int64)
    hits = [trace.items[p].item_id for p, idx in enumerate(ranked) if idx in set(relevant.tolist())]
    return HeldoutResult(
        ndcg=ndcg_at_k(ranked, relevant, k), recall=recall_at_k(ranked, relevant, k), hits=hits, heldout=len(relevant)
    )
