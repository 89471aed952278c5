"""Runs the stages in order and returns the RunTrace that every view renders."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from genre.components.env import Env, WarmStart
from genre.components.fusion import LearnedFusion
from genre.components.reasoners.template import TemplateReasoner
from genre.components.scorers import PopularityScorer
from genre.config import PipelineConfig, StageSpec, build_component, load_config
from genre.core.component import Component, Scorer
from genre.core.errors import ConfigError, GenreError, InputError
from genre.core.types import (
    AttentionOut,
    AttributionOut,
    Catalog,
    EvidenceOut,
    FeedbackApplied,
    Fused,
    HistoryOut,
    Intent,
    ProfileAttention,
    RankedItem,
    ReasonOut,
    ReasonRequest,
    RunTrace,
    ScoreList,
    StageTiming,
    UserContext,
    stable_hash,
)
from genre.data import load_catalog
from genre.explain.attention import profile_attention
from genre.explain.attribution import LeaveOneOut, leave_one_out
from genre.feedback import FeedbackEvent, apply_feedback
from genre.models import Embedder, load_embedder, resolve_device
from genre.text.faithfulness import FaithfulnessChecker

if TYPE_CHECKING:
    from genre.feedback.store import GeneratorAcceptance
    from genre.feedback.versions import ModelVersion

SCORE_CACHE_SIZE = 256
"""Scorer outputs kept per pipeline family (one entry per user context and scorer)."""


def _finite_or_none(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


class Pipeline:
    """A built, prepared pipeline: construct once, run many times."""

    def __init__(
        self,
        config: PipelineConfig,
        embedder_factory: Callable[[str], Embedder] = load_embedder,
        catalog: Catalog | None = None,
        progress: bool = False,
        reuse: Pipeline | None = None,
        *,
        version: str | ModelVersion | None = None,
        warm_start: WarmStart | None = None,
        reviews: Mapping[str, GeneratorAcceptance] | None = None,
    ) -> None:
        """Build and prepare every component. ``catalog`` overrides the config's data, e.g. with
        a training split whose interactions are the only ones trained components may see.

        ``reuse`` is an already prepared pipeline over the same data and device: every component
        whose spec is unchanged is taken from it as is, so editing one weight or swapping the
        generator rebuilds only what changed (the explorer's sliders rely on this).

        ``version`` picks the model version (``python -m genre update``): None the config's current
        one when it was made from this data (else the base training), ``"base"`` the base training,
        or a version id. ``warm_start`` lets trained components continue from earlier weights (what
        an update does). ``reviews`` (per generator, from ``FeedbackStore.generator_acceptance``)
        feed ``[feedback] prefer_reviewed``; by default they are read from the feedback store.
        """
        from genre.feedback.versions import select_version

        self.config = config
        self.device = resolve_device(config.device)
        base = catalog if catalog is not None else load_catalog(config.data)
        loaded, version_notice = select_version(config.name, base, version, explicit_catalog=catalog is not None)
        self.model_version: str | None = loaded.version.version_id if loaded is not None else None
        """The model version whose data and trained state this pipeline uses; None: the base training."""
        self.build_notices: list[str] = [version_notice] if version_notice else []
        """Notices about how the pipeline was built, repeated in every run's trace."""
        if reuse is not None and (
            reuse.device != self.device
            or reuse.config.data != config.data
            or catalog not in (None, reuse.base_catalog)
            or reuse.model_version != self.model_version
            or warm_start is not None
        ):
            reuse = None
        self.base_catalog = reuse.base_catalog if reuse is not None else base
        """The catalog without any model version's feedback."""
        self.catalog = (
            reuse.catalog if reuse is not None else loaded.catalog if loaded is not None else self.base_catalog
        )
        if config.k > len(self.catalog):
            raise ConfigError(
                f"k = {config.k} is larger than the {self.catalog.name} catalog; allowed range 1..{len(self.catalog)}"
            )
        self.env = (
            reuse.env
            if reuse is not None
            else Env(
                self.catalog,
                self.device,
                embedder_factory,
                progress=progress,
                artifact_root=loaded.artifact_root if loaded is not None else None,
                negatives=loaded.negatives if loaded is not None else None,
                warm_start=warm_start,
            )
        )
        self.prepare_timings: list[StageTiming] = []
        self.reused: list[str] = []
        """Stages taken unchanged from ``reuse``."""
        self.artifact_paths: dict[str, str] = {}
        """Per component prepared here (``scorers.bpr``, ``fusion``, ...): the folder of its trained state."""

        def component(
            stage: str, spec: StageSpec, where: str, previous: Component | None, old: StageSpec | None
        ) -> Any:
            if previous is not None and old is not None and old.model_dump() == spec.model_dump():
                self.reused.append(where)
                return previous
            comp = build_component(stage, spec, where=where)
            mark = len(self.env.artifact_log)
            with self._timed(
                self.prepare_timings,
                stage,
                where.removeprefix("scorers.") if stage == "scorers" else type(comp).__name__,
            ):
                comp.prepare(self.env)
            self._record_artifacts(where, mark)
            return comp

        old = reuse.config if reuse is not None else None
        self.context = component("context", config.context, "context", reuse and reuse.context, old and old.context)
        self.intent = component("intent", config.intent, "intent", reuse and reuse.intent, old and old.intent)
        self.candidates = component(
            "candidates", config.candidates, "candidates", reuse and reuse.candidates, old and old.candidates
        )
        self.scorers: dict[str, Scorer] = {}
        for name, spec in config.scorers.items():
            self.scorers[name] = component(
                "scorers",
                spec,
                f"scorers.{name}",
                reuse.scorers.get(name) if reuse is not None else None,
                old.scorers.get(name) if old is not None else None,
            )
        # A learned blend is fitted on the scorers and the intent, so it is reused only when they are unchanged.
        same_inputs = old is not None and old.scorers == config.scorers and old.intent == config.intent
        self.fusion = component(
            "fusion", config.fusion, "fusion", reuse and reuse.fusion if same_inputs else None, old and old.fusion
        )
        if isinstance(self.fusion, LearnedFusion) and "fusion" not in self.reused:
            from genre.pipeline.fit import fit_learned_fusion

            mark = len(self.env.artifact_log)
            with self._timed(self.prepare_timings, "fusion", "LearnedFusion.fit"):
                fit_learned_fusion(self)
            self._record_artifacts("fusion", mark)
        self.rerankers = [component("rerank", spec, f"rerank.{n}", None, None) for n, spec in enumerate(config.rerank)]
        explain = config.explain
        if config.feedback.prefer_reviewed:
            from genre.feedback.choice import reviewed_explain

            explain, choice = reviewed_explain(config, reviews)
            self.build_notices.append(choice.notice)
        try:
            self.reasoner = component("explain", explain, "explain", reuse and reuse.reasoner, old and old.explain)
        except GenreError as exc:
            if explain is config.explain:
                raise
            self.build_notices.append(
                f"Could not start the {explain.component} generator ({exc}); using {config.explain.component}."
            )
            explain = config.explain
            self.reasoner = component("explain", explain, "explain", reuse and reuse.reasoner, old and old.explain)
        self.build_notices.extend(n for n in self.env.notices if n not in self.build_notices)  # e.g. corrupt state
        if explain is not config.explain:
            # The trace's config says which generator actually wrote the reasons.
            self.config = config = config.model_copy(update={"explain": explain})
        # Reasons are the slow part of a run; one per distinct prompt is kept across runs.
        self._reason_cache: OrderedDict[str, ReasonOut] = (
            reuse._reason_cache if reuse is not None and "explain" in self.reused else OrderedDict()
        )
        # Scores per (user context, upstream components, scorer): a run under a reweighted blend
        # recomputes only the fusion onwards. Entries hold their components, so ids stay unique.
        self._score_cache: OrderedDict[tuple[str, int, int, int, int], tuple[ScoreList, tuple[object, ...]]] = (
            reuse._score_cache if reuse is not None else OrderedDict()
        )
        self._template_reasoner: TemplateReasoner | None = None
        self._checker: FaithfulnessChecker | None = None
        self._cold_scorer: Scorer | None = next(
            (s for s in self.scorers.values() if isinstance(s, PopularityScorer)), None
        )

    @classmethod
    def from_file(cls, path: str | Path) -> Pipeline:
        return cls(load_config(path))

    def _record_artifacts(self, where: str, mark: int) -> None:
        """Note the artifact folders ``where`` asked the env for since ``mark``."""
        for n, (_, path) in enumerate(self.env.artifact_log[mark:]):
            self.artifact_paths[where if n == 0 else f"{where}#{n + 1}"] = str(path)

    @staticmethod
    @contextmanager
    def _timed(sink: list[StageTiming], stage: str, component: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        sink.append(StageTiming(stage=stage, component=component, ms=round((time.perf_counter() - start) * 1000, 3)))

    def _faithfulness(self) -> FaithfulnessChecker:
        if self._checker is None:
            self._checker = FaithfulnessChecker(self.catalog)
        return self._checker

    def _template(self, requests: list[ReasonRequest]) -> list[ReasonOut]:
        """Template reasons shown beside generated ones (and used where generation fails)."""
        if self._template_reasoner is None:
            self._template_reasoner = TemplateReasoner()
        return self._template_reasoner(requests)

    def _popularity_fallback(self) -> Scorer:
        if self._cold_scorer is None:
            scorer = PopularityScorer()
            try:
                scorer.prepare(self.env)
            except ConfigError as exc:
                raise InputError(
                    f"no history or profile given, and no popularity signal to fall back on: {exc}"
                ) from exc
            self._cold_scorer = scorer
        return self._cold_scorer

    def _reason_key(self, req: ReasonRequest) -> str:
        """What a generated reason depends on: the reasoner's spec and everything its prompt says."""
        contributions = {n: round(c, 3) for n, c in req.contributions.items()}
        evidence = {n: [(e.kind, e.item_id, e.label) for e in evs[:5]] for n, evs in req.evidence.items()}
        dominant = max(contributions, key=lambda n: contributions[n]) if contributions else None
        intent = (req.intent.summary, [(lbl.label, round(lbl.probability, 2)) for lbl in req.intent.labels[:3]])
        return stable_hash(
            [self.config.explain.model_dump(), req.item.item_id, evidence, dominant, intent, req.cold_start]
        )

    def _reasons(self, requests: list[ReasonRequest]) -> tuple[list[ReasonOut], list[str]]:
        """Reasons for ``requests``: cached where the same prompt was answered before, one batch for the rest."""
        if isinstance(self.reasoner, TemplateReasoner):
            return self.reasoner(requests), []
        keys = [self._reason_key(r) for r in requests]
        missing = [i for i, key in enumerate(keys) if key not in self._reason_cache]
        notices: list[str] = []
        if missing:
            fresh = self.reasoner([requests[i] for i in missing])
            notices = list(getattr(self.reasoner, "last_notices", []) or [])
            for i, out in zip(missing, fresh, strict=True):
                # Template fallbacks are not cached: the model (or endpoint) may do better next time.
                if out.generator != "template":
                    self._reason_cache[keys[i]] = out
            while len(self._reason_cache) > 1024:
                self._reason_cache.popitem(last=False)
            by_index = dict(zip(missing, fresh, strict=True))
        else:
            by_index = {}
        return [
            by_index[i] if i in by_index else self._reason_cache[key].model_copy() for i, key in enumerate(keys)
        ], notices

    def explain_items(self, trace: RunTrace, ranks: list[int] | None = None) -> list[int]:
        """Write the generated reasons a run deferred (``run(..., reasons=False)``) for ``ranks``, in place.

        Lets a view show the ranking first and fill in reasons one item at a time. Returns the
        ranks whose reason was written; each gets its faithfulness verdict like in ``run``.
        """
        pending = trace.pending_reasons if ranks is None else [r for r in ranks if r in trace.pending_reasons]
        if not pending:
            return []
        from genre.components.reasoners.template import requests_from_trace

        by_rank = {item.rank: item for item in trace.items}
        requests = requests_from_trace(trace, self.catalog)
        chosen = [requests[r - 1] for r in pending]
        reasons, notices = self._reasons(chosen)
        checker = self._faithfulness()
        attend = _generator_attention(self.reasoner)
        looked = attend(chosen, reasons) if attend is not None else []
        for n, (rank, req, reason) in enumerate(zip(pending, chosen, reasons, strict=True)):
            verdict = checker.check(reason.text, req)
            reason.faithful = verdict.faithful
            item = by_rank[rank]
            item.reason = reason
            item.faithfulness = verdict.as_dict()
            item.generator_attention = looked[n] if looked else None
        trace.notices.extend(n for n in notices if n not in trace.notices)
        trace.pending_reasons = [r for r in trace.pending_reasons if r not in pending]
        return pending

    def run(
        self,
        ctx: UserContext,
        k: int | None = None,
        *,
        reasons: bool = True,
        feedback: Sequence[FeedbackEvent] | None = None,
    ) -> RunTrace:
        """Recommend ``k`` items for ``ctx`` and record everything each stage did.

        ``feedback`` (the user's events, e.g. ``store.events_for_user(user)``) is folded into
        ``ctx`` first by :func:`genre.feedback.apply_feedback`; ``trace.feedback`` says what it changed.

        With ``reasons=False`` a generating reasoner is not called: every item carries its
        template reason and is listed in ``trace.pending_reasons`` for :meth:`explain_items`.
        """
        k = self.config.k if k is None else k
        if k <= 0:
            raise InputError(f"k must be a positive number of items; got {k}")
        if k > len(self.catalog):
            raise InputError(f"k = {k} is larger than the {self.catalog.name} catalog ({len(self.catalog)} items)")
        timings: list[StageTiming] = []
        notices: list[str] = list(self.build_notices)
        applied: FeedbackApplied | None = None
        if feedback is not None:
            known = {item.item_id for item in self.catalog.items}
            ctx, applied = apply_feedback(ctx, feedback, self.config.feedback, known_items=known)
            if applied.ignored:
                notices.append(
                    f"Feedback on {len(applied.ignored)} items not in the {self.catalog.name} catalog was ignored: "
                    + ", ".join(applied.ignored[:5])
                )

        with self._timed(timings, "context", type(self.context).__name__):
            state = self.context(ctx)
        with self._timed(timings, "intent", type(self.intent).__name__):
            intent: Intent = self.intent(state)
            state.intent = intent
        with self._timed(timings, "candidates", type(self.candidates).__name__):
            cands = self.candidates(state)
        cold = ctx.is_cold()

        if cold:
            scorers: dict[str, Scorer] = {"popularity": self._popularity_fallback()}
            notices.append("Cold start: no history or profile, so this list is ranked by popularity only.")
        else:
            scorers = self.scorers
        lists: list[ScoreList] = []
        ctx_key = hashlib.sha256(ctx.model_dump_json().encode()).hexdigest()
        upstream = (self.context, self.intent, self.candidates)
        for name, scorer in scorers.items():
            with self._timed(timings, "scorers", name):
                key = (ctx_key, *(id(c) for c in upstream), id(scorer))
                hit = None if cold else self._score_cache.get(key)
                if hit is not None:
                    self._score_cache.move_to_end(key)
                    sl = ScoreList(name, hit[0].scores.copy(), hit[0].note)
                else:
                    sl = scorer(state, intent, cands.index)
                    if not cold:
                        self._score_cache[key] = (ScoreList(name, sl.scores.copy(), sl.note), (*upstream, scorer))
                        while len(self._score_cache) > SCORE_CACHE_SIZE:
                            self._score_cache.popitem(last=False)
            sl.name = name
            if sl.scores.size and np.isnan(sl.scores).all():
                notices.append(f"Scorer {name!r} could not score any candidate" + (f": {sl.note}." if sl.note else "."))
            lists.append(sl)

        with self._timed(timings, "fusion", type(self.fusion).__name__):
            fused: Fused = self.fusion(lists) if cands.index.size else Fused(np.zeros(0), {}, {})
        pre_rerank = fused
        if cands.index.size:
            for reranker in self.rerankers:
                with self._timed(timings, "rerank", type(reranker).__name__):
                    fused = reranker(cands.index, fused, k)
        order = (np.lexsort((cands.index, -fused.scores)) if fused.order is None else fused.order)[:k]
        if cands.index.size == 0:
            notices.append(f"No items left to recommend after filtering ({_excluded_text(cands.excluded)}).")
        elif order.size < k:
            notices.append(f"Only {order.size} items pass the filters ({_excluded_text(cands.excluded)}).")

        top = cands.index[order]
        with self._timed(timings, "explain", "evidence"):
            evidence: dict[str, dict[int, Any]] = {name: s.explain(state, top) for name, s in scorers.items()}
        attributions: tuple[LeaveOneOut | None, LeaveOneOut | None] = (None, None)
        if self.config.attribution.enabled and not cold and top.size:
            with self._timed(timings, "explain", "attribution"):
                reference = {sl.name: sl.scores for sl in lists}
                attributions = leave_one_out(
                    self, ctx, cands.index, reference, pre_rerank.scores, order, scorers,
                    self.config.attribution.max_history,
                )  # fmt: skip
        attention: dict[str, dict[int, AttentionOut]] = {}
        with self._timed(timings, "explain", "attention"):
            for name, scorer in scorers.items():
                if hasattr(scorer, "attention") and state.seen_index.size:
                    weights = scorer.attention(state, top)
                    positions = state.seen_index[-len(next(iter(weights.values()))) :] if weights else []
                    ids = [self.catalog.items[int(i)].item_id for i in positions]
                    attention[name] = {
                        i: AttentionOut(item_ids=ids, weights=[round(float(x), 6) for x in w])
                        for i, w in weights.items()
                    }
        with self._timed(timings, "explain", type(self.reasoner).__name__):
            history_items = [self.catalog.items[int(i)] for i in state.history_index]
            requests = [
                ReasonRequest(
                    item=self.catalog.items[int(idx)],
                    contributions={n: float(c[pos]) for n, c in fused.contributions.items()},
                    evidence={n: evidence[n].get(int(idx), []) for n in scorers},
                    history=history_items,
                    intent=intent,
                    cold_start=cold,
                )
                for idx, pos in zip(top, order, strict=True)
            ]
            deferred = not reasons and not isinstance(self.reasoner, TemplateReasoner)
            templates = self._template(requests) if not isinstance(self.reasoner, TemplateReasoner) else []
            if deferred:
                reason_outs = [t.model_copy() for t in templates]
            else:
                reason_outs, reason_notices = self._reasons(requests)
                notices.extend(reason_notices)
            if isinstance(self.reasoner, TemplateReasoner):
                templates = reason_outs
        generator_attention: list[dict[str, float] | None] = [None] * len(reason_outs)
        attend = _generator_attention(self.reasoner)
        if not deferred and attend is not None and reason_outs:
            with self._timed(timings, "explain", "generator-attention"):
                generator_attention = attend(requests, reason_outs)
        profile_view: ProfileAttention | None = None
        # The view explains the packaged embedder; a stand-in embedder (tests) has no attention to show.
        if ctx.profile and self.config.attribution.profile_attention and isinstance(self.env.embedder, Embedder):
            with self._timed(timings, "explain", "profile-attention"):
                profile_view = profile_attention(ctx.profile, self.device)
        with self._timed(timings, "explain", "faithfulness"):
            checker = self._faithfulness()
            verdicts = [checker.check(r.text, req) for r, req in zip(reason_outs, requests, strict=True)]
            for reason, verdict in zip(reason_outs, verdicts, strict=True):
                reason.faithful = verdict.faithful
            for template, req in zip(templates, requests, strict=True):
                if template.faithful is None:
                    template.faithful = checker.check(template.text, req).faithful
            failed = sum(not v.faithful for v in verdicts)
            if failed:
                notices.append(
                    f"{failed} of {len(verdicts)} reasons failed the faithfulness check; "
                    "they are marked as such and the template reason is shown beside them."
                )

        items = []
        rows = zip(top, order, reason_outs, templates, verdicts, generator_attention, strict=True)
        for rank, (idx, pos, reason, template, verdict, looked) in enumerate(rows, start=1):
            item = self.catalog.items[int(idx)]
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
                    evidence={n: [EvidenceOut(**e.as_dict()) for e in evidence[n].get(int(idx), [])] for n in scorers},
                    reason=reason,
                    template_reason=template,
                    faithfulness=verdict.as_dict(),
                    attribution=_attributions(attributions[0], rank - 1),
                    profile_attribution=_attributions(attributions[1], rank - 1),
                    attention={n: a[int(idx)] for n, a in attention.items() if int(idx) in a},
                    generator_attention=looked,
                    attributes=item.attributes,
                )
            )
        event_times = {e.item_id: e.timestamp for e in ctx.history}
        return RunTrace(
            run_id=uuid.uuid4().hex[:12],
            created_at=datetime.now(UTC),
            config_name=self.config.name,
            config=self.config.model_dump(mode="json"),
            device=self.device,
            user=ctx,
            history=[
                HistoryOut(
                    item_id=self.catalog.items[int(i)].item_id,
                    title=self.catalog.items[int(i)].title,
                    weight=round(float(w), 6),
                    timestamp=event_times.get(self.catalog.items[int(i)].item_id),
                )
                for i, w in zip(state.history_index, state.history_weights, strict=True)
            ],
            intent=intent,
            candidates={"count": int(cands.index.size), "excluded": cands.excluded},
            scorers=list(scorers),
            items=items,
            timings=timings,
            notices=notices,
            cold_start=cold,
            feedback=applied,
            profile_attention=profile_view,
            pending_reasons=list(range(1, len(items) + 1)) if deferred else [],
            model_version=self.model_version,
        )


def _generator_attention(
    reasoner: Component,
) -> Callable[[list[ReasonRequest], list[ReasonOut]], list[dict[str, float] | None]] | None:
    """The reasoner's ``generator_attention`` when it has one (local transformers models) and its option is on."""
    method = getattr(reasoner, "generator_attention", None)
    return method if callable(method) and getattr(reasoner.config, "attention", False) else None


def _excluded_text(excluded: dict[str, int]) -> str:
    return ", ".join(f"{n} excluded as {why}" for why, n in excluded.items()) or "nothing excluded"


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
