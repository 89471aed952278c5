"""Zero-shot intent labels: the user vector against the embedded labels of the domain's taxonomy."""

from __future__ import annotations

import numpy as np
from pydantic import Field, field_validator

from genre.components.context import unit
from genre.components.env import Env
from genre.core.component import ComponentConfig, IntentModel
from genre.core.types import Intent, IntentLabel, UserState

__all__ = ["ZeroShotConfig", "ZeroShotIntent"]


class ZeroShotConfig(ComponentConfig):
    labels: list[str] = Field(min_length=2)
    """The domain's intent taxonomy: short phrases (genres, moods, needs, topics)."""
    top_n: int = Field(default=3, ge=1)
    """How many labels to report."""
    temperature: float = Field(default=0.05, gt=0)
    """Softmax temperature over cosine similarities; lower is more peaked."""

    @field_validator("labels")
    @classmethod
    def _distinct(cls, v: list[str]) -> list[str]:
        cleaned = [s.strip() for s in v]
        if any(not s for s in cleaned):
            raise ValueError("labels must be non-empty strings")
        if len(set(cleaned)) != len(cleaned):
            raise ValueError("labels must be distinct")
        return cleaned


class ZeroShotIntent(IntentModel):
    """Zero-shot intent labels: the user vector against embedded taxonomy labels."""

    Config = ZeroShotConfig
    config: ZeroShotConfig

    def prepare(self, env: Env) -> None:
        super().prepare(env)
        self.label_vectors = env.embedder.encode(self.config.labels).astype(np.float64)

    def __call__(self, state: UserState) -> Intent:
        if state.vector is None:
            return Intent(source="zero-shot", summary=None)
        sims = self.label_vectors @ state.vector
        logits = sims / self.config.temperature
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        order = np.argsort(-probs, kind="stable")[: self.config.top_n]
        labels = [IntentLabel(label=self.config.labels[i], probability=round(float(probs[i]), 4)) for i in order]
        vector = unit(probs @ self.label_vectors)
        return Intent(labels=labels, source="zero-shot", vector=vector.tolist())
