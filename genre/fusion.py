"""Fusion, the recommendation logic: blend normalized scorer outputs into one score."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, field_validator

from genre.components import Component, ComponentConfig
from genre.types import Fused, ScoreList

Normalization = Literal["minmax", "rank", "zscore"]


def normalize(scores: np.ndarray, method: Normalization) -> np.ndarray:
    """Normalize over the finite entries; NaN stays NaN. Constant inputs map to 0."""
    out = np.full(scores.shape, np.nan)
    finite = np.isfinite(scores)
    if not finite.any():
        return out
    x = scores[finite]
    if method == "minmax":
        span = x.max() - x.min()
        out[finite] = (x - x.min()) / span if span > 0 else 0.0
    elif method == "zscore":
        sd = x.std()
        out[finite] = (x - x.mean()) / sd if sd > 0 else 0.0
    else:
        # Average ranks for ties, scaled to [0, 1] with 1 for the best.
        order = np.argsort(x, kind="stable")
        ranks = np.empty(x.size)
        ranks[order] = np.arange(x.size, dtype=np.float64)
        _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
        sums = np.bincount(inverse, weights=ranks)
        avg = sums[inverse] / counts[inverse]
        out[finite] = avg / (x.size - 1) if x.size > 1 else 0.0
    return out


class WeightedConfig(ComponentConfig):
    weights: dict[str, float] = Field(default_factory=dict)
    """Weight per scorer name (names must be scorers of this pipeline); missing scorers get 1.0."""
    normalization: Normalization = "minmax"
    """How each scorer's scores are put on one scale before blending."""

    @field_validator("weights")
    @classmethod
    def _non_negative(cls, v: dict[str, float]) -> dict[str, float]:
        bad = {k: w for k, w in v.items() if not (w >= 0)}
        if bad:
            raise ValueError(f"weights must be >= 0; got {bad}")
        return v


class WeightedFusion(Component):
    """Weighted sum of normalized scores; each term is that scorer's contribution."""

    Config = WeightedConfig
    config: WeightedConfig

    def referenced_scorers(self) -> set[str]:
        return set(self.config.weights)

    def __call__(self, lists: list[ScoreList]) -> Fused:
        if not lists:
            raise ValueError("fusion needs at least one score list")
        n = lists[0].scores.shape[0]
        total = np.zeros(n)
        contributions: dict[str, np.ndarray] = {}
        normalized: dict[str, np.ndarray] = {}
        for sl in lists:
            norm = normalize(sl.scores, self.config.normalization)
            normalized[sl.name] = norm
            # A scorer that cannot score an item adds nothing to it (not a penalty, not a bonus).
            part = self.config.weights.get(sl.name, 1.0) * np.nan_to_num(norm, nan=0.0)
            contributions[sl.name] = part
            total += part
        return Fused(scores=total, contributions=contributions, normalized=normalized)
