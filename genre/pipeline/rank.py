"""The ranking path: context -> intent -> candidates -> scorers -> fusion -> re-rankers.

``Pipeline.run`` ranks one user with :func:`rank`; the evaluation harness ranks many with
:func:`rank_users` over score matrices from :func:`score_matrices`, and the learned-fusion fit
encodes its validation users with :func:`encode_users`. All of them share one cold-start rule
(:func:`is_cold`): a user with neither history nor profile is ranked by popularity alone (the
pipeline's own popularity scorer when it has one, else a default one); every other user is
ranked by all of the pipeline's scorers, even where none of them can score an item.

Nothing here imports ``genre.explain``: scoring never depends on explaining.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from genre.core.component import CandidateGenerator, ContextEncoder, Fusion, IntentModel, Reranker, Scorer
from genre.core.errors import InputError
from genre.core.types import (
    CandidateSet,
    Catalog,
    Fused,
    HistoryEvent,
    Intent,
    Interactions,
    ScoreList,
    StageTiming,
    UserContext,
    UserState,
)
from genre.pipeline.caches import LockedLRU

SCORE_CACHE_SIZE = 256
"""Scorer outputs kept per pipeline family (one entry per user context and scorer)."""

ScoreKey = tuple[str, int, int, int, int]
"""(user context hash, ids of the context, intent and candidate components, id of the scorer)."""
CachedScores = tuple[ScoreList, tuple[object, ...]]
"""Scores and the components they came from: holding them keeps their ids unique while cached."""


@dataclass(frozen=True)
class Ranker:
    """The components that rank, as one built pipeline holds them. Read-only while ranking."""

    context: ContextEncoder
    intent: IntentModel
    candidates: CandidateGenerator
    scorers: Mapping[str, Scorer]
    fusion: Fusion
    rerankers: Sequence[Reranker] = ()
    cold_scorer: Scorer | None = None
    """Ranks cold-start users; None when the catalog has no popularity signal (see ``cold_error``)."""
    cold_error: str | None = None
    """Why there is no popularity to fall back on, for the error a cold-start request gets."""
    score_cache: LockedLRU[ScoreKey, CachedScores] | None = field(default=None, compare=False)
    """Scores per (user context, upstream components, scorer), shared by pipelines that reuse each other:
    a run under a reweighted blend recomputes only the fusion onwards."""


@dataclass
class Ranking:
    """One user's ranking and what each stage produced on the way."""

    state: UserState
    intent: Intent
    candidates: CandidateSet
    scorers: dict[str, Scorer]
    """The scorers that ranked: the pipeline's, or popularity alone for a cold start."""
    lists: list[ScoreList]
    fused: Fused
    """After the re-rankers."""
    pre_rerank: Fused
    order: np.ndarray
    """Positions into ``candidates.index``, best first, at most k of them."""
    cold: bool

    @property
    def top(self) -> np.ndarray:
        """Catalog indices of the ranked items, best first."""
        return self.candidates.index[self.order]


@contextmanager
def timed(sink: list[StageTiming] | None, stage: str, component: str) -> Iterator[None]:
    """Append how long the block took to ``sink`` (nothing when ``sink`` is None)."""
    start = time.perf_counter()
    yield
    if sink is not None:
        sink.append(StageTiming(stage=stage, component=component, ms=round((time.perf_counter() - start) * 1000, 3)))


def is_cold(ctx: UserContext) -> bool:
    """The cold-start rule of every ranking: no history and no profile."""
    return ctx.is_cold()


def encode(ranker: Ranker, ctx: UserContext, timings: list[StageTiming] | None = None) -> UserState:
    """The user state with its intent set (``state.intent``)."""
    with timed(timings, "context", type(ranker.context).__name__):
        state = ranker.context(ctx)
    with timed(timings, "intent", type(ranker.intent).__name__):
        state.intent = ranker.intent(state)
    return state


def encode_users(
    context: ContextEncoder, intent: IntentModel, contexts: Sequence[UserContext]
) -> tuple[list[UserState], list[Intent]]:
    """Each user's state (with its intent set) and intent, in ``contexts`` order."""
    states, intents = [], []
    for ctx in contexts:
        state = context(ctx)
        state.intent = intent(state)
        states.append(state)
        intents.append(state.intent)
    return states, intents


def user_contexts(train: Interactions, catalog: Catalog, users: Sequence[str]) -> list[UserContext]:
    """Each user's events in ``train`` as a UserContext (oldest first), in ``users`` order."""
    order = np.lexsort((train.timestamps, train.user_ids))
    uids, items, stamps = train.user_ids[order], train.item_index[order], train.timestamps[order]
    starts = np.searchsorted(uids, users, side="left")
    ends = np.searchsorted(uids, users, side="right")
    out = []
    for user, a, b in zip(users, starts, ends, strict=True):
        events = [
            HistoryEvent(item_id=catalog.items[int(i)].item_id, timestamp=datetime.fromtimestamp(float(t), tz=UTC))
            for i, t in zip(items[a:b], stamps[a:b], strict=True)
        ]
        out.append(UserContext(user_id=user, history=events))
    return out


def cold_scorers(ranker: Ranker) -> dict[str, Scorer]:
    """The scorers a cold-start user is ranked by, or an InputError when there is no popularity signal."""
    if ranker.cold_scorer is None:
        raise InputError(f"no history or profile given, and no popularity signal to fall back on: {ranker.cold_error}")
    return {"popularity": ranker.cold_scorer}


