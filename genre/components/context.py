"""Stage 1, context: encode the user's history and profile text into a unit vector u."""

from __future__ import annotations

import threading

import numpy as np
from pydantic import Field

from genre.core.component import ComponentConfig, ContextEncoder
from genre.core.errors import InputError
from genre.core.types import UserContext, UserState


def unit(v: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 0 else v


class RecencyConfig(ComponentConfig):
    half_life_days: float = Field(default=60.0, gt=0)
    """With timestamps on every history event: an item this many days older than the newest counts half."""
    half_life_items: float = Field(default=10.0, gt=0)
    """Without timestamps: an item this many positions back counts half."""
    profile_weight: float = Field(default=0.35, ge=0, le=1)
    """Share of u taken from the profile text when both history and profile are given."""
    min_rating: float | None = None
    """History events rated below this are left out of u (they still count as seen)."""
    max_history: int = Field(default=200, ge=1)
    """Only the most recent events are encoded."""


class RecencyContextEncoder(ContextEncoder):
    """Recency-weighted mean of history item embeddings, blended with the profile text embedding."""

    Config = RecencyConfig
    config: RecencyConfig

    def __call__(self, ctx: UserContext) -> UserState:
        catalog = self.env.catalog
        unknown = [e.item_id for e in ctx.history if catalog.index_of(e.item_id) is None]
        if unknown:
            raise InputError(f"history item ids not in the {catalog.name} catalog: {', '.join(unknown[:10])}")
        seen = np.array([catalog.index_of(e.item_id) for e in ctx.history], dtype=np.int64)
        events = ctx.history
        if self.config.min_rating is not None:
            events = [e for e in events if e.rating is None or e.rating >= self.config.min_rating]
        events = events[-self.config.max_history :]
        index = np.array([catalog.index_of(e.item_id) for e in events], dtype=np.int64)
        weights = self._recency(events)

        history_vec: np.ndarray | None = None
        if index.size:
            history_vec = unit(weights @ self.env.item_vectors[index].astype(np.float64))
        profile_vec = self.profile_vector(ctx.profile) if ctx.profile else None

        pw = self.config.profile_weight
        vector: np.ndarray | None
        if history_vec is not None and profile_vec is not None:
            vector = unit((1 - pw) * history_vec + pw * profile_vec)
        else:
            vector = history_vec if history_vec is not None else profile_vec
            pw = 1.0 if profile_vec is not None else 0.0
        if vector is not None and ctx.push_away and ctx.push_strength > 0:
            vector = self.push_away(vector, ctx.push_away, ctx.push_strength)
        return UserState(
            context=ctx,
            history_index=index,
            history_weights=weights,
            vector=vector,
            profile_vector=profile_vec,
            profile_weight=pw,
            seen_index=seen,
        )

    def push_away(self, vector: np.ndarray, item_ids: list[str], strength: float) -> np.ndarray:
        """u − strength·mean(embeddings of ``item_ids``), renormalized (disliked items push u away)."""
        catalog = self.env.catalog
        index = [catalog.index_of(i) for i in item_ids]
        unknown = [i for i, x in zip(item_ids, index, strict=True) if x is None]
        if unknown:
            raise InputError(f"disliked item ids not in the {catalog.name} catalog: {', '.join(unknown[:10])}")
        away = self.env.item_vectors[np.array(index, dtype=np.int64)].astype(np.float64).mean(axis=0)
        return unit(vector - strength * away)

    def profile_vector(self, text: str) -> np.ndarray:
        """The profile text's embedding; remembered, since reruns and attribution re-encode the same text."""
        cache, lock = self._profile_memo()
        with lock:
            hit = cache.get(text)
        if hit is None:
            hit = self.env.embedder.encode([text])[0].astype(np.float64)
            with lock:
                if text not in cache and len(cache) >= 64:
                    cache.pop(next(iter(cache)))
                cache[text] = hit
        return hit

    def prime_profiles(self, texts: list[str]) -> None:
        """Embed several profile texts in one batch (attribution's sentence-removed variants)."""
        cache, lock = self._profile_memo()
        with lock:
            todo = [t for t in dict.fromkeys(texts) if t and t not in cache]
        if todo:
            vectors = self.env.embedder.encode(todo)
            with lock:
                for text, vec in zip(todo, vectors, strict=True):
                    cache[text] = vec.astype(np.float64)

    def _profile_memo(self) -> tuple[dict[str, np.ndarray], threading.Lock]:
        # Runs of one shared pipeline call this from several threads; the lock keeps the memo whole.
        memo = self.__dict__
        return memo.setdefault("_profile_cache", {}), memo.setdefault("_profile_lock", threading.Lock())

    def _recency(self, events: list) -> np.ndarray:
        """Recency weight times each event's own weight, summing to 1."""
        n = len(events)
        if n == 0:
            return np.zeros(0)
        if all(e.timestamp is not None for e in events):
            stamps = np.array([e.timestamp.timestamp() for e in events])
            age_days = (stamps.max() - stamps) / 86400.0
            w = 0.5 ** (age_days / self.config.half_life_days)
        else:
            # Without times the given order is the order of events: last is most recent.
            w = 0.5 ** (np.arange(n - 1, -1, -1) / self.config.half_life_items)
        w = w * np.array([e.weight for e in events], dtype=np.float64)  # liked items count more
        return w / w.sum()
