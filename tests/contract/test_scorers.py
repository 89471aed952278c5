"""The scorer contract for every built-in scorer."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from genre.core.component import Attends
from tests.contract.base import ScorerContract


class TestPopularity(ScorerContract):
    component = "popularity"
    config: ClassVar[dict] = {"count_label": "reviews"}
    scores_without_a_user = True


class TestContent(ScorerContract):
    component = "content"


class TestIntentMatch(ScorerContract):
    component = "intent-match"


class TestPriceFit(ScorerContract):
    component = "price-fit"


class TestPreference(ScorerContract):
    component = "preference"


class TestItemKNN(ScorerContract):
    component = "itemknn"
    config: ClassVar[dict] = {"neighbors": 3}
    needs_interactions = True


class TestEase(ScorerContract):
    component = "ease"
    config: ClassVar[dict] = {"l2": 1.0}
    needs_interactions = True


class TestBpr(ScorerContract):
    component = "bpr"
    config: ClassVar[dict] = {"dims": 4, "epochs": 3, "batch_size": 16}
    needs_interactions = True


class TestSasRec(ScorerContract):
    component = "sasrec"
    config: ClassVar[dict] = {"max_len": 4, "hidden": 8, "heads": 2, "layers": 1, "epochs": 2, "batch_size": 8}
    needs_interactions = True

    def test_attends_over_the_history(self, built, state):
        assert isinstance(built, Attends)
        weights = built.attention(state, np.array([1, 6]))
        assert set(weights) == {1, 6}
        for w in weights.values():
            assert w.shape == (state.seen_index.size,) and w.sum() == pytest.approx(1.0)


class TestPda(ScorerContract):
    component = "pda"
    config: ClassVar[dict] = {"dims": 4, "epochs": 3, "batch_size": 16, "gamma": 0.1}
    needs_interactions = True


class TestPdaAdjusting(ScorerContract):
    component = "pda"
    config: ClassVar[dict] = {"dims": 4, "epochs": 3, "batch_size": 16, "mode": "pda", "trend": 1.0}
    needs_interactions = True
