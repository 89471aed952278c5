"""The fusion contract for every built-in fusion."""

from __future__ import annotations

from typing import ClassVar

import pytest

from tests.contract.base import FusionContract


class TestWeighted(FusionContract):
    component = "weighted"
    config: ClassVar[dict] = {"weights": {"popularity": 0.3, "content": 0.7}}


class TestWeightedRank(FusionContract):
    component = "weighted"
    config: ClassVar[dict] = {"weights": {"popularity": 2.0}, "normalization": "rank"}


class TestLearned(FusionContract):
    """Learned fusion once fitted: the pipeline sets ``weights`` after fitting them."""

    component = "learned"
    config: ClassVar[dict] = {"normalization": "zscore"}

    @pytest.fixture
    def built(self, env):
        component = self.cls(self.config)
        component.prepare(env)
        component.weights = {"popularity": 0.25, "content": 1.5}
        return component
