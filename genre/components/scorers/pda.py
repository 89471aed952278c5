"""PDA: popularity-deconfounded matrix factorization (Zhang et al., "Causal Intervention for Leveraging
Popularity Bias in Recommendation", SIGIR 2021).

Item popularity Z confounds what is observed: it raises an item's exposure (Z -> I) and the chance of an
interaction (Z -> C), so a model fitted to clicks learns "popular" as if it were "matching". PDA models that
path during training, then cuts it at inference:

- **Training** fits BPR on P(c | u, i, m_i) = ELU'(f(u, i)) * m_i ** gamma, with f(u, i) = p_u . q_i (no item
  bias, which would soak popularity back up), ELU'(x) = ELU(x) + 1 > 0, and m_i the item's training
  interactions divided by the largest count. Popularity explains its share of the clicks, so f is left
  with the user's match.
- **Inference, ``mode = "pd"``** (popularity deconfounding): do(Z) makes m_i the same for every item, so
  items rank by ELU'(f(u, i)), i.e. by f(u, i) (the score this scorer returns).
- **Inference, ``mode = "pda"``** (popularity adjusting): popularity that is *expected* is put back on
  purpose: ELU'(f(u, i)) * m~_i ** gamma_adjust, with m~_i the predicted popularity of the next period,
  extrapolated from the last two windows of training time (m~ = m_last + trend * (m_last - m_prev), each
  normalized by its largest count; floored at 1e-6 so a recently silent item still ranks by f among its kind).

``gamma`` is the one knob of the intervention: 0 is plain BPR without item bias, larger values let
popularity explain more of the training clicks (the paper searches 0.02-0.25). The imbalance options, the
fold-in of unknown users, explicit negatives, warm starts and the evidence are BPR's (this class extends it).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field
from scipy import sparse

from genre.components.env import Env
from genre.components.scorers.bpr import BprConfig, BprScorer

MIN_ADJUST_POPULARITY = 1e-6
"""Floor of the predicted popularity in ``pda`` mode (a zero would tie every such item at 0)."""


class PdaConfig(BprConfig):
    gamma: float = Field(default=0.1, ge=0.0, le=1.0)
    """Popularity exponent during training: the share of the clicks popularity is allowed to explain
    (0 = plain MF; the paper's best values lie in 0.02-0.25)."""
    mode: Literal["pd", "pda"] = "pd"
    """`pd`: rank by the deconfounded match f(u, i) alone (do(popularity)). `pda`: multiply ELU'(f) by the
    predicted next-period popularity ** gamma_adjust, to recommend what is about to be popular."""
    gamma_adjust: float | None = Field(default=None, ge=0.0, le=1.0)
    """Exponent of the predicted popularity in `pda` mode; unset uses `gamma`."""
    trend_window: float = Field(default=0.1, gt=0.0, le=0.5)
    """`pda` mode: share of the training time span that makes the last window (and the one before it)."""
    trend: float = Field(default=0.5, ge=0.0, le=2.0)
    """`pda` mode: how far the change between the last two windows is extrapolated (0 = last window only)."""

    def artifact_params(self) -> dict[str, Any]:
        # Inference options (mode, gamma_adjust, trend) do not change the trained factors.
        return self.model_dump(exclude={"mode", "gamma_adjust", "trend_window", "trend"})


class PdaScorer(BprScorer):
    """PDA: matrix factorization trained with popularity as a confounder, ranked with it removed
    (`pd`) or replaced by the predicted popularity (`pda`)."""

    Config = PdaConfig
    config: PdaConfig

    ARTIFACT_VERSION: ClassVar[int] = 1
    """Version of the training and the saved factors; bump it when either changes (older state is then a miss)."""
    NAME: ClassVar[str] = "pda"
    ITEM_BIAS: ClassVar[bool] = False

    def prepare(self, env: Env) -> None:
        super().prepare(env)
        self.adjust: np.ndarray | None = None
        if self.config.mode == "pda":
            gamma = self.config.gamma if self.config.gamma_adjust is None else self.config.gamma_adjust
            self.adjust = predicted_popularity(env, self.config.trend_window, self.config.trend) ** gamma

    def _pair_diff_fn(self, x: sparse.csr_matrix, device: str) -> Any:
        import torch as t

        counts = np.asarray(x.sum(axis=0)).ravel()
        weight = t.as_tensor(training_popularity(counts) ** self.config.gamma, dtype=t.float32, device=device)

        def diff(pu: Any, qi: Any, qj: Any, bi: Any, bj: Any, i: Any, j: Any) -> Any:
            elu = t.nn.functional.elu
            pos = (elu((pu * qi).sum(-1)) + 1.0) * weight[i]
            neg = (elu((pu * qj).sum(-1)) + 1.0) * weight[j]
            return pos - neg

        return diff

    def _ranking_scores(self, raw: np.ndarray, items: np.ndarray) -> np.ndarray:
        if self.adjust is None:
            return raw
        elu_plus_one = np.where(raw > 0, raw + 1.0, np.exp(np.minimum(raw, 0.0)))
        return elu_plus_one * self.adjust[items][None, :]


def training_popularity(counts: np.ndarray) -> np.ndarray:
    """m_i: each item's training interactions over the largest count (all zeros without any)."""
    counts = np.asarray(counts, dtype=np.float64)
    top = counts.max() if counts.size else 0.0
    return counts / top if top > 0 else np.zeros_like(counts)


def predicted_popularity(env: Env, window: float, trend: float) -> np.ndarray:
    """m~_i = m_last + trend * (m_last - m_prev) over the last two ``window`` shares of the training time
    span, each normalized by its largest count, floored at ``MIN_ADJUST_POPULARITY``."""
    inter = env.interactions(PdaScorer.NAME)
    n_items = len(env.catalog)
    ts = inter.timestamps
    end, span = float(ts.max()), float(ts.max() - ts.min())
    last = ts > end - window * span
    prev = (ts > end - 2 * window * span) & ~last
    m_last = training_popularity(np.bincount(inter.item_index[last], minlength=n_items))
    m_prev = training_popularity(np.bincount(inter.item_index[prev], minlength=n_items))
    return np.maximum(m_last + trend * (m_last - m_prev), MIN_ADJUST_POPULARITY)
