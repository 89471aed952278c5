"""The multi-task SASRec network, its training examples and how its task losses combine.

One causal encoder (:class:`~.sasrec_net.SasRecNet`) reads the history; from the hidden state at
each position three heads predict the next event: the item (SASRec's full softmax over the catalog),
the item's labels (genres or categories, multi-label sigmoid) and the rating the user gave it
(regression on standardized ratings, from the hidden state and the item's embedding).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from genre.components.scorers.sasrec_net import SasRecNet, training_windows
from genre.core.types import Interactions

TASKS = ("item", "genre", "rating")
"""Task order of the loss vectors and the learned log-variances."""
REGRESSION = (False, False, True)
"""Which tasks are regressions: Kendall et al. halve their precision-weighted loss."""


class MultiTaskNet(SasRecNet):
    """SASRec's encoder with a label head and a rating head on its hidden states."""

    def __init__(
        self,
        n_items: int,
        hidden: int,
        max_len: int,
        layers: int,
        heads: int,
        dropout: float,
        n_labels: int,
        rating: bool,
    ) -> None:
        super().__init__(n_items, hidden, max_len, layers, heads, dropout)
        self.genre = nn.Linear(hidden, n_labels) if n_labels else None
        self.rating = nn.Sequential(nn.Linear(3 * hidden, hidden), nn.GELU(), nn.Linear(hidden, 1)) if rating else None
        self.log_vars = nn.Parameter(torch.zeros(len(TASKS)))
        """Learned log-variances s_k of uncertainty weighting (unused, and untouched, under fixed weights)."""

    def genre_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Label logits (n, n_labels) of the next item from hidden states (n, hidden)."""
        if self.genre is None:
            raise RuntimeError("this model has no label head")
        return self.genre(hidden)

    def rating_of(self, hidden: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Standardized rating (n,) of catalog items (n,) after hidden states (n, hidden)."""
        if self.rating is None:
            raise RuntimeError("this model has no rating head")
        e = self.item_vectors()[items]
        return self.rating(torch.cat([hidden, e, hidden * e], dim=-1)).squeeze(-1)


def combine_losses(
    losses: torch.Tensor, weights: torch.Tensor, log_vars: torch.Tensor | None, regression: torch.Tensor
) -> torch.Tensor:
    """One training loss from the per-task ``losses`` (k,).

    Fixed weighting (``log_vars`` None): ``sum_k w_k L_k``. Uncertainty weighting (Kendall, Gal & Cipolla,
    CVPR 2018) with s_k = log sigma_k^2: ``sum_k c_k exp(-s_k) L_k + s_k / 2`` over the tasks with
    ``w_k > 0``, where c_k is 1/2 for a regression and 1 for a classification; the fixed weights
    then only switch tasks on or off.
    """
    on = weights > 0
    if log_vars is None:
        return (weights * losses)[on].sum()
    scale = torch.where(regression, 0.5, 1.0)
    return (scale * torch.exp(-log_vars) * losses + 0.5 * log_vars)[on].sum()


@dataclass
class Examples:
    """Left-padded training windows and, per target position, what each head learns from it."""

    tokens: np.ndarray
    """(windows, max_len) input tokens: catalog index + 1, 0 for padding."""
    items: np.ndarray
    """(windows, max_len) next item's catalog index, -100 where there is no target."""
    ratings: np.ndarray
    """(windows, max_len) next event's standardized rating, NaN where unrated or no target."""
    weights: np.ndarray
    """(windows, max_len) each target's weight in the item and rating losses (user balance), 0 without target."""


def user_event_order(inter: Interactions) -> tuple[np.ndarray, np.ndarray]:
    """Event positions grouped by user, oldest first (the order of ``user_item_sequences``), and the group cuts."""
    _, codes = np.unique(inter.user_ids, return_inverse=True)
    order = np.lexsort((inter.timestamps, codes))
    cuts = np.flatnonzero(np.diff(codes[order])) + 1
    return order, cuts


def build_examples(
    inter: Interactions, max_len: int, rating_mean: float, rating_std: float, user_balanced: bool
) -> Examples:
    """Training windows as SASRec cuts them, with each target's rating and weight.

    Windows are cut over event positions, so every target knows which event (item, rating, user) it is.
    ``user_balanced`` gives every user's targets the same total weight (each target 1 / the user's
    target count), scaled so the mean target weight is 1; otherwise every target weighs 1.
    """
    order, cuts = user_event_order(inter)
    groups = np.split(order.astype(np.int64), cuts)
    inp, tgt = training_windows(groups, max_len)  # inp: event position + 1 (0 pad); tgt: position or -100
    real_in, real_t = inp > 0, tgt >= 0
    items = inter.item_index.astype(np.int64)
    tokens = np.where(real_in, items[np.maximum(inp - 1, 0)] + 1, 0)
    target_items = np.where(real_t, items[np.maximum(tgt, 0)], -100)
    z = (inter.ratings.astype(np.float64) - rating_mean) / rating_std
    ratings = np.where(real_t, z[np.maximum(tgt, 0)], np.nan)
    weights = real_t.astype(np.float64)
    if user_balanced and real_t.any():
        per_user = np.zeros(len(inter))
        for g in groups:
            per_user[g] = 1.0 / max(g.size - 1, 1)  # a user's first event is never a target
        weights = np.where(real_t, per_user[np.maximum(tgt, 0)], 0.0)
        weights *= real_t.sum() / weights.sum()
    return Examples(tokens, target_items, ratings, weights)


def rating_stats(ratings: np.ndarray) -> tuple[float, float] | None:
    """Mean and standard deviation (1 when constant) of the finite ratings; None when there are none."""
    finite = ratings[np.isfinite(ratings)]
    if finite.size == 0:
        return None
    std = float(finite.std())
    return float(finite.mean()), std if std > 0 and math.isfinite(std) else 1.0
