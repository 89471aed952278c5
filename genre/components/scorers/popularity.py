"""Popularity: how many interactions an item has (or a catalog popularity attribute)."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from genre.components.env import Env
from genre.core.component import ComponentConfig, Scorer
from genre.core.errors import ConfigError
from genre.core.types import Catalog, Evidence, Intent, ScoreList, UserState


def catalog_counts(catalog: Catalog) -> np.ndarray | None:
    """Interactions per item, or the catalog's popularity attribute; None when it has neither."""
    if catalog.interactions is not None and len(catalog.interactions):
        return np.bincount(catalog.interactions.item_index, minlength=len(catalog)).astype(np.float64)
    if catalog.popularity_field:
        field = catalog.popularity_field
        return np.array([float(i.attributes.get(field, 0) or 0) for i in catalog.items])
    return None


class PopularityConfig(ComponentConfig):
    half_life_days: float | None = Field(default=None, gt=0)
    """Time decay: an interaction this many days older than the newest counts half; unset counts all equally."""
    count_label: str = "interactions"
    """Noun for the count in evidence text (e.g. ratings, reviews, reads)."""


class PopularityScorer(Scorer):
    """log(1 + count) of each item's interactions, or of the catalog's popularity attribute."""

    Config = PopularityConfig
    config: PopularityConfig

    def prepare(self, env: Env) -> None:
        super().prepare(env)
        self.trend: np.ndarray | None = None
        catalog = env.catalog
        counts = catalog_counts(catalog)
        inter = catalog.interactions
        if counts is not None and inter is not None and len(inter) and self.config.half_life_days is not None:
            age_days = (inter.timestamps.max() - inter.timestamps) / 86400.0
            decayed = 0.5 ** (age_days / self.config.half_life_days)
            self.trend = np.bincount(inter.item_index, weights=decayed, minlength=len(catalog))
        if counts is None:
            raise ConfigError(
                f"scorer 'popularity' needs interactions, but the {catalog.name} catalog has none; "
                "set data.popularity_field to an item attribute holding a count (e.g. review_count)"
            )
        self.counts = counts
        self.log_counts = np.log1p(self.trend if self.trend is not None else counts)

    def __call__(self, state: UserState, intent: Intent, candidates: np.ndarray) -> ScoreList:
        return ScoreList("popularity", self.log_counts[candidates])

    def explain(self, state: UserState, items: np.ndarray) -> dict[int, list[Evidence]]:
        return {
            int(i): [
                Evidence("popularity", f"{int(self.counts[i]):,} {self.config.count_label}", float(self.counts[i]))
            ]
            for i in items
        }
