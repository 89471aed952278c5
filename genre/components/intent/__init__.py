"""Stage 2, intent: what the user wants now (zero-shot labels, an LLM summary, a trained head, or none)."""

from genre.components.intent.head import (
    TrainedHeadConfig,
    TrainedIntentHead,
    history_means,
    item_labels,
    next_item_label_counts,
    user_sequences,
)
from genre.components.intent.llm_summary import LLMSummaryConfig, LLMSummaryIntent
from genre.components.intent.none import NoIntent
from genre.components.intent.zero_shot import ZeroShotConfig, ZeroShotIntent

__all__ = [
    "LLMSummaryConfig",
    "LLMSummaryIntent",
    "NoIntent",
    "TrainedHeadConfig",
    "TrainedIntentHead",
    "ZeroShotConfig",
    "ZeroShotIntent",
    "history_means",
    "item_labels",
    "next_item_label_counts",
    "user_sequences",
]
