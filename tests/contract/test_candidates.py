"""The candidates contract for every built-in candidate generator."""

from __future__ import annotations

from typing import Any, ClassVar

from tests.contract.base import CandidatesContract


class TestFilter(CandidatesContract):
    component = "filter"


class TestAnn(CandidatesContract):
    component = "ann"
    config: ClassVar[dict[str, Any]] = {"n_candidates": 10, "index": "hnsw", "m": 8}
