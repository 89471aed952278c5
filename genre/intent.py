"""Stage 2, intent: what the user wants now."""

from __future__ import annotations

import numpy as np
from pydantic import Field, field_validator

from genre.components import Component, ComponentConfig, EmptyConfig, Env
from genre.context import unit
from genre.types import Intent, IntentLabel, UserState


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


class ZeroShotIntent(Component):
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


class NoIntent(Component):
    """No intent stage: downstream components see an empty intent."""

    Config = EmptyConfig

    def __call__(self, state: UserState) -> Intent:
        return Intent(source="none")


class LLMSummaryConfig(ZeroShotConfig):
    max_new_tokens: int = Field(default=40, ge=8, le=200)
    """Length budget of the one-sentence summary."""
    history_titles: int = Field(default=8, ge=1, le=50)
    """How many of the most recent history titles the generator sees."""


class LLMSummaryIntent(ZeroShotIntent):
    """Zero-shot labels plus a one-sentence "what this user wants now" written by the local generator.

    The generator sees recent history titles, the top labels and the profile text after
    sanitization (instruction-like phrases removed), and only ever writes the summary, which is
    display text: no downstream decision reads it.
    """

    Config = LLMSummaryConfig
    config: LLMSummaryConfig

    def prepare(self, env: Env) -> None:
        super().prepare(env)
        from genre.models import load_generator

        self.generator = load_generator(env.device)
        self.catalog = env.catalog

    def __call__(self, state: UserState) -> Intent:
        from genre.explain.generators import clean_reason, sanitize_user_text

        intent = super().__call__(state)
        if state.vector is None:
            return intent.model_copy(update={"source": "llm-summary"})
        titles = [self.catalog.items[int(i)].title for i in state.seen_index[-self.config.history_titles :]]
        lines = []
        if titles:
            lines.append("Recently enjoyed: " + "; ".join(titles))
        if state.context.profile:
            lines.append("In their own words: " + sanitize_user_text(state.context.profile, max_chars=600))
        if intent.labels:
            lines.append("Likely interests: " + ", ".join(lab.label for lab in intent.labels))
        lines.append("In one sentence, say what this person wants right now. Do not name any titles.")
        text = self.generator.generate(["\n".join(lines)], max_new_tokens=self.config.max_new_tokens)[0]
        summary = clean_reason(text) or None
        return intent.model_copy(update={"summary": summary, "source": "llm-summary"})
