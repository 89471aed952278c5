"""Re-rankers applied after fusion: diversity (MMR) and popularity-bias correction."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from genre.components.env import Env
from genre.components.fusion import normalize
from genre.components.scorers.popularity import catalog_counts
from genre.core.component import ComponentConfig, Reranker
from genre.core.types import Fused


class PopularityBiasConfig(ComponentConfig):
    beta: float = Field(default=0.1, ge=0, le=2)
    """Penalty per unit of normalized log-popularity; 0 disables it."""


class PopularityBiasCorrection(Reranker):
    """Subtracts beta x normalized log-popularity, recorded as its own (negative) contribution."""

    Config = PopularityBiasConfig
    config: PopularityBiasConfig

    def prepare(self, env: Env) -> None:
        super().prepare(env)
        counts = catalog_counts(env.catalog)
        self.log_pop = np.log1p(counts if counts is not None else np.zeros(len(env.catalog)))

    def __call__(self, candidates: np.ndarray, fused: Fused, k: int) -> Fused:
        penalty = -self.config.beta * np.nan_to_num(normalize(self.log_pop[candidates], "minmax"))
        contributions = {**fused.contributions, "popularity-bias": penalty}
        return Fused(fused.scores + penalty, contributions, fused.normalized)


class MMRConfig(ComponentConfig):
    diversity: float = Field(default=0.3, ge=0, le=1)
    """MMR trade-off: 0 keeps the fused order, 1 only avoids similar items (λ = 1 - diversity)."""
    pool: int = Field(default=50, ge=2, le=1000)
    """How many top fused items MMR re-orders."""


class MMRDiversity(Reranker):
    """Maximal Marginal Relevance over item embeddings: each pick trades score against similarity to earlier picks."""

    Config = MMRConfig
    config: MMRConfig

    def prepare(self, env: Env) -> None:
        super().prepare(env)
        self.vectors = env.item_vectors.astype(np.float64)

    def __call__(self, candidates: np.ndarray, fused: Fused, k: int) -> Fused:
        base = np.lexsort((candidates, -fused.scores)) if fused.order is None else fused.order
        pool = base[: max(self.config.pool, k)]
        rel = normalize(fused.scores[pool], "minmax")
        rel = np.nan_to_num(rel)
        vecs = self.vectors[candidates[pool]]
        sims = vecs @ vecs.T
        lam = 1.0 - self.config.diversity
        chosen: list[int] = []
        max_sim = np.full(pool.size, -np.inf)
        remaining = np.ones(pool.size, dtype=bool)
        for _ in range(min(k, pool.size)):
            penalty = np.where(np.isfinite(max_sim), max_sim, 0.0)
            objective = np.where(remaining, lam * rel - (1 - lam) * penalty, -np.inf)
            pick = int(np.argmax(objective))
            chosen.append(pick)
            remaining[pick] = False
            max_sim = np.maximum(max_sim, sims[pick])
        head = pool[chosen]
        rest = np.array([p for p in base if p not in set(head.tolist())], dtype=np.int64)
        return Fused(fused.scores, fused.contributions, fused.normalized, order=np.concatenate([head, rest]))
