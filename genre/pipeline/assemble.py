"""Assembles the RunTrace, the one object every page and the CLI render, from a ranking and its explanation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import numpy as np

from genre.core.types import (
    AttributionOut,
    Catalog,
    EvidenceOut,
    FeedbackApplied,
    HistoryOut,
    RankedItem,
    RunTrace,
    StageTiming,
    UserContext,
)
from genre.explain.attribution import LeaveOneOut
from genre.pipeline.build import Built
from genre.pipeline.explain import Explanation
from genre.pipeline.rank import Ranking


def assemble(
    built: Built,
    ctx: UserContext,
    ranking: Ranking,
    explanation: Explanation,
    *,
    timings: list[StageTiming],
    notices: list[str],
    feedback: FeedbackApplied | None,
) -> RunTrace:
    """The trace of one run: config, user, each stage's output, every ranked item with its evidence."""
    catalog = built.catalog
    return RunTrace(
        run_id=uuid.uuid4().hex[:12],
        created_at=datetime.now(UTC),
        config_name=built.config.name,
        config=built.config.model_dump(mode="json"),
        device=built.device,
        precision=built.precision,
        user=ctx,
        history=_history(catalog, ctx, ranking),
        intent=ranking.intent,
        candidates=_candidates(ranking),
        scorers=list(ranking.scorers),
        items=_items(catalog, ranking, explanation),
        timings=timings,
        notices=notices,
        cold_start=ranking.cold,
        feedback=feedback,
        profile_attention=explanation.profile_attention,
        pending_reasons=list(range(1, ranking.order.size + 1)) if explanation.deferred else [],
        model_version=built.model_version,
    )


def _candidates(ranking: Ranking) -> dict[str, object]:
    cands = ranking.candidates
    out: dict[str, object] = {"count": int(cands.index.size), "excluded": cands.excluded}
    if cands.retrieval:
        out["retrieval"] = cands.retrieval
    return out


def _items(catalog: Catalog, ranking: Ranking, ex: Explanation) -> list[RankedItem]:
    fused, lists, scorers = ranking.fused, ranking.lists, ranking.scorers
    items = []
    rows = zip(ranking.top, ranking.order, ex.reasons, ex.templates, ex.generator_attention, strict=True)
    for rank, (idx, pos, reason, template, looked) in enumerate(rows, start=1):
        item = catalog.items[int(idx)]
        items.append(
            RankedItem(
                rank=rank,
                item_id=item.item_id,
                title=item.title,
                categories=list(item.categories),
                score=float(fused.scores[pos]),
                scores={sl.name: _finite_or_none(sl.scores[pos]) for sl in lists},
                normalized={n: _finite_or_none(v[pos]) for n, v in fused.normalized.items()},
                contributions={n: float(v[pos]) for n, v in fused.contributions.items()},
                evidence={n: [EvidenceOut(**e.as_dict()) for e in ex.evidence[n].get(int(idx), [])] for n in scorers},
                reason=reason,
                template_reason=template,
                attribution=_attributions(ex.attributions[0], rank - 1),
                profile_attribution=_attributions(ex.attributions[1], rank - 1),
                attention={n: a[int(idx)] for n, a in ex.attention.items() if int(idx) in a},
                generator_attention=looked,
                attributes=item.attributes,
            )
        )
    return items


def _history(catalog: Catalog, ctx: UserContext, ranking: Ranking) -> list[HistoryOut]:
    """The history items the context encoder used, with their weights and the times they were given."""
    event_times = {e.item_id: e.timestamp for e in ctx.history}
    state = ranking.state
    out = []
    for i, w in zip(state.history_index, state.history_weights, strict=True):
        item = catalog.items[int(i)]
        when = event_times.get(item.item_id)
        out.append(HistoryOut(item_id=item.item_id, title=item.title, weight=round(float(w), 6), timestamp=when))
    return out


def _attributions(loo: LeaveOneOut | None, col: int) -> list[AttributionOut]:
    """One item's leave-one-out rows, most supportive (largest score drop) first."""
    if loo is None:
        return []
    rows = [
        AttributionOut(
            label=loo.labels[r],
            item_id=loo.item_ids[r],
            score_delta=round(float(loo.score_delta[r, col]), 6),
            rank_delta=int(loo.rank_delta[r, col]),
        )
        for r in range(len(loo.labels))
    ]
    return sorted(rows, key=lambda a: a.score_delta)


def _finite_or_none(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None
