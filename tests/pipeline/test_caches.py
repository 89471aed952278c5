"""The locked LRU behind the score and reason caches."""

from __future__ import annotations

import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from genre.pipeline.caches import LockedLRU


def test_least_recently_used_goes_first_and_a_hit_counts_as_use():
    cache: LockedLRU[str, int] = LockedLRU(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "b" is now the least recently used
    cache.put("c", 3)
    assert "b" not in cache and cache.get("a") == 1 and cache.get("c") == 3 and len(cache) == 2
    cache.put("a", 10)  # storing again replaces and refreshes
    cache.put("d", 4)
    assert cache.get("a") == 10 and "c" not in cache
    assert cache.get("missing") is None
    cache.clear()
    assert len(cache) == 0


def test_size_must_be_positive():
    with pytest.raises(ValueError, match=r"max_size must be at least 1\. Got 0"):
        LockedLRU(0)


def test_many_threads_hitting_and_evicting_the_same_keys():
    # Switch threads very often so that unlocked read-then-move sequences interleave.
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        cache: LockedLRU[int, int] = LockedLRU(2)
        start = threading.Barrier(8)

        def work(seed: int) -> int:
            start.wait()
            wrong = 0
            for n in range(50_000):
                key = (n * (seed + 1)) % 3
                hit = cache.get(key)
                if hit is not None and hit != key * key:
                    wrong += 1
                cache.put(key, key * key)
            return wrong

        with ThreadPoolExecutor(8) as pool:
            assert sum(pool.map(work, range(8))) == 0  # and no thread raised
        assert len(cache) == 2
    finally:
        sys.setswitchinterval(previous)


def test_every_operation_waits_for_the_lock():
    cache: LockedLRU[str, int] = LockedLRU(2)
    cache.put("a", 1)
    finished: list[str] = []
    operations = {
        "get": lambda: cache.get("a"),
        "put": lambda: cache.put("b", 2),
        "len": lambda: len(cache),
        "contains": lambda: "a" in cache,
        "clear": cache.clear,
    }
    with cache._lock:  # another thread in the middle of an operation
        threads = [
            threading.Thread(target=lambda name=name, op=op: (op(), finished.append(name)))
            for name, op in operations.items()
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=0.2)
        assert finished == []  # none got past the lock
    for t in threads:
        t.join(timeout=30)
    assert sorted(finished) == sorted(operations)
