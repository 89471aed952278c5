"""No intent stage: downstream components see an empty intent."""

from __future__ import annotations

from genre.core.component import EmptyConfig, IntentModel
from genre.core.types import Intent, UserState

__all__ = ["NoIntent"]


class NoIntent(IntentModel):
    """No intent stage: downstream components see an empty intent."""

    Config = EmptyConfig

    def __call__(self, state: UserState) -> Intent:
        return Intent(source="none")
