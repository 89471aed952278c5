"""The explain stage: evidence, leave-one-out attribution, attention views, reasons and their verdicts.

It reads a finished :class:`~genre.pipeline.rank.Ranking` and never changes it. The only state it
keeps across runs is the locked reason cache; everything else lives in the run's own
:class:`Explanation`, so concurrent runs of one pipeline never see each other's reasons or notices.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from genre.components.reasoners.plan import component_contributions
from genre.components.reasoners.styles import DEFAULT_STYLE, StyleOptions
from genre.components.reasoners.template import TemplateReasoner, requests_from_trace
from genre.core.component import Reasoner
from genre.core.errors import InputError
from genre.core.types import (
    AttentionOut,
    Evidence,
    ProfileAttention,
    RankedItem,
    ReasonOut,
    ReasonRequest,
    RunTrace,
    StageTiming,
    UserContext,
    stable_hash,
)
from genre.core.verdict import Verdict
from genre.explain.attention import profile_attention
from genre.explain.attribution import LeaveOneOut, leave_one_out
from genre.pipeline.build import Built
from genre.pipeline.rank import Ranking, timed
from genre.text.verifier import Verifier

FIRST_BATCH = 1
"""How many pending reasons :meth:`Explainer.iter_pending` writes in its first generate call.

A batch finishes together, so a small first batch is what puts a reason on screen quickly; the
rest follow in one more call. Measured with ``bench/reasons_in_page.py`` (MovieLens user 1,
tuned-local, 2 CPU cores): see the reasons_in_page section of bench/RESULTS.md.
"""


@runtime_checkable
class TransformerEmbedder(Protocol):
    """An embedder whose own transformer the profile-attention view can read (the packaged one).

    A stand-in embedder (the tests' hashed bag of words) is no transformer: the view is skipped for it.
    """

    def model_path(self) -> Path: ...


def call_reasoner(reasoner: Reasoner, requests: list[ReasonRequest]) -> tuple[list[ReasonOut], list[str]]:
    """The one place a reasoner is called: its reasons for ``requests`` and the notices of this call.

    No seed is passed, so a sampling reasoner uses its config's seed on a generator of its own for
    this call: the same evidence gives the same reason, and concurrent runs never share random state.
    """
    batch = reasoner(requests)
    return batch.reasons, list(batch.notices)


@dataclass
class Explanation:
    """What the explain stage produced for one run's ranked items, in rank order."""

    evidence: dict[str, dict[int, list[Evidence]]]
    """Per scorer: per ranked catalog index, what drove its score."""
    attributions: tuple[LeaveOneOut | None, LeaveOneOut | None]
    """Leave-one-out over history items and over profile sentences."""
    attention: dict[str, dict[int, AttentionOut]]
    """Per attending scorer: per ranked catalog index, its weights over the history."""
    requests: list[ReasonRequest]
    reasons: list[ReasonOut]
    templates: list[ReasonOut]
    verdicts: list[Verdict]
    """The verifier's verdict on each shown reason (also on ``reasons[i].verdict``)."""
    generator_attention: list[dict[str, float] | None]
    profile_attention: ProfileAttention | None
    deferred: bool
    """Generation was deferred: every reason is its template, to be written by :meth:`Explainer.iter_pending`."""


def _styled_template(config: object) -> tuple[TemplateReasoner, int | None]:
    """The template shown beside a generated reason, in the generator's style, and the length bound the verifier
    holds reasons to (None: the verifier's own, as for a one-line reason with no bound set)."""
    if not isinstance(config, StyleOptions):
        return TemplateReasoner(), None
    options: dict[str, object] = {"style": config.style}
    if config.max_words is not None:
        options["max_words"] = config.max_words
    bound = None if config.max_words is None and config.style == DEFAULT_STYLE else config.word_bound
    return TemplateReasoner(options), bound


class Explainer:
    """Explains rankings of one built pipeline; safe to call from several threads at once."""

    def __init__(self, built: Built) -> None:
        self.built = built
        self.catalog = built.catalog
        self.reasoner = built.reasoner
        self.capabilities = built.capabilities
        self.reason_cache = built.reason_cache
        self._explain_spec = built.config.explain.model_dump()
        self._template, self._max_words = _styled_template(built.reasoner.config)
        self._style = self._template.config.style if isinstance(built.reasoner.config, StyleOptions) else None
        self.verifier = Verifier(built.catalog)
        self._embedder_attends: bool | None = None

    def explain(
        self,
        ctx: UserContext,
        ranking: Ranking,
        *,
        reasons: bool,
        timings: list[StageTiming],
        notices: list[str],
        generator_attention: bool = False,
    ) -> Explanation:
        """Evidence, attributions, attention, reasons and verdicts for ``ranking``'s items.

        With ``reasons=False`` a generating reasoner is not called: every item gets its template reason.
        Where the generator looked is computed only with ``generator_attention=True`` (an extra
        forward pass over every reason); otherwise :meth:`generator_attention` gives it per item.
        """
        built, caps = self.built, self.capabilities
        state, top, scorers = ranking.state, ranking.top, ranking.scorers
        with timed(timings, "explain", "evidence"):
            evidence = {name: s.explain(state, top) for name, s in scorers.items()}
        attributions: tuple[LeaveOneOut | None, LeaveOneOut | None] = (None, None)
        if built.config.attribution.enabled and not ranking.cold and top.size:
            with timed(timings, "explain", "attribution"):
                attributions = leave_one_out(
                    built.context, built.intent, built.fusion, self.catalog, ctx, ranking.candidates.index,
                    {sl.name: sl.scores for sl in ranking.lists}, ranking.pre_rerank.scores, ranking.order,
                    scorers, built.config.attribution.max_history, caps.primes_profiles,
                )  # fmt: skip
        attention: dict[str, dict[int, AttentionOut]] = {}
        with timed(timings, "explain", "attention"):
            for name, scorer in scorers.items():
                attends = caps.attending.get(name)
                if attends is None or attends is not scorer or not state.seen_index.size:
                    continue
                weights = attends.attention(state, top)
                recent = len(next(iter(weights.values()))) if weights else 0
                positions = state.seen_index[-recent:] if recent else state.seen_index[:0]
                ids = [self.catalog.items[int(i)].item_id for i in positions]
                attention[name] = {
                    i: AttentionOut(item_ids=ids, weights=[round(float(x), 6) for x in w]) for i, w in weights.items()
                }
        deferred = not reasons and not caps.template_reasons
        with timed(timings, "explain", type(self.reasoner).__name__):
            history_items = [self.catalog.items[int(i)] for i in state.history_index]
            requests = [
                ReasonRequest(
                    item=self.catalog.items[int(idx)],
                    contributions={n: float(c[pos]) for n, c in ranking.fused.contributions.items()},
                    evidence={n: evidence[n].get(int(idx), []) for n in scorers},
                    history=history_items,
                    intent=ranking.intent,
                    cold_start=ranking.cold,
                )
                for idx, pos in zip(top, ranking.order, strict=True)
            ]
            templates = [] if caps.template_reasons else call_reasoner(self._template, requests)[0]
            if deferred:
                reason_outs = [t.model_copy() for t in templates]
            else:
                reason_outs, reason_notices = self.reasons_for(requests)
                notices.extend(reason_notices)
            if caps.template_reasons:
                templates = reason_outs
        looked: list[dict[str, float] | None] = [None] * len(reason_outs)
        if generator_attention and not deferred and reason_outs:
            looked = self._generator_attention(requests, reason_outs, timings)
        profile_view: ProfileAttention | None = None
        if ctx.profile and built.config.attribution.profile_attention and self._embedder_is_transformer():
            with timed(timings, "explain", "profile-attention"):
                profile_view = profile_attention(ctx.profile, built.device)
        with timed(timings, "explain", "verify"):
            verdicts = self._verify(reason_outs, templates, requests)
            failed = sum(not v.passed for v in verdicts)
            if failed:
                notices.append(
                    f"{failed} of {len(verdicts)} reasons failed verification; "
                    "they are marked as such, with their problems, and the template reason is shown beside them."
                )
        return Explanation(
            evidence, attributions, attention, requests, reason_outs, templates, verdicts, looked, profile_view,
            deferred,
        )  # fmt: skip

    def iter_pending(
        self, trace: RunTrace, ranks: list[int] | None = None, *, first_batch: int = FIRST_BATCH
    ) -> Iterator[RankedItem]:
        """Write the reasons a run deferred for ``ranks`` (all pending when None) in place, yielding
        each item as its reason lands.

        Cached reasons come first, without the model; the rest are written in at most two reasoner
        calls: the first ``first_batch`` pending items (0: no split), then all others. Every item of
        a call is written into the trace, and leaves ``trace.pending_reasons``, before the first of
        them is yielded, so a caller that stops early loses no finished work; items not reached
        stay pending.
        """
        wanted = trace.pending_reasons if ranks is None else [r for r in ranks if r in trace.pending_reasons]
        pending = list(dict.fromkeys(wanted))
        if not pending:
            return
        by_rank = {item.rank: item for item in trace.items}
        requests = requests_from_trace(trace, self.catalog)
        chosen = {rank: requests[rank - 1] for rank in pending}
        cached = {rank: hit for rank in pending if (hit := self._cached(chosen[rank])) is not None}
        missing = [rank for rank in pending if rank not in cached]
        split = first_batch if 0 < first_batch < len(missing) else len(missing)
        hits = [rank for rank in pending if rank in cached]
        groups = [group for group in (hits, missing[:split], missing[split:]) if group]
        for group in groups:
            notices: list[str] = []
            if all(rank in cached for rank in group):
                reasons = [cached[rank] for rank in group]
            else:
                reasons, notices = self.reasons_for([chosen[rank] for rank in group])
            for rank, reason in zip(group, reasons, strict=True):
                self._write(by_rank[rank], chosen[rank], reason)
            trace.notices.extend(n for n in notices if n not in trace.notices)
            trace.pending_reasons = [r for r in trace.pending_reasons if r not in group]
            for rank in group:
                yield by_rank[rank]

    def _write(self, item: RankedItem, req: ReasonRequest, reason: ReasonOut) -> None:
        """Put a written reason on its item with its verdict; where the generator looked is asked for separately."""
        self.verify(reason, req)
        item.reason = reason
        item.generator_attention = None

    def generator_attention(self, trace: RunTrace, rank: int) -> dict[str, float] | None:
        """Where the generator looked while writing the reason of ``trace``'s item at ``rank``; also set on the item.

        One forward pass over that item's prompt and reason (:class:`~genre.core.component.AttendsToPrompt`).
        None when the reasoner cannot show it (template, HTTP, its ``attention`` option off), the
        reason is still pending, or it is the template fallback.
        """
        item = next((i for i in trace.items if i.rank == rank), None)
        if item is None:
            raise InputError(f"rank {rank} is not in this run; its ranks are 1 to {len(trace.items)}")
        prompt_attention = self.capabilities.prompt_attention
        if prompt_attention is None or item.reason is None or rank in trace.pending_reasons:
            return None
        if item.generator_attention is None:
            request = requests_from_trace(trace, self.catalog)[rank - 1]
            item.generator_attention = prompt_attention.generator_attention([request], [item.reason])[0]
        return dict(item.generator_attention) if item.generator_attention is not None else None

    def reasons_for(self, requests: list[ReasonRequest]) -> tuple[list[ReasonOut], list[str]]:
        """Reasons for ``requests``: cached where the same prompt was answered before, one batch for the rest."""
        if self.capabilities.template_reasons:
            return call_reasoner(self.reasoner, requests)[0], []
        keys = [self._reason_key(r) for r in requests]
        # Each hit is taken when looked up: another thread may evict it before this run reads it again.
        found = {i: hit for i, req in enumerate(requests) if (hit := self._cached(req)) is not None}
        missing = [i for i in range(len(keys)) if i not in found]
        notices: list[str] = []
        fresh: dict[int, ReasonOut] = {}
        if missing:
            outs, notices = call_reasoner(self.reasoner, [requests[i] for i in missing])
            for i, out in zip(missing, outs, strict=True):
                # Template fallbacks are not cached: the model (or endpoint) may do better next time.
                if out.generator != "template":
                    self.reason_cache.put(keys[i], out.model_copy())
                fresh[i] = out
        return [fresh[i] if i in fresh else found[i] for i in range(len(keys))], notices

    def _cached(self, req: ReasonRequest) -> ReasonOut | None:
        """A copy of the reason generated before for this prompt, if the cache still has it."""
        hit = self.reason_cache.get(self._reason_key(req))
        return hit.model_copy() if hit is not None else None

    def _reason_key(self, req: ReasonRequest) -> str:
        """What a generated reason depends on: the reasoner's spec and everything its prompt says."""
        evidence = {n: [(e.kind, e.item_id, e.label) for e in evs[:5]] for n, evs in req.evidence.items()}
        components = {n: round(c, 3) for n, c in component_contributions(req).items()}
        dominant = max(components, key=lambda n: components[n]) if components else None
        intent = (req.intent.summary, [(lbl.label, round(lbl.probability, 2)) for lbl in req.intent.labels[:3]])
        return stable_hash([self._explain_spec, req.item.item_id, evidence, dominant, intent, req.cold_start])

    def _generator_attention(
        self, requests: list[ReasonRequest], reasons: list[ReasonOut], timings: list[StageTiming]
    ) -> list[dict[str, float] | None]:
        """Where the generator looked, per reason; timed only when the reasoner showed anything (its
        ``attention`` option is on and a reason came from its model)."""
        prompt_attention = self.capabilities.prompt_attention
        if prompt_attention is None:
            return [None] * len(reasons)
        step: list[StageTiming] = []
        with timed(step, "explain", "generator-attention"):
            looked = prompt_attention.generator_attention(requests, reasons)
        if any(x is not None for x in looked):
            timings.extend(step)
        return looked

    def _embedder_is_transformer(self) -> bool:
        # Checked on the first run that shows a profile: the embedder loads lazily, and a pipeline
        # that never encodes text should not load it just to answer this.
        if self._embedder_attends is None:
            self._embedder_attends = isinstance(self.built.env.embedder, TransformerEmbedder)
        return self._embedder_attends

    def verify(self, reason: ReasonOut, request: ReasonRequest) -> Verdict:
        """Verify ``reason`` against its request and record the verdict on it (``verdict``, and ``faithful``
        as whether it passed)."""
        verdict = self.verifier.verify(reason.text, request, max_words=self._max_words, style=self._style)
        reason.verdict = verdict
        reason.faithful = verdict.passed
        return verdict

    def _verify(
        self, reasons: list[ReasonOut], templates: list[ReasonOut], requests: list[ReasonRequest]
    ) -> list[Verdict]:
        """Each reason's verdict (set on it too); templates shown beside generated reasons get theirs."""
        verdicts = [self.verify(r, req) for r, req in zip(reasons, requests, strict=True)]
        for template, req in zip(templates, requests, strict=True):
            if template.verdict is None:
                self.verify(template, req)
        return verdicts
