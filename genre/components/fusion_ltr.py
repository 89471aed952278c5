"""Learning-to-rank fusion: a LightGBM LambdaRank model over candidates pooled from the scorers' top lists.

The trees start from a linear blend of the scorers' z-scores and learn corrections to it. Each
contribution is a SHAP value (LightGBM's ``pred_contrib``), summed per group of features: a scorer's
score and rank, plus its term of the linear blend, are that scorer's contribution; the context
features are named in plain words (see :mod:`genre.components.ltr_features`), and the trees' base
value is its own term. They add up exactly to the item's fused score. Items outside the pool rank
below every pooled one; their whole score is the "outside the pool" term.

The pipeline fits the model at build time on a validation split carved from training data only
(:mod:`genre.pipeline.fit_ltr`). With too few validation users it fits nothing: the weighted blend
ranks instead, and a notice says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field, field_validator

from genre.components.fusion import WeightedFusion
from genre.components.ltr_features import (
    BASE,
    CONTEXT_GROUPS,
    LTR_SUFFIX,
    MODEL,
    OUTSIDE,
    ItemStats,
    feature_groups,
    features,
    pool_positions,
)
from genre.core.component import ComponentConfig, Fusion, FusionConfig
from genre.core.types import Fused, ScoreList, UserState

if TYPE_CHECKING:
    import lightgbm

    from genre.components.env import Env


class LtrConfig(FusionConfig):
    pool_depth: int = Field(default=50, ge=5, le=1000)
    """Each scorer's top this-many candidates form the pool the model ranks; the rest rank below it."""
    n_estimators: int = Field(default=300, ge=10, le=2000)
    """Most boosting rounds (trees); early stopping usually keeps fewer."""
    early_stopping_rounds: int = Field(default=20, ge=0, le=500)
    """Stop adding trees once validation NDCG@10 of a held-out fifth of the validation users has not
    improved for this many rounds, keeping the best (0: keep all ``n_estimators``)."""
    min_gain: float = Field(default=0.02, ge=0, le=1)
    """Keep the trees only when, on the early-stopping users, they beat both their linear start and the
    best single scorer by this relative NDCG@10 margin; otherwise the better of those two ranks alone."""
    linear_base: bool = True
    """Start the trees from a non-negative linear blend of the scorers' z-scores (fitted first, by a
    pairwise logistic loss): the trees learn corrections to it, and items the trees cannot tell apart
    keep the blend's order."""
    num_leaves: int = Field(default=15, ge=2, le=255)
    """Leaves per tree."""
    learning_rate: float = Field(default=0.05, gt=0, le=1)
    """Shrinkage of each tree's output."""
    min_child_samples: int = Field(default=200, ge=1, le=100000)
    """Fewest pooled items a leaf may hold. Validation labels are few and noisy (a tenth of each user's
    history), so leaves are kept large: smaller ones fit that noise (MovieLens: worse on the test split)."""
    negatives: int = Field(default=0, ge=0, le=1000)
    """Pooled non-relevant items kept per validation user, a seeded sample (0 keeps them all)."""
    validation_fraction: float = Field(default=0.1, gt=0, lt=0.5)
    """Share of each user's training interactions held out to fit the model."""
    validation: Literal["temporal", "random"] = "temporal"
    """Which interactions are held out: each user's latest (what comes next) or a random share. The
    evaluation harness sets it to match the protocol it measures."""
    min_users: int = Field(default=50, ge=1, le=100000)
    """Fewer validation users with a held-out item in the pool than this: no model, the weighted blend ranks."""
    max_users: int = Field(default=2000, ge=10, le=1000000)
    """At most this many validation users are used (a seeded sample)."""
    fallback_weights: dict[str, float] = Field(default_factory=dict)
    """Weights of the weighted blend used without a model (missing scorers get 1.0; z-scored scores)."""
    seed: int = Field(default=42, ge=0)
    """Seed of the validation split, the user and negative samples and LightGBM."""

    @field_validator("fallback_weights")
    @classmethod
    def _non_negative(cls, v: dict[str, float]) -> dict[str, float]:
        bad = {k: w for k, w in v.items() if not (w >= 0)}
        if bad:
            raise ValueError(f"fallback_weights must be >= 0; got {bad}")
        return v

    def referenced_scorers(self) -> set[str]:
        """The scorers given a fallback weight."""
        return set(self.fallback_weights)


