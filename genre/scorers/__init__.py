"""Scorers: independent components, one ScoreList each over the same candidates."""

from genre.components import Scorer
from genre.scorers.content import ContentScorer
from genre.scorers.popularity import PopularityScorer

__all__ = ["ContentScorer", "PopularityScorer", "Scorer"]
