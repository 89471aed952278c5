"""Scorers: independent components, one ScoreList each over the same candidates.

The names below load on first use: importing one scorer's module (as config validation does
for the scorers a config names) runs this file first, and must not pull in SASRec's torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from genre.core.component import Scorer

_EXPORTS = {
    "BprScorer": "genre.components.scorers.bpr",
    "ContentScorer": "genre.components.scorers.content",
    "EaseScorer": "genre.components.scorers.collaborative",
    "IntentMatchScorer": "genre.components.scorers.intent_match",
    "ItemKNNScorer": "genre.components.scorers.collaborative",
    "PopularityScorer": "genre.components.scorers.popularity",
    "PreferenceScorer": "genre.components.scorers.attributes",
    "PriceFitScorer": "genre.components.scorers.attributes",
    "SasRecScorer": "genre.components.scorers.sasrec",
}

if TYPE_CHECKING:
    from genre.components.scorers.attributes import PreferenceScorer, PriceFitScorer
    from genre.components.scorers.bpr import BprScorer
    from genre.components.scorers.collaborative import EaseScorer, ItemKNNScorer
    from genre.components.scorers.content import ContentScorer
    from genre.components.scorers.intent_match import IntentMatchScorer
    from genre.components.scorers.popularity import PopularityScorer
    from genre.components.scorers.sasrec import SasRecScorer

__all__ = [
    "BprScorer",
    "ContentScorer",
    "EaseScorer",
    "IntentMatchScorer",
    "ItemKNNScorer",
    "PopularityScorer",
    "PreferenceScorer",
    "PriceFitScorer",
    "SasRecScorer",
    "Scorer",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'genre.components.scorers' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
