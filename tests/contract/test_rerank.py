"""The re-ranker contract for every built-in re-ranker."""

from __future__ import annotations

from typing import ClassVar

from tests.contract.base import RerankerContract


class TestMMR(RerankerContract):
    component = "mmr"
    config: ClassVar[dict] = {"diversity": 0.7, "pool": 5}


class TestPopularityBias(RerankerContract):
    component = "popularity-bias"
    config: ClassVar[dict] = {"beta": 0.5}
