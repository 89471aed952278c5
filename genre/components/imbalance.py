"""Losses for imbalanced labels: class-balanced weights (effective number of samples) and focal loss.

Shared by the label heads that learn a next item's genres or categories (``trained-head`` and the
multi-task SASRec's genre head). Class weights are numpy (a config's knobs fix them before any
training); the losses are torch, imported only by the code that trains.

* Class-balanced (Cui et al., CVPR 2019): a class seen ``n`` times has an effective number of samples
  ``E_n = (1 - beta**n) / (1 - beta)``; its weight is ``1 / E_n``, scaled so the weights of the classes
  that occur sum to their count. ``beta = 0`` weighs every class alike; ``beta -> 1`` approaches
  inverse frequency. Following the paper, the weight multiplies an example's whole loss; an example
  with several labels takes the mean weight of its labels.
* Focal (Lin et al., ICCV 2017): each term ``-log p_t`` is scaled by ``(1 - p_t)**gamma``, so
  confidently right examples count less; ``gamma = 0`` is the plain loss.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


def class_balanced_weights(counts: np.ndarray, beta: float) -> np.ndarray:
    """Per-class weights ``(1 - beta) / (1 - beta**n)``, summing to the number of classes with ``n > 0``.

    Classes never seen get weight 0 (no example carries them). ``beta`` must lie in [0, 1).
    """
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"beta must be in [0, 1); got {beta!r}")
    counts = np.asarray(counts, dtype=np.float64)
    seen = counts > 0
    weights = np.zeros_like(counts)
    # beta**n underflows to 0 for large n, which is the right limit (E_n -> 1 / (1 - beta)).
    weights[seen] = (1.0 - beta) / (1.0 - np.power(beta, counts[seen]))
    if seen.any():
        weights *= seen.sum() / weights.sum()
    return weights


def example_weights(targets: np.ndarray, class_weights: np.ndarray) -> np.ndarray:
    """Each example's weight: the mean class weight of its labels (a row of multi-hot ``targets``); 0 without labels."""
    targets = np.asarray(targets, dtype=np.float64) > 0
    n = targets.sum(axis=1)
    total = targets @ np.asarray(class_weights, dtype=np.float64)
    return np.divide(total, n, out=np.zeros_like(total), where=n > 0)


def multilabel_loss(logits: torch.Tensor, targets: torch.Tensor, gamma: float = 0.0) -> torch.Tensor:
    """Per-example sum over labels of sigmoid cross-entropy, focal-scaled by ``(1 - p_t)**gamma``; shape (n,)."""
    from torch.nn import functional as F

    log_pt = -F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    if gamma > 0:
        return -(((1.0 - log_pt.exp()).clamp(min=0.0) ** gamma) * log_pt).sum(dim=1)
    return -log_pt.sum(dim=1)


def softmax_loss(logits: torch.Tensor, targets: torch.Tensor, gamma: float = 0.0) -> torch.Tensor:
    """Per-example soft-target cross-entropy ``-sum_c y_c log p_c``, focal-scaled by ``(1 - p_c)**gamma``."""
    log_p = logits.log_softmax(dim=1)
    if gamma > 0:
        return -(targets * ((1.0 - log_p.exp()).clamp(min=0.0) ** gamma) * log_p).sum(dim=1)
    return -(targets * log_p).sum(dim=1)
