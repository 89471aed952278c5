"""Counterfactual attribution: how each history item and profile sentence moved each recommendation.

For every history item (and profile sentence) left out in turn, the user is re-encoded and
every scorer re-scores only the top-k items, in one batched pass per left-out element. The
re-scored values are normalized with the statistics of the original run, so the change in the
fused score is on the scale the ranking used, and the new rank is read off the original
candidates' fused scores (all other items held fixed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from genre.core.component import ContextEncoder, Fusion, IntentModel, PrimesProfiles, Scorer
from genre.core.types import Catalog, UserContext


@dataclass
class LeaveOneOut:
    """Per removed element (history item or profile sentence) x top item: score and rank change."""

    labels: list[str]  # titles or sentences
    item_ids: list[str | None]  # history item ids (None for sentences)
    score_delta: np.ndarray  # (n_removed, k): fused score without the element minus with it
    rank_delta: np.ndarray  # (n_removed, k): new rank minus old rank (positive = fell)


_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def split_sentences(text: str, limit: int = 12) -> list[str]:
    parts = [p.strip() for p in _SENTENCE.split(text.strip()) if p.strip()]
    return parts[:limit]


def leave_one_out(
    context: ContextEncoder,
    intent: IntentModel,
    fusion: Fusion,
    catalog: Catalog,
    ctx: UserContext,
    cand_index: np.ndarray,
    reference: dict[str, np.ndarray],
    fused_scores: np.ndarray,
    top_pos: np.ndarray,
    scorers: dict[str, Scorer],
    max_history: int = 50,
    primes: PrimesProfiles | None = None,
) -> tuple[LeaveOneOut | None, LeaveOneOut | None]:
    """History and profile-sentence attributions for the items at ``top_pos`` among the candidates.

    ``context``, ``intent`` and ``fusion`` are the run's own stages; ``primes`` the context encoder
    when it can encode the sentence-removed profiles in one batch (checked when the pipeline was built).
    """
    top_items = cand_index[top_pos]
    base = fused_scores[top_pos]
    ordered = np.sort(fused_scores)

    def higher_than(x: np.ndarray) -> np.ndarray:
        return (ordered.size - np.searchsorted(ordered, x, side="right")).astype(np.int64)

    old_rank = higher_than(base) + 1

    def rescored(contexts: list[UserContext]) -> np.ndarray:
        states = [context(c) for c in contexts]
        intents = []
        for s in states:
            s.intent = intent(s)
            intents.append(s.intent)
        values = {name: sc.score_users(states, intents, top_items) for name, sc in scorers.items()}
        out = np.empty((len(contexts), top_items.size))
        for row in range(len(contexts)):
            row_values = {n: v[row] for n, v in values.items()}
            total, _ = fusion.rescore_user(states[row], top_items, row_values, reference, explain=False)
            out[row] = total
        return out

    def summarize(labels: list[str], ids: list[str | None], scores: np.ndarray) -> LeaveOneOut:
        # Other candidates keep their scores; this item's own original entry no longer competes.
        new_rank = higher_than(scores) - (base[None, :] > scores).astype(np.int64) + 1
        return LeaveOneOut(labels, ids, scores - base[None, :], new_rank - old_rank[None, :])

    history_result = None
    events = ctx.history[-max_history:]
    older = ctx.history[:-max_history] if len(ctx.history) > max_history else []
    if events:
        ids = list(dict.fromkeys(e.item_id for e in events))
        contexts = [ctx.model_copy(update={"history": older + [e for e in events if e.item_id != i]}) for i in ids]
        # The context encoder has already refused ids outside the catalog.
        titles = [catalog.items[p].title if (p := catalog.index_of(i)) is not None else i for i in ids]
        history_result = summarize(titles, list(ids), rescored(contexts))

    profile_result = None
    sentences = split_sentences(ctx.profile)
    if len(sentences) > 1:
        contexts = [
            ctx.model_copy(update={"profile": " ".join(s for m, s in enumerate(sentences) if m != n)})
            for n in range(len(sentences))
        ]
        if primes is not None:
            primes.prime_profiles([c.profile for c in contexts])
        profile_result = summarize(sentences, [None] * len(sentences), rescored(contexts))
    return history_result, profile_result
