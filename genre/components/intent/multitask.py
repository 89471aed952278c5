"""The multi-task SASRec's label head as the intent stage: the next item's likely genres or categories.

It reads the model the ``sasrec-multitask`` scorer trains: with the same model options as that
scorer it finds the same saved artifact, so a pipeline using both trains the model once (whichever
stage prepares first trains and saves it; the other loads it).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from genre.components.context import unit
from genre.components.env import Env
from genre.components.scorers.multitask import MultiTaskConfig, MultiTaskSasRecScorer
from genre.core.component import IntentModel
from genre.core.errors import ConfigError
from genre.core.types import Intent, IntentLabel, UserState

NAME = "multitask-head"


class MultiTaskHeadConfig(MultiTaskConfig):
    top_n: int = Field(default=5, ge=1, le=100)
    """How many labels to report (the model options above must match the scorer's to share its model)."""
    joint: float = Field(default=0.5, ge=0.0, le=1.0)
    """In choosing the labels, the weight of the next-item head's estimate (labels that come together
    on one item) against the label head's taken label by label; 0 is the label head's own order."""


class MultiTaskIntentHead(IntentModel):
    """The multi-task SASRec's label head: the user's history -> the genres/categories of the next item.

    Labels come in coverage order: each adds the most chance that one of the labels so far is among
    the next item's, estimated from the label head and the next-item head (``joint``); a label's
    probability is the chance it adds, so the probabilities never increase. The intent vector is the
    unit mix of the label embeddings weighted by the label head's probabilities, as ``trained-head``'s.
    Measured by ``python -m genre evaluate`` beside the majority baseline.
    """

    Config = MultiTaskHeadConfig
    config: MultiTaskHeadConfig
    ARTIFACT_VERSION: ClassVar[int] = MultiTaskSasRecScorer.ARTIFACT_VERSION
    """The model's version: this stage saves nothing of its own."""

    def prepare(self, env: Env) -> None:
        super().prepare(env)
        self.model = MultiTaskSasRecScorer(MultiTaskConfig(**self.config.model_dump(exclude={"top_n", "joint"})))
        self.model.prepare(env)
        if not self.model.labels:
            raise ConfigError(
                f"intent component {NAME!r} reads the multi-task model's label head, which is off: "
                f"{'; '.join(self.model.notices) or 'genre_weight is 0'}; set genre_weight above 0 and a "
                "label_field with two or more labels, or use intent component 'zero-shot'"
            )
        self.labels = self.model.labels
        self.label_field = self.config.label_field
        self.label_vectors = env.embedder.encode(self.labels).astype(np.float64)

    def predict_proba(self, states: list[UserState]) -> np.ndarray:
        """Label probabilities, shape (n_users, n_labels), columns in ``labels`` order; NaN rows without history."""
        return self.model.label_probabilities([s.seen_index for s in states])

    def top_labels(self, states: list[UserState], k: int) -> tuple[np.ndarray, np.ndarray]:
        """Each user's ``k`` best labels in coverage order and their gains (the scorer's ``top_labels``)."""
        return self.model.top_labels([s.seen_index for s in states], k, self.config.joint)

    def __call__(self, state: UserState) -> Intent:
        probs = self.predict_proba([state])[0]
        if np.isnan(probs).any():
            return Intent(source=NAME)
        top, gains = self.top_labels([state], self.config.top_n)
        labels = [
            IntentLabel(label=self.labels[i], probability=round(float(g), 4))
            for i, g in zip(top[0].tolist(), gains[0].tolist(), strict=True)
        ]
        return Intent(labels=labels, source=NAME, vector=unit(probs @ self.label_vectors).tolist())
