"""Zero-shot labels plus a one-sentence summary of what the user wants now, written by the local generator."""

from __future__ import annotations

from pydantic import Field

from genre.components.env import Env
from genre.components.intent.zero_shot import ZeroShotConfig, ZeroShotIntent
from genre.core.types import Intent, UserState
from genre.text.hygiene import clean_reason, sanitize_user_text

__all__ = ["LLMSummaryConfig", "LLMSummaryIntent"]


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

        self.generator = load_generator(env.device, precision=env.precision_for_generator())
        self.catalog = env.catalog

    def __call__(self, state: UserState) -> Intent:
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
