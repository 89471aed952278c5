"""``Pipeline``: the public facade over build, rank, explain and assemble.

Build once, run many times, from as many threads as you like: a run keeps its intermediate
results to itself, and what it shares with other runs (score and reason caches) is locked.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from genre.components.env import Env, WarmStart
from genre.config import PipelineConfig, load_config
from genre.core.component import (
    CandidateGenerator,
    ContextEncoder,
    Fusion,
    IntentModel,
    Reasoner,
    Reranker,
    Scorer,
)
from genre.core.errors import InputError
from genre.core.types import Catalog, FeedbackApplied, RankedItem, ReasonOut, RunTrace, StageTiming, UserContext
from genre.feedback import FeedbackEvent, apply_feedback
from genre.models import Embedder, load_embedder
from genre.pipeline.assemble import assemble
from genre.pipeline.build import Built, Capabilities, Progress, build
from genre.pipeline.caches import LockedLRU
from genre.pipeline.explain import FIRST_BATCH, Explainer
from genre.pipeline.rank import CachedScores, Ranker, ScoreKey, rank

if TYPE_CHECKING:
    from genre.feedback.store import GeneratorAcceptance
    from genre.feedback.versions import ModelVersion


class Pipeline:
    """A built, prepared pipeline: construct once, run many times (also concurrently)."""

    config: PipelineConfig
    device: str
    base_catalog: Catalog
    """The catalog without any model version's feedback."""
    catalog: Catalog
    env: Env
    model_version: str | None
    """The model version whose data and trained state this pipeline uses; None: the base training."""
    build_notices: list[str]
    """Notices about how the pipeline was built, repeated in every run's trace."""
    prepare_timings: list[StageTiming]
    reused: list[str]
    """Stages taken unchanged from ``reuse``."""
    artifact_paths: dict[str, str]
    """Per component prepared here (``scorers.bpr``, ``fusion``, ...): the folder of its trained state."""
    context: ContextEncoder
    intent: IntentModel
    candidates: CandidateGenerator
    scorers: dict[str, Scorer]
    fusion: Fusion
    rerankers: list[Reranker]
    reasoner: Reasoner
    capabilities: Capabilities
    """What the components can do beyond their stage's call (checked once, when built)."""
    ranker: Ranker
    """The ranking path, shared with the evaluation harness (:mod:`genre.pipeline.rank`)."""
    _built: Built

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
        on_progress: Progress | None = None,
        cancel: threading.Event | None = None,
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

        ``progress`` shows tqdm bars while training; ``on_progress(stage, fraction)`` is told what
        is being prepared (and each training epoch); setting ``cancel`` stops the build with
        :class:`~genre.core.errors.BuildCancelled`.
        """
        built = build(
            config,
            embedder_factory,
            catalog,
            progress,
            reuse._built if reuse is not None else None,
            version=version,
            warm_start=warm_start,
            reviews=reviews,
            on_progress=on_progress,
            cancel=cancel,
        )
        self._built = built
        self.config, self.device, self.env = built.config, built.device, built.env
        self.base_catalog, self.catalog, self.model_version = built.base_catalog, built.catalog, built.model_version
        self.build_notices, self.prepare_timings = built.build_notices, built.prepare_timings
        self.reused, self.artifact_paths = built.reused, built.artifact_paths
        self.context, self.intent, self.candidates = built.context, built.intent, built.candidates
        self.scorers, self.fusion, self.rerankers = built.scorers, built.fusion, built.rerankers
        self.reasoner, self.capabilities = built.reasoner, built.capabilities
        self.ranker = Ranker(
            context=built.context,
            intent=built.intent,
            candidates=built.candidates,
            scorers=built.scorers,
            fusion=built.fusion,
            rerankers=tuple(built.rerankers),
            cold_scorer=built.cold_scorer,
            cold_error=built.cold_error,
            score_cache=built.score_cache,
        )
        self._explainer = Explainer(built)

    @classmethod
    def from_file(cls, path: str | Path) -> Pipeline:
        return cls(load_config(path))

    @property
    def _reason_cache(self) -> LockedLRU[str, ReasonOut]:
        """Generated reasons by prompt, shared with pipelines that reuse this one's reasoner."""
        return self._built.reason_cache

    @property
    def _score_cache(self) -> LockedLRU[ScoreKey, CachedScores]:
        return self._built.score_cache

    def run(
        self,
        ctx: UserContext,
        k: int | None = None,
        *,
        reasons: bool = True,
        feedback: Sequence[FeedbackEvent] | None = None,
        generator_attention: bool = False,
    ) -> RunTrace:
        """Recommend ``k`` items for ``ctx`` and record everything each stage did.

        ``feedback`` (the user's events, e.g. ``store.events_for_user(user)``) is folded into
        ``ctx`` first by :func:`genre.feedback.apply_feedback`; ``trace.feedback`` says what it changed.

        With ``reasons=False`` a generating reasoner is not called: every item carries its
        template reason and is listed in ``trace.pending_reasons`` for :meth:`iter_reasons` or
        :meth:`explain_items`.

        Where a local generator looked (``RankedItem.generator_attention``) costs one more forward
        pass over every reason, so it is left None unless ``generator_attention=True``;
        :meth:`generator_attention` computes it for one item when someone asks.
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
        ranking = rank(self.ranker, ctx, k, timings, notices)
        explanation = self._explainer.explain(
            ctx, ranking, reasons=reasons, timings=timings, notices=notices, generator_attention=generator_attention
        )
        return assemble(self._built, ctx, ranking, explanation, timings=timings, notices=notices, feedback=applied)

    def iter_reasons(
        self, trace: RunTrace, ranks: list[int] | None = None, *, first_batch: int = FIRST_BATCH
    ) -> Iterator[RankedItem]:
        """Write the reasons a run deferred (``run(..., reasons=False)``) in place, yielding each item as it lands.

        ``ranks`` picks which pending ranks to write (all when None). Reasons generated before for
        the same prompt come at once; the others are written in batched calls: the first
        ``first_batch`` items alone, so the first reason shows in seconds, then all the rest in
        one call (``first_batch=0``: all in one call). Each item gets its verifier verdict
        like in ``run``; its ``generator_attention`` stays None (see :meth:`generator_attention`).
        Stopping the iteration early leaves the items not yet yielded in ``trace.pending_reasons``.
        """
        return self._explainer.iter_pending(trace, ranks, first_batch=first_batch)

    def explain_items(
        self,
        trace: RunTrace,
        ranks: list[int] | None = None,
        *,
        on_reason: Callable[[RankedItem], None] | None = None,
    ) -> list[int]:
        """Write the reasons a run deferred for ``ranks`` (all pending when None), in place; the ranks written.

        Without ``on_reason`` the pending reasons are written in one batched call. With it, they
        are written as :meth:`iter_reasons` does (a small first batch, then the rest) and
        ``on_reason(item)`` is called for each item as its reason lands, so a view can fill
        each row as it is ready.
        """
        first_batch = FIRST_BATCH if on_reason is not None else 0
        written = []
        for item in self._explainer.iter_pending(trace, ranks, first_batch=first_batch):
            written.append(item.rank)
            if on_reason is not None:
                on_reason(item)
        return written

    def generator_attention(self, trace: RunTrace, rank: int) -> dict[str, float] | None:
        """Where the generator looked, per evidence unit of its prompt, while writing the reason at ``rank``.

        Shares sum to 1; the result is also stored as the item's ``generator_attention``. None
        when this pipeline's reasoner cannot show it (template, HTTP, ``attention = false``), the
        reason is still pending, or it is the template fallback. ``trace`` must come from this
        pipeline (its reasons are read back against this reasoner's prompt).
        """
        return self._explainer.generator_attention(trace, rank)
