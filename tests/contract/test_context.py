"""The context contract for every built-in context encoder."""

from __future__ import annotations

from genre.core.component import PrimesProfiles
from tests.contract.base import ContextContract


class TestRecency(ContextContract):
    component = "recency"

    def test_primes_profiles(self, built):
        assert isinstance(built, PrimesProfiles)
        built.prime_profiles(["camping trips", "fresh coffee"])
        assert set(built._profile_cache) == {"camping trips", "fresh coffee"}
