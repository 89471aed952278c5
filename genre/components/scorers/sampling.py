"""(user, positive, negative) triples for one epoch of a pairwise scorer (BPR, PDA), with the imbalance options.

**Batching** decides which positives an epoch visits:

- ``interactions``: every training interaction once, in a seeded random order, so heavy users contribute
  in proportion to their history;
- ``user-balanced``: every user with history contributes the same number of triples per epoch (the mean
  history length), each drawn uniformly from that user's positives with replacement, so a user with 700
  ratings weighs no more than one with 20.

**Negative sampling** decides which unseen item stands against each positive:

- ``uniform``: any catalog item, equally likely;
- ``popularity``: in proportion to (count + 1) ** 0.75 (word2vec's smoothing), so popular items are pushed
  down harder;
- ``popularity-stratified``: items are sorted by training interactions and cut into ``strata`` groups that
  each hold an equal share of all interactions (the first stratum is a few very popular items, the last one
  the long tail plus every item nobody interacted with). A negative picks a stratum uniformly, then an item
  uniformly within it. Every popularity level is drawn equally often: popular items are still
  over-sampled against uniform (hard negatives), yet tail items keep a fixed share, so no stratum dominates
  the gradient as it does under plain ``popularity`` sampling.

A sampled negative may be one of the user's positives (as in the original BPR); with explicit negatives
from feedback, half of such a user's negatives are drawn from them instead.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import sparse

NegativeSampling = Literal["uniform", "popularity", "popularity-stratified"]
Batching = Literal["interactions", "user-balanced"]

EXPLICIT_NEGATIVE_SHARE = 0.5
"""Share of a user's sampled negatives drawn from their explicit negatives (feedback), when they have any."""


def popularity_strata(counts: np.ndarray, strata: int) -> tuple[np.ndarray, np.ndarray]:
    """(items ordered most popular first, start offset of each stratum in that order plus the end).

    Stratum s holds the items whose interactions start in the s-th equal share of all interactions;
    items without interactions join the last stratum. A stratum can be empty only when one item alone
    holds more than one share; empty strata are dropped.
    """
    counts = np.asarray(counts, dtype=np.float64)
    order = np.argsort(-counts, kind="stable")
    total = counts.sum()
    if total <= 0:
        return order, np.array([0, order.size])
    before = np.concatenate([[0.0], np.cumsum(counts[order])[:-1]]) / total
    which = np.minimum((before * strata).astype(np.int64), strata - 1)
    which[counts[order] == 0] = strata - 1
    sizes = np.bincount(which, minlength=strata)
    offsets = np.concatenate([[0], np.cumsum(sizes[sizes > 0])])
    return order, offsets


class TripleSampler:
    """Draws each epoch's triples from a binary users x items matrix; one seeded generator for all epochs."""

    def __init__(
        self,
        x: sparse.csr_matrix,
        negatives_per_positive: int,
        negative_sampling: NegativeSampling,
        batching: Batching,
        strata: int,
        seed: int,
        explicit: sparse.csr_matrix | None = None,
    ) -> None:
        self.x = x
        self.per_positive = negatives_per_positive
        self.batching = batching
        self.sampling = negative_sampling
        self.explicit = explicit
        self.gen = np.random.default_rng(seed)
        self.users, self.items = x.nonzero()
        self.per_user = np.diff(x.indptr)
        self.active = np.flatnonzero(self.per_user > 0)
        counts = np.asarray(x.sum(axis=0)).ravel()
        self.neg_p: np.ndarray | None = None
        if negative_sampling == "popularity":
            w = np.power(counts + 1.0, 0.75)
            self.neg_p = w / w.sum()
        elif negative_sampling == "popularity-stratified":
            self.order, self.offsets = popularity_strata(counts, strata)

    def epoch(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(users, positives, negatives) of one epoch, already shuffled."""
        gen, x = self.gen, self.x
        if self.batching == "user-balanced":
            draws = int(self.per_user[self.active].mean())
            u = np.repeat(self.active, draws)
            pick = (gen.random(u.size) * self.per_user[u]).astype(np.int64)
            i = x.indices[x.indptr[u] + pick]
            shuffle = gen.permutation(u.size)  # else one user's triples fill whole batches
            u, i = u[shuffle], i[shuffle]
        else:
            order = gen.permutation(self.users.size)
            u, i = self.users[order], self.items[order]
        u = np.repeat(u, self.per_positive)
        i = np.repeat(i, self.per_positive)
        j = self._negatives(u.size)
        explicit = self.explicit
        if explicit is not None:
            # Explicit negatives are the surest ones: half of such a user's draws come from them.
            count = np.diff(explicit.indptr)
            swap = (count[u] > 0) & (gen.random(u.size) < EXPLICIT_NEGATIVE_SHARE)
            offset = (gen.random(int(swap.sum())) * count[u[swap]]).astype(np.int64)
            j[swap] = explicit.indices[explicit.indptr[u[swap]] + offset]
        return u, i, j

    def _negatives(self, size: int) -> np.ndarray:
        gen, n_items = self.gen, self.x.shape[1]
        if self.sampling == "popularity-stratified":
            sizes = np.diff(self.offsets)
            s = gen.integers(0, sizes.size, size)
            return self.order[self.offsets[s] + (gen.random(size) * sizes[s]).astype(np.int64)]
        if self.neg_p is not None:
            return gen.choice(n_items, size=size, p=self.neg_p)
        return gen.integers(0, n_items, size)
