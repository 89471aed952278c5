"""The candidates contract for every built-in candidate generator."""

from __future__ import annotations

from tests.contract.base import CandidatesContract


class TestFilter(CandidatesContract):
    component = "filter"
