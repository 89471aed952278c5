"""Scorers: independent components, one ScoreList each over the same candidates."""

from genre.components.scorers.attributes import PreferenceScorer, PriceFitScorer
from genre.components.scorers.bpr import BprScorer
from genre.components.scorers.collaborative import EaseScorer, ItemKNNScorer
from genre.components.scorers.content import ContentScorer
from genre.components.scorers.intent_match import IntentMatchScorer
from genre.components.scorers.popularity import PopularityScorer
from genre.components.scorers.sasrec import SasRecScorer
from genre.core.component import Scorer

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