def score_matrices(
    scorers: Mapping[str, Scorer], states: list[UserState], intents: list[Intent]
) -> dict[str, np.ndarray]:
    """Every scorer's scores for every user over the whole catalog, shape (n_users, n_items), batched."""
    return {name: scorer.score_users(states, intents) for name, scorer in scorers.items()}


def fuse(
    ranker: Ranker,
    candidates: np.ndarray,
    lists: list[ScoreList],
    k: int,
    timings: list[StageTiming] | None = None,
    state: UserState | None = None,
    explain: bool = True,
) -> tuple[Fused, Fused, np.ndarray]:
    """(fused after re-ranking, fused before it, the first ``k`` positions into ``candidates``, best first).

    ``state`` is the user the lists were scored for (a learning-to-rank fusion reads its history);
    ``explain=False`` when only the order is read (see :meth:`Fusion.fuse_user`). Ties in the fused
    score go to the lower catalog index, so equal inputs always rank alike.
    """
    with timed(timings, "fusion", type(ranker.fusion).__name__):
        fused = (
            ranker.fusion.fuse_user(state, candidates, lists, explain=explain)
            if candidates.size
            else Fused(np.zeros(0), {}, {})
        )
    pre_rerank = fused
    if candidates.size:
        for reranker in ranker.rerankers:
            with timed(timings, "rerank", type(reranker).__name__):
                fused = reranker(candidates, fused, k)
    order = np.lexsort((candidates, -fused.scores)) if fused.order is None else fused.order
    return fused, pre_rerank, order[:k]


def rank(
    ranker: Ranker,
    ctx: UserContext,
    k: int,
    timings: list[StageTiming] | None = None,
    notices: list[str] | None = None,
) -> Ranking:
    """Rank the top ``k`` candidates for one user, timing each stage into ``timings`` and saying what a
    reader should know (cold start, scorers that scored nothing, too few candidates) into ``notices``."""
    said: list[str] = notices if notices is not None else []
    state = encode(ranker, ctx, timings)
    intent = state.intent
    assert intent is not None  # encode sets it
    with timed(timings, "candidates", type(ranker.candidates).__name__):
        cands = ranker.candidates(state)
    cold = is_cold(ctx)
    if cold:
        scorers = cold_scorers(ranker)
        said.append("Cold start: no history or profile, so this list is ranked by popularity only.")
    else:
        scorers = dict(ranker.scorers)
    ctx_key = hashlib.sha256(ctx.model_dump_json().encode()).hexdigest()
    lists: list[ScoreList] = []
    for name, scorer in scorers.items():
        with timed(timings, "scorers", name):
            sl = _scores(ranker, name, scorer, state, intent, cands.index, None if cold else ctx_key)
        if sl.scores.size and np.isnan(sl.scores).all():
            said.append(f"Scorer {name!r} could not score any candidate" + (f": {sl.note}." if sl.note else "."))
        lists.append(sl)
    fused, pre_rerank, order = fuse(ranker, cands.index, lists, k, timings, state)
    if cands.index.size == 0:
        said.append(f"No items left to recommend after filtering ({_excluded_text(cands.excluded)}).")
    elif order.size < k:
        said.append(f"Only {order.size} items pass the filters ({_excluded_text(cands.excluded)}).")
    return Ranking(state, intent, cands, scorers, lists, fused, pre_rerank, order, cold)


def rank_users(
    ranker: Ranker,
    states: list[UserState],
    intents: list[Intent],
    k: int,
    matrices: Mapping[str, np.ndarray],
) -> np.ndarray:
    """Top ``k`` catalog indices per user, shape (n_users, k), -1 where a user has fewer candidates.

    Ranked as :func:`rank` ranks (candidate stage, cold-start rule, fusion, re-rankers, ties), with
    each scorer's scores read from ``matrices`` (users x catalog, e.g. from :func:`score_matrices`).
    """
    out = np.full((len(states), k), -1, dtype=np.int64)
    for row, (state, intent) in enumerate(zip(states, intents, strict=True)):
        cands = ranker.candidates(state)
        if is_cold(state.context):
            lists = [_named(name, s(state, intent, cands.index)) for name, s in cold_scorers(ranker).items()]
        else:
            lists = [ScoreList(name, m[row, cands.index]) for name, m in matrices.items()]
        _, _, order = fuse(ranker, cands.index, lists, k, state=state, explain=False)
        top = cands.index[order]
        out[row, : top.size] = top
    return out


def _scores(
    ranker: Ranker,
    name: str,
    scorer: Scorer,
    state: UserState,
    intent: Intent,
    candidates: np.ndarray,
    ctx_key: str | None,
) -> ScoreList:
    """One scorer's list, from the shared cache when this user and these components were scored before.
    ``ctx_key`` None: do not cache (a cold start's popularity list is cheap and not the pipeline's own)."""
    cache = ranker.score_cache
    if cache is None or ctx_key is None:
        return _named(name, scorer(state, intent, candidates))
    key: ScoreKey = (ctx_key, id(ranker.context), id(ranker.intent), id(ranker.candidates), id(scorer))
    hit = cache.get(key)
    if hit is not None:
        return ScoreList(name, hit[0].scores.copy(), hit[0].note)
    sl = _named(name, scorer(state, intent, candidates))
    holders = (ranker.context, ranker.intent, ranker.candidates, scorer)
    cache.put(key, (ScoreList(name, sl.scores.copy(), sl.note), holders))
    return sl


def _named(name: str, sl: ScoreList) -> ScoreList:
    sl.name = name
    return sl


def _excluded_text(excluded: dict[str, int]) -> str:
    return ", ".join(f"{n} excluded as {why}" for why, n in excluded.items()) or "nothing excluded"
