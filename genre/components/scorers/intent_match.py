"""Intent match: how well each item's text embedding matches the intent vector y."""

from __future__ import annotations

import numpy as np

from genre.components.env import Env
from genre.components.scorers.content import similarity_rows
from genre.core.component import EmptyConfig, Scorer
from genre.core.types import Evidence, Intent, ScoreList, UserState


class IntentMatchScorer(Scorer):
    """Cosine similarity between item embeddings and the intent stage's vector."""

    Config = EmptyConfig

    def prepare(self, env: Env) -> None:
        super().prepare(env)
        self.vectors = env.item_vectors.astype(np.float64)

    def __call__(self, state: UserState, intent: Intent, candidates: np.ndarray) -> ScoreList:
        if intent.vector is None:
            note = "the intent stage produced no intent vector (no history or profile, or intent = none)"
            return ScoreList("intent", np.full(candidates.shape[0], np.nan), note=note)
        return ScoreList("intent", self.vectors[candidates] @ np.asarray(intent.vector))

    def score_users(
        self, states: list[UserState], intents: list[Intent], items: np.ndarray | None = None
    ) -> np.ndarray:
        return similarity_rows([i.vector for i in intents], self.vectors if items is None else self.vectors[items])

    def explain(self, state: UserState, items: np.ndarray) -> dict[int, list[Evidence]]:
        intent = state.intent
        if intent is None or intent.vector is None or not intent.labels:
            return {int(i): [] for i in items}
        y = np.asarray(intent.vector)
        label = ", ".join(lab.label for lab in intent.labels[:2])
        return {int(i): [Evidence("intent", f"your intent: {label}", float(self.vectors[int(i)] @ y))] for i in items}
