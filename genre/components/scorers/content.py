"""Content similarity: item text embeddings against the recency-weighted user vector."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from genre.components.env import Env
from genre.core.component import ComponentConfig, Scorer
from genre.core.types import Evidence, Intent, ScoreList, UserState


def similarity_rows(queries: list[np.ndarray | list[float] | None], vectors: np.ndarray) -> np.ndarray:
    """Dot products of each query with every row of ``vectors``; a NaN row where a query is missing."""
    out = np.full((len(queries), vectors.shape[0]), np.nan)
    rows = [r for r, q in enumerate(queries) if q is not None]
    if rows:
        out[rows] = np.array([queries[r] for r in rows], dtype=np.float64) @ vectors.T
    return out


class ContentConfig(ComponentConfig):
    evidence_items: int = Field(default=3, ge=1, le=20)
    """How many history items to report as evidence for each scored item."""


class ContentScorer(Scorer):
    """Cosine similarity between each item's text embedding and the user vector u."""

    Config = ContentConfig
    config: ContentConfig

    def prepare(self, env: Env) -> None:
        super().prepare(env)
        self.catalog = env.catalog
        self.vectors = env.item_vectors.astype(np.float64)

    def __call__(self, state: UserState, intent: Intent, candidates: np.ndarray) -> ScoreList:
        if state.vector is None:
            return ScoreList("content", np.full(candidates.shape[0], np.nan), note="no history or profile to compare")
        return ScoreList("content", self.vectors[candidates] @ state.vector)

    def score_users(
        self, states: list[UserState], intents: list[Intent], items: np.ndarray | None = None
    ) -> np.ndarray:
        return similarity_rows([s.vector for s in states], self.vectors if items is None else self.vectors[items])

    def explain(self, state: UserState, items: np.ndarray) -> dict[int, list[Evidence]]:
        out: dict[int, list[Evidence]] = {}
        hist = state.history_index
        for i in items:
            i = int(i)
            ev: list[Evidence] = []
            if hist.size:
                sims = self.vectors[hist] @ self.vectors[i]
                # What each history item adds to u·v, up to u's normalization.
                share = (1 - state.profile_weight) * state.history_weights * sims
                order = np.argsort(-share, kind="stable")[: self.config.evidence_items]
                for j in order:
                    item = self.catalog.items[int(hist[j])]
                    ev.append(Evidence("history_item", item.title, float(sims[j]), item_id=item.item_id))
            if state.profile_vector is not None:
                ev.append(Evidence("profile", "your profile text", float(self.vectors[i] @ state.profile_vector)))
            out[i] = ev
        return out
