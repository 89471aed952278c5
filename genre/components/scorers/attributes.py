"""Attribute scorers for product catalogs: price fit and category/brand preference."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from genre.components.env import Env
from genre.core.component import ComponentConfig, Scorer
from genre.core.types import Evidence, Intent, ScoreList, UserState


class PriceFitConfig(ComponentConfig):
    tolerance: float = Field(default=0.5, gt=0, le=5)
    """Width of the fit in log-price units: at this distance from the target the score is e^-1."""


class PriceFitScorer(Scorer):
    """Prefers prices near the user's stated range (its centre) or, without one, near their usual spend."""

    Config = PriceFitConfig
    config: PriceFitConfig

    def prepare(self, env: Env) -> None:
        super().prepare(env)
        self.log_prices = np.log(
            np.array([np.nan if i.price is None or i.price <= 0 else i.price for i in env.catalog.items])
        )

    def target(self, state: UserState) -> tuple[float, str] | None:
        """Target log-price and where it came from; None when there is nothing to go on."""
        c = state.context.constraints
        if c.price_min is not None and c.price_max is not None and c.price_max > 0:
            lo = max(c.price_min, 1e-2)
            return (np.log(lo) + np.log(c.price_max)) / 2, f"your range ${c.price_min:,.0f}-${c.price_max:,.0f}"
        hist = state.history_index
        prices = self.log_prices[hist] if hist.size else np.zeros(0)
        ok = np.isfinite(prices)
        if ok.any():
            w = state.history_weights[ok]
            t = float(np.average(prices[ok], weights=w if w.sum() > 0 else None))
            return t, f"your usual spend (about ${np.exp(t):,.0f})"
        if c.price_max is not None:
            return np.log(max(c.price_max, 1e-2)) - self.config.tolerance, f"your budget of ${c.price_max:,.0f}"
        return None

    def __call__(self, state: UserState, intent: Intent, candidates: np.ndarray) -> ScoreList:
        target = self.target(state)
        if target is None:
            return ScoreList("price", np.full(candidates.shape[0], np.nan), note="no price range or priced history")
        d = (self.log_prices[candidates] - target[0]) / self.config.tolerance
        return ScoreList("price", np.exp(-(d**2)))

    def explain(self, state: UserState, items: np.ndarray) -> dict[int, list[Evidence]]:
        target = self.target(state)
        if target is None:
            return {int(i): [] for i in items}
        out: dict[int, list[Evidence]] = {}
        for i in items:
            price = self.env.catalog.items[int(i)].price
            if price is None:
                out[int(i)] = []
                continue
            d = (np.log(price) - target[0]) / self.config.tolerance
            # "fits" only within one tolerance of the target: a $1,349 machine does not fit a $32 usual spend,
            # and this label reaches reasons through the fact plan's strongest-component phrase.
            relation = "fits" if abs(d) <= 1 else "is above" if d > 0 else "is below"
            out[int(i)] = [Evidence("attribute", f"${price:,.2f} {relation} {target[1]}", float(np.exp(-(d**2))))]
        return out


class PreferenceConfig(ComponentConfig):
    category_weight: float = Field(default=1.0, ge=0)
    """Weight of the share of (recency-weighted) history in the item's category."""
    brand_weight: float = Field(default=0.5, ge=0)
    """Weight of the share of history from the item's brand."""
    brand_attribute: str = "brand"
    """Item attribute holding the brand."""


class PreferenceScorer(Scorer):
    """Category and brand affinity: the recency-weighted share of history sharing each."""

    Config = PreferenceConfig
    config: PreferenceConfig

    def prepare(self, env: Env) -> None:
        super().prepare(env)
        items = env.catalog.items
        self.categories = [set(i.categories) for i in items]
        self.brands = [i.attributes.get(self.config.brand_attribute) for i in items]

    def _affinities(self, state: UserState) -> tuple[dict[str, float], dict[str, float]] | None:
        if state.history_index.size == 0:
            return None
        cats: dict[str, float] = {}
        brands: dict[str, float] = {}
        for idx, w in zip(state.history_index, state.history_weights, strict=True):
            for c in self.categories[int(idx)]:
                cats[c] = cats.get(c, 0.0) + float(w)
            b = self.brands[int(idx)]
            if b:
                brands[b] = brands.get(b, 0.0) + float(w)
        return cats, brands

    def __call__(self, state: UserState, intent: Intent, candidates: np.ndarray) -> ScoreList:
        aff = self._affinities(state)
        if aff is None:
            return ScoreList("preference", np.full(candidates.shape[0], np.nan), note="no history")
        cats, brands = aff
        scores = np.array(
            [
                self.config.category_weight * max((cats.get(c, 0.0) for c in self.categories[int(i)]), default=0.0)
                + self.config.brand_weight * brands.get(self.brands[int(i)] or "", 0.0)
                for i in candidates
            ]
        )
        return ScoreList("preference", scores)

    def explain(self, state: UserState, items: np.ndarray) -> dict[int, list[Evidence]]:
        aff = self._affinities(state)
        out: dict[int, list[Evidence]] = {}
        for i in items:
            i = int(i)
            ev: list[Evidence] = []
            if aff is not None:
                cats, brands = aff
                for c in sorted(self.categories[i]):
                    if cats.get(c):
                        ev.append(Evidence("attribute", f"{cats[c]:.0%} of your recent history is {c}", cats[c]))
                b = self.brands[i]
                if b and brands.get(b):
                    ev.append(Evidence("attribute", f"you have bought from {b} before", brands[b]))
            out[i] = ev
        return out
