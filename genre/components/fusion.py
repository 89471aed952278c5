"""Fusion, the recommendation logic: blend normalized scorer outputs into one score."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, field_validator

from genre.core.component import ComponentConfig, Fusion, FusionConfig
from genre.core.types import Fused, ScoreList

Normalization = Literal["minmax", "rank", "zscore"]


def normalize(scores: np.ndarray, method: Normalization) -> np.ndarray:
    """Normalize over the finite entries; NaN stays NaN. Constant inputs map to 0.

    Rank normalization averages tied ranks and scales to [0, 1] with 1 for the best.
    """
    return normalize_like(scores, scores, method)


def normalize_like(values: np.ndarray, reference: np.ndarray, method: Normalization) -> np.ndarray:
    """Normalize ``values`` with the statistics of ``reference`` (e.g. re-scored items against the
    full candidate list they were ranked in), so a changed score moves on the same scale."""
    out = np.full(values.shape, np.nan)
    ref = reference[np.isfinite(reference)]
    ok = np.isfinite(values)
    if ref.size == 0 or not ok.any():
        return out
    x = values[ok]
    if method == "minmax":
        span = ref.max() - ref.min()
        out[ok] = (x - ref.min()) / span if span > 0 else 0.0
    elif method == "zscore":
        sd = ref.std()
        out[ok] = (x - ref.mean()) / sd if sd > 0 else 0.0
    else:
        srt = np.sort(ref)
        # Average of the left and right insertion points = average rank among ties, as in normalize().
        pos = (np.searchsorted(srt, x, "left") + np.searchsorted(srt, x, "right") - 1) / 2
        out[ok] = np.clip(pos, 0, None) / (srt.size - 1) if srt.size > 1 else 0.0
    return out


class WeightedConfig(FusionConfig):
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

    def referenced_scorers(self) -> set[str]:
        """The scorers given a weight."""
        return set(self.weights)


class WeightedFusion(Fusion):
    """Weighted sum of normalized scores; each term is that scorer's contribution."""

    Config = WeightedConfig
    config: WeightedConfig

    def rescore(
        self, values: dict[str, np.ndarray], reference: dict[str, np.ndarray]
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Fused scores and contributions for re-scored items, normalized against the original run."""
        return _rescore(self.config.weights, self.config.normalization, values, reference)

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


class LearnedConfig(FusionConfig):
    normalization: Normalization = "zscore"
    """How each scorer's scores are put on one scale before blending."""
    validation_fraction: float = Field(default=0.1, gt=0, lt=0.5)
    """Share of each user's training interactions held out to fit the weights."""
    validation: Literal["temporal", "random"] = "temporal"
    """Which interactions are held out: each user's latest (predict what comes next) or a random share.
    The evaluation harness sets it to match the protocol it measures."""
    objective: Literal["ndcg", "pairwise"] = "ndcg"
    """`ndcg`: coordinate ascent on validation NDCG@10 over a weight grid; `pairwise`: a non-negative
    logistic ranker on (held-out positive - sampled negative) score differences."""
    min_gain: float = Field(default=0.02, ge=0, le=1)
    """ndcg objective: keep the best single scorer unless a blend beats it by this relative margin."""
    negatives: int = Field(default=20, ge=1, le=500)
    """Unseen items sampled per held-out positive to form ranking pairs (pairwise objective)."""
    negative_pool: int = Field(default=200, ge=0)
    """Negatives are drawn from the top this-many unseen items by the unweighted blend, so the fit
    learns to order the head of the list (0 draws from the whole catalog)."""
    l2: float = Field(default=1e-3, ge=0)
    """Ridge penalty on the weights."""
    max_users: int = Field(default=1000, ge=10)
    """At most this many validation users are used (a seeded sample)."""
    seed: int = 42
    """Seed for user and negative sampling."""

    def referenced_scorers(self) -> set[str]:
        """None by name: the fit weighs every scorer of the pipeline."""
        return set()


class LearnedFusion(Fusion):
    """Weights fitted by a pairwise logistic ranker on a validation split carved from training data only.

    The weights are non-negative, so each scorer's contribution reads as "how much it added".
    The pipeline fits them once at build time (cached with the trained scorers).
    """

    Config = LearnedConfig
    config: LearnedConfig
    weights: dict[str, float]

    def __init__(self, config: ComponentConfig | dict | None = None) -> None:
        super().__init__(config)
        self.weights = {}
        self.fit_report: dict[str, object] = {}

    def __call__(self, lists: list[ScoreList]) -> Fused:
        return WeightedFusion({"weights": self.weights, "normalization": self.config.normalization})(lists)

    def rescore(
        self, values: dict[str, np.ndarray], reference: dict[str, np.ndarray]
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return _rescore(self.weights, self.config.normalization, values, reference)


def _rescore(
    weights: dict[str, float],
    method: Normalization,
    values: dict[str, np.ndarray],
    reference: dict[str, np.ndarray],
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    contributions = {
        name: weights.get(name, 1.0) * np.nan_to_num(normalize_like(v, reference[name], method), nan=0.0)
        for name, v in values.items()
    }
    total = np.sum(list(contributions.values()), axis=0)
    return total, contributions
