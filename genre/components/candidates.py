"""Stage 3, candidates: the catalog minus seen items, filtered by the user's constraints."""

from __future__ import annotations

import numpy as np

from genre.components.env import Env
from genre.core.component import CandidateGenerator, ComponentConfig
from genre.core.errors import InputError
from genre.core.types import CandidateSet, UserState


class FilterConfig(ComponentConfig):
    exclude_seen: bool = True
    """Drop items already in the user's history."""


class CandidateFilter(CandidateGenerator):
    """Unseen items that satisfy the price range and category constraints."""

    Config = FilterConfig
    config: FilterConfig

    def prepare(self, env: Env) -> None:
        super().prepare(env)
        self.catalog = env.catalog
        self.prices = np.array([np.nan if i.price is None else i.price for i in env.catalog.items])
        self.categories = self.catalog.category_names()
        # One pass over the items here, so a category constraint costs array work per request, not a
        # pass over every item (seconds on a catalog of millions).
        position = {name: column for column, name in enumerate(self.categories)}
        self.in_category = np.zeros((len(self.categories), len(self.catalog)), dtype=bool)
        for row, item in enumerate(env.catalog.items):
            for name in item.categories:
                self.in_category[position[name], row] = True

    def __call__(self, state: UserState) -> CandidateSet:
        keep, excluded = self.keep_mask(state)
        return CandidateSet(index=np.flatnonzero(keep).astype(np.int64), excluded=excluded)

    def keep_mask(self, state: UserState) -> tuple[np.ndarray, dict[str, int]]:
        """(which catalog items pass, as a boolean mask; how many were dropped per reason).

        A stage that searches among the passing items (``ann``) takes the mask as it is: on a catalog
        of millions, turning it into indices and back costs more than the search.
        """
        ctx = state.context
        keep = np.ones(len(self.catalog), dtype=bool)
        excluded: dict[str, int] = {}

        def drop(reason: str, mask: np.ndarray) -> None:
            newly = keep & mask
            if newly.any():
                excluded[reason] = excluded.get(reason, 0) + int(newly.sum())
            keep[mask] = False

        def drop_ids(reason: str, item_ids: list[str]) -> None:
            # By index, not by a catalog-sized mask: a history is short and a catalog may be millions.
            rows = np.unique([i for i in map(self.catalog.index_of, item_ids) if i is not None]).astype(np.int64)
            newly = int(keep[rows].sum())
            if newly:
                excluded[reason] = excluded.get(reason, 0) + newly
            keep[rows] = False

        if self.config.exclude_seen:
            drop_ids("seen", [e.item_id for e in ctx.history])
        if ctx.exclude:
            drop_ids("excluded", ctx.exclude)

        c = ctx.constraints
        if c.price_min is not None or c.price_max is not None:
            if np.isnan(self.prices).all():
                raise InputError(f"the {self.catalog.name} catalog has no prices, so a price range cannot apply")
            lo = -np.inf if c.price_min is None else c.price_min
            hi = np.inf if c.price_max is None else c.price_max
            with np.errstate(invalid="ignore"):
                drop("price", ~((self.prices >= lo) & (self.prices <= hi)))
        if c.categories:
            unknown = [x for x in c.categories if x not in self.categories]
            if unknown:
                raise InputError(
                    f"unknown categories {', '.join(map(repr, unknown))}; valid: {', '.join(self.categories)}"
                )
            rows = [self.categories.index(name) for name in dict.fromkeys(c.categories)]
            in_any = np.logical_or.reduce(self.in_category[rows], axis=0)
            drop("category", ~in_any)
        return keep, excluded
