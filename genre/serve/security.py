"""API key checks and per-key rate limits.

A presented key is hashed and compared with every held digest by :func:`hmac.compare_digest`, so
neither the key nor how much of it matched leaks through timing. Each key (or, without auth, each
client address) has a token bucket: ``burst`` requests at once, refilled at ``rate_per_s``.
"""

from __future__ import annotations

import hmac
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from genre.serve.settings import hash_key

KEY_ID_CHARS = 12
"""Hex characters of a key's digest used to name it in logs and buckets (never the key itself)."""


class ApiKeys:
    """The accepted keys, as SHA-256 digests only."""

    def __init__(self, hashes: tuple[str, ...]) -> None:
        self._hashes = tuple(h.encode("ascii") for h in hashes)

    def __bool__(self) -> bool:
        return bool(self._hashes)

    def identify(self, authorization: str | None) -> str | None:
        """The key id (a digest prefix) of a valid ``Authorization: Bearer <key>`` header, else None."""
        if not authorization:
            return None
        scheme, _, key = authorization.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            return None
        digest = hash_key(key).encode("ascii")
        matched = False
        for held in self._hashes:  # every digest is compared, whichever matches
            matched |= hmac.compare_digest(digest, held)
        return digest.decode("ascii")[:KEY_ID_CHARS] if matched else None


class RateLimiter:
    """Token buckets by caller id, thread safe; the least recently seen callers are forgotten past ``max_callers``."""

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        max_callers: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError(f"rate_per_s must be > 0 and burst >= 1. Got {rate_per_s}, {burst}")
        self.rate = rate_per_s
        self.burst = float(burst)
        self.max_callers = max_callers
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, caller: str) -> float:
        """Spend one token of ``caller``'s bucket: 0.0 when allowed, else the seconds until a token is back."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.pop(caller, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            wait = 0.0
            if tokens >= 1.0:
                tokens -= 1.0
            else:
                wait = (1.0 - tokens) / self.rate
            self._buckets[caller] = (tokens, now)
            while len(self._buckets) > self.max_callers:
                self._buckets.popitem(last=False)
            return wait


def retry_after(wait_s: float) -> str:
    """The ``Retry-After`` header value for a wait: whole seconds, at least 1."""
    return str(max(1, math.ceil(wait_s)))
