"""Scorers: independent components, one ScoreList each over the same candidates."""

from genre.components import Scorer
from genre.scorers.attributes import PreferenceScorer, PriceFitScorer
from genre.scorers.bpr import BprScorer
from genre.scorers.collaborative import EaseScorer, ItemKNNScorer
from genre.scorers.content import ContentScorer
from genre.scorers.intent_match import IntentMatchScorer
from genre.scorers.popularity import PopularityScorer
from genre.scorers.sasrec import SasRecScorer

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