class LtrFusion(Fusion):
    """LightGBM LambdaRank over the scorers' pooled top lists; contributions are grouped SHAP values."""

    Config = LtrConfig
    config: LtrConfig

    def __init__(self, config: ComponentConfig | dict | None = None) -> None:
        super().__init__(config)
        self.booster: lightgbm.Booster | None = None
        self.scorers: list[str] = []
        """The scorers the model was fitted on, in feature order."""
        self.linear: dict[str, float] = {}
        """Weight of each scorer's z-score in the linear blend the trees start from (empty: none)."""
        self.fit_report: dict[str, object] = {}
        self.stats: ItemStats | None = None
        self._blend = WeightedFusion({"weights": self.config.fallback_weights, "normalization": "zscore"})

    def prepare(self, env: Env) -> None:
        super().prepare(env)
        self.stats = ItemStats.from_catalog(env.catalog.with_interactions(env.interactions("fusion 'ltr'")))

    def set_model(
        self,
        booster: lightgbm.Booster | None,
        scorers: list[str],
        report: dict[str, object],
        linear: dict[str, float] | None = None,
    ) -> None:
        """Use ``booster`` (None: the weighted blend) fitted on ``scorers``' features, on top of the
        ``linear`` blend of their z-scores."""
        self.booster, self.scorers, self.fit_report = booster, list(scorers), dict(report)
        self.linear = dict(linear or {})

    @property
    def fitted(self) -> bool:
        """A model ranks: trees on a linear start, or a linear blend alone (the trees did not earn their place)."""
        return self.booster is not None or bool(self.linear)

    # ---- ranking ---------------------------------------------------------------------------------

    def __call__(self, lists: list[ScoreList]) -> Fused:
        """Without the user and the candidates at hand the context features are missing (NaN)."""
        n = lists[0].scores.shape[0] if lists else 0
        return self.fuse_user(None, np.full(n, -1, dtype=np.int64), lists)

    def fuse_user(
        self, state: UserState | None, candidates: np.ndarray, lists: list[ScoreList], *, explain: bool = True
    ) -> Fused:
        """Without ``explain`` the model's whole score is one contribution (SHAP values cost ~100x a prediction)."""
        if not lists:
            raise ValueError("fusion needs at least one score list")
        if not self.fitted or {sl.name for sl in lists} != set(self.scorers):
            # No model, or other scorers than it was fitted on (a cold start ranks by popularity alone).
            return self._blend(lists)
        scores = {sl.name: sl.scores for sl in lists}
        n = candidates.size
        pos = pool_positions(scores, self.config.pool_depth)
        total = np.zeros(n)
        items = candidates[pos]
        values = {k: v[pos] for k, v in scores.items()}
        parts = (
            self._contributions(items, values, scores, state)
            if explain
            else {MODEL: self._predict(items, values, scores, state)}
        )
        contributions = {name: np.zeros(n) for name in parts}
        for name, part in parts.items():
            contributions[name][pos] = part
        total[pos] = np.sum(list(parts.values()), axis=0)
        rest = np.ones(n, dtype=bool)
        rest[pos] = False
        if rest.any():
            # Below every pooled item, in the order of the fallback blend among themselves.
            floor = total[pos].min() - 1.0 if pos.size else 0.0
            blend = self._blend(lists).scores[rest]
            span = blend.max() - blend.min()
            share = (blend - blend.min()) / span if span > 0 else np.ones(blend.size)
            total[rest] = floor - 0.5 * (1.0 - share)
            contributions[OUTSIDE] = np.where(rest, total, 0.0)
        normalized = {k: _scaled(v) for k, v in scores.items()}
        return Fused(scores=total, contributions=contributions, normalized=normalized)

    def rescore(
        self, values: dict[str, np.ndarray], reference: dict[str, np.ndarray]
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        n = next(iter(values.values())).shape[0] if values else 0
        return self.rescore_user(None, np.full(n, -1, dtype=np.int64), values, reference)

    def rescore_user(
        self,
        state: UserState | None,
        items: np.ndarray,
        values: dict[str, np.ndarray],
        reference: dict[str, np.ndarray],
        *,
        explain: bool = True,
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The re-scored items as pooled items (leave-one-out asks how each top item's score moves)."""
        if not self.fitted or set(values) != set(self.scorers):
            return self._blend.rescore(values, reference)
        if not explain:
            total = self._predict(items, values, reference, state)
            return total, {MODEL: total}
        parts = self._contributions(items, values, reference, state)
        return np.sum(list(parts.values()), axis=0), parts

    def _contribution_names(self) -> list[str]:
        """Scorer names, then the context groups (suffixed where a scorer has the same name), then the base value."""
        taken = set(self.scorers)
        context = [g if g not in taken else g + LTR_SUFFIX for g in (*CONTEXT_GROUPS, BASE)]
        return [*self.scorers, *context]

    def _predict(
        self,
        items: np.ndarray,
        values: dict[str, np.ndarray],
        reference: dict[str, np.ndarray],
        state: UserState | None,
    ) -> np.ndarray:
        """The model's scores of ``items``: its linear base plus its trees."""
        assert self.stats is not None
        if items.size == 0:
            return np.zeros(0)
        x = features(self.stats, self.scorers, items, values, reference, state)
        linear = np.array([self.linear.get(name, 0.0) for name in self.scorers])
        trees = np.asarray(self.booster.predict(x)) if self.booster is not None else 0.0
        return np.nan_to_num(x[:, 0 : 2 * len(self.scorers) : 2]) @ linear + trees

    def _contributions(
        self,
        items: np.ndarray,
        values: dict[str, np.ndarray],
        reference: dict[str, np.ndarray],
        state: UserState | None,
    ) -> dict[str, np.ndarray]:
        """Per contribution name, each item's summed SHAP values (they add up to the model's score)."""
        assert self.stats is not None
        if items.size == 0:
            return {name: np.zeros(0) for name in self._contribution_names()}
        x = features(self.stats, self.scorers, items, values, reference, state)
        width = x.shape[1] + 1  # LightGBM's last column is the trees' base value
        shap = (
            np.asarray(self.booster.predict(x, pred_contrib=True))
            if self.booster is not None
            else np.zeros((items.size, width))
        )
        names = self._contribution_names()
        # By position, not by group name: a scorer may be called like a context group.
        context = dict(zip((*CONTEXT_GROUPS, BASE), names[len(self.scorers) :], strict=True))
        groups = feature_groups(self.scorers)
        columns = [*groups[: 2 * len(self.scorers)], *(context[g] for g in groups[2 * len(self.scorers) :])]
        out = {name: np.zeros(items.size) for name in names}
        for col, name in enumerate([*columns, context[BASE]]):
            out[name] += shap[:, col]
        # The linear blend the trees start from: each scorer's term is its own (its z-score is column 2j).
        for j, name in enumerate(self.scorers):
            out[name] += self.linear.get(name, 0.0) * np.nan_to_num(x[:, 2 * j])
        return out


def _scaled(scores: np.ndarray) -> np.ndarray:
    """Min-max scaled scores for the trace's "normalized" column (the model reads z-scores and ranks)."""
    out = np.full(scores.shape, np.nan)
    ok = np.isfinite(scores)
    if ok.any():
        lo, hi = scores[ok].min(), scores[ok].max()
        out[ok] = (scores[ok] - lo) / (hi - lo) if hi > lo else 0.0
    return out
