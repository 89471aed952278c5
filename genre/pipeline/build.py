"""Builds a pipeline: config specs -> prepared components, reusing unchanged ones, on the right model version.

What a component can do beyond its stage's call (attend over the history, pre-encode profile
texts, show where its generator looked) is checked here, once, against the protocols in
:mod:`genre.core.component`; the run never probes for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from genre.components.env import Env, WarmStart
from genre.components.fusion import LearnedFusion
from genre.components.fusion_ltr import LtrFusion
from genre.components.reasoners.template import TemplateReasoner
from genre.components.scorers import PopularityScorer
from genre.config import PipelineConfig, StageSpec, build_component
from genre.core.component import (
    Attends,
    AttendsToPrompt,
    CandidateGenerator,
    ContextEncoder,
    Fusion,
    IntentModel,
    PrimesProfiles,
    Reasoner,
    Reranker,
    Scorer,
)
from genre.core.errors import ConfigError, GenreError
from genre.core.types import Catalog, ReasonOut, StageTiming
from genre.data import load_catalog, load_notices
from genre.feedback.versions import select_version
from genre.models import Embedder, choose_precision, load_embedder, resolve_device
from genre.pipeline.caches import LockedLRU
from genre.pipeline.rank import SCORE_CACHE_SIZE, CachedScores, ScoreKey, timed

if TYPE_CHECKING:
    from genre.feedback.store import GeneratorAcceptance
    from genre.feedback.versions import ModelVersion

REASON_CACHE_SIZE = 1024
"""Generated reasons kept per pipeline family (one per distinct prompt)."""

Progress = Callable[[str, float], None]
"""Told (what is being prepared or trained, fraction of it done) during a build."""


@dataclass(frozen=True)
class Capabilities:
    """What the built components can do beyond their stage's call, checked once here."""

    attending: Mapping[str, Attends] = field(default_factory=dict)
    """Scorers (by name) that can show their attention over the history."""
    primes_profiles: PrimesProfiles | None = None
    """The context encoder, when it can encode many profile texts in one batch."""
    prompt_attention: AttendsToPrompt | None = None
    """The reasoner, when its model can show which evidence in its prompt a reason looked at."""
    template_reasons: bool = False
    """The reasoner writes the template reasons itself: nothing to cache, defer or show beside them."""


@dataclass
class Built:
    """A prepared pipeline's parts: what ``Pipeline`` exposes and what ranking and explaining use."""

    config: PipelineConfig
    device: str
    precision: str | None
    """The precision the pipeline's local generator runs at (fp32, int8, bf16, fp16); None: no local generator."""
    base_catalog: Catalog
    catalog: Catalog
    env: Env
    model_version: str | None
    build_notices: list[str]
    prepare_timings: list[StageTiming]
    reused: list[str]
    artifact_paths: dict[str, str]
    context: ContextEncoder
    intent: IntentModel
    candidates: CandidateGenerator
    scorers: dict[str, Scorer]
    fusion: Fusion
    rerankers: list[Reranker]
    reasoner: Reasoner
    capabilities: Capabilities
    cold_scorer: Scorer | None
    cold_error: str | None
    reason_cache: LockedLRU[str, ReasonOut]
    score_cache: LockedLRU[ScoreKey, CachedScores]


def build(
    config: PipelineConfig,
    embedder_factory: Callable[[str], Embedder] = load_embedder,
    catalog: Catalog | None = None,
    progress: bool = False,
    reuse: Built | None = None,
    *,
    version: str | ModelVersion | None = None,
    warm_start: WarmStart | None = None,
    reviews: Mapping[str, GeneratorAcceptance] | None = None,
    on_progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> Built:
    """Build and prepare every component (see :class:`genre.pipeline.Pipeline` for the arguments).

    ``on_progress`` is told what is being prepared (and, by trainable components, each epoch);
    ``cancel``, once set, stops the build with :class:`~genre.core.errors.BuildCancelled` at the
    next component or epoch.
    """
    device = resolve_device(config.device)
    choose_precision(config.precision, device)  # a precision the device cannot run fails before any loading
    base = catalog if catalog is not None else load_catalog(config.data)
    loaded, version_notice = select_version(config.name, base, version, explicit_catalog=catalog is not None)
    model_version = loaded.version.version_id if loaded is not None else None
    # What loading the data skipped (bad lines within max_bad_fraction, duplicates) stays visible in every run.
    notices = load_notices(config.data) + ([version_notice] if version_notice else [])
    if reuse is not None and (
        reuse.device != device
        or reuse.config.precision != config.precision
        or reuse.config.data != config.data
        or catalog not in (None, reuse.base_catalog)
        or reuse.model_version != model_version
        or warm_start is not None
    ):
        reuse = None
    base_catalog = reuse.base_catalog if reuse is not None else base
    own_catalog = reuse.catalog if reuse is not None else loaded.catalog if loaded is not None else base_catalog
    if config.k > len(own_catalog):
        raise ConfigError(
            f"k = {config.k} is larger than the {own_catalog.name} catalog; allowed range 1..{len(own_catalog)}"
        )
    env = (
        reuse.env
        if reuse is not None
        else Env(
            own_catalog,
            device,
            embedder_factory,
            progress=progress,
            precision=config.precision,
            artifact_root=loaded.artifact_root if loaded is not None else None,
            negatives=loaded.negatives if loaded is not None else None,
            warm_start=warm_start,
        )
    )
    # Builds sharing an Env take turns, so the artifact log, progress and cancel below are this build's own.
    with env.build_lock:
        env.on_progress, env.cancel = on_progress, cancel
        env.generator_precision = None  # set again by the components this build loads a generator for
        try:
            parts = _Preparer(env, reuse).prepare_all(config, reviews)
        finally:
            env.on_progress, env.cancel = None, None
        precision = env.generator_precision
    if precision is None and reuse is not None and {"explain", "intent"} & set(parts.reused):
        precision = reuse.precision  # a reused reasoner or intent model keeps the generator it loaded
    config, reasoner = parts.config, parts.reasoner
    template_reasons = isinstance(reasoner, TemplateReasoner)
    capabilities = Capabilities(
        attending={n: s for n, s in parts.scorers.items() if isinstance(s, Attends)},
        primes_profiles=parts.context if isinstance(parts.context, PrimesProfiles) else None,
        prompt_attention=reasoner if isinstance(reasoner, AttendsToPrompt) else None,
        template_reasons=template_reasons,
    )
    cold_scorer, cold_error = _cold_start_scorer(parts.scorers, env)
    return Built(
        config=config,
        device=device,
        precision=precision,
        base_catalog=base_catalog,
        catalog=own_catalog,
        env=env,
        model_version=model_version,
        # Corrupt saved state that preparing retrained is said in every trace of this pipeline.
        build_notices=notices + parts.notices + [n for n in env.notices if n not in notices + parts.notices],
        prepare_timings=parts.timings,
        reused=parts.reused,
        artifact_paths=parts.artifact_paths,
        context=parts.context,
        intent=parts.intent,
        candidates=parts.candidates,
        scorers=parts.scorers,
        fusion=parts.fusion,
        rerankers=parts.rerankers,
        reasoner=reasoner,
        capabilities=capabilities,
        cold_scorer=cold_scorer,
        cold_error=cold_error,
        # Reasons are the slow part of a run: one per distinct prompt is kept across runs and reweighted pipelines.
        reason_cache=(
            reuse.reason_cache if reuse is not None and "explain" in parts.reused else LockedLRU(REASON_CACHE_SIZE)
        ),
        score_cache=reuse.score_cache if reuse is not None else LockedLRU(SCORE_CACHE_SIZE),
    )


@dataclass
class _Parts:
    config: PipelineConfig
    context: ContextEncoder
    intent: IntentModel
    candidates: CandidateGenerator
    scorers: dict[str, Scorer]
    fusion: Fusion
    rerankers: list[Reranker]
    reasoner: Reasoner
    notices: list[str]
    timings: list[StageTiming]
    reused: list[str]
    artifact_paths: dict[str, str]


class _Preparer:
    """Prepares one build's components on ``env``, taking unchanged ones from ``reuse``."""

    def __init__(self, env: Env, reuse: Built | None) -> None:
        self.env = env
        self.reuse = reuse
        self.timings: list[StageTiming] = []
        self.reused: list[str] = []
        self.artifact_paths: dict[str, str] = {}
        self.steps = 0
        self.total = 1

    def prepare_all(self, config: PipelineConfig, reviews: Mapping[str, GeneratorAcceptance] | None) -> _Parts:
        reuse = self.reuse
        old = reuse.config if reuse is not None else None
        self.total = 5 + len(config.scorers) + len(config.rerank)
        context = self.component(
            "context", config.context, "context", reuse.context if reuse else None, old.context if old else None
        )
        intent = self.component(
            "intent", config.intent, "intent", reuse.intent if reuse else None, old.intent if old else None
        )
        candidates = self.component(
            "candidates",
            config.candidates,
            "candidates",
            reuse.candidates if reuse else None,
            old.candidates if old else None,
        )
        scorers: dict[str, Scorer] = {}
        for name, spec in config.scorers.items():
            previous = reuse.scorers.get(name) if reuse is not None else None
            scorers[name] = self.component(
                "scorers", spec, f"scorers.{name}", previous, old.scorers.get(name) if old is not None else None
            )
        # A learned blend is fitted on the scorers and the intent, so it is reused only when they are unchanged.
        same_inputs = old is not None and old.scorers == config.scorers and old.intent == config.intent
        previous_fusion = reuse.fusion if reuse is not None and same_inputs else None
        fusion = self.component("fusion", config.fusion, "fusion", previous_fusion, old.fusion if old else None)
        if isinstance(fusion, LearnedFusion) and "fusion" not in self.reused:
            from genre.pipeline.fit import fit_learned_fusion

            mark = len(self.env.artifact_log)
            self.env.checkpoint("fitting the learned fusion", self.steps / self.total)
            with timed(self.timings, "fusion", "LearnedFusion.fit"):
                fit_learned_fusion(fusion, config, self.env)
            self._record_artifacts("fusion", mark)
        if isinstance(fusion, LtrFusion) and "fusion" not in self.reused:
            from genre.pipeline.fit_ltr import fit_ltr_fusion

            mark = len(self.env.artifact_log)
            self.env.checkpoint("fitting the learning-to-rank fusion", self.steps / self.total)
            with timed(self.timings, "fusion", "LtrFusion.fit"):
                fit_ltr_fusion(fusion, config, self.env)
            self._record_artifacts("fusion", mark)
        rerankers = [self.component("rerank", spec, f"rerank.{n}", None, None) for n, spec in enumerate(config.rerank)]
        notices: list[str] = []
        explain = config.explain
        if config.feedback.prefer_reviewed:
            from genre.feedback.choice import reviewed_explain

            explain, choice = reviewed_explain(config, reviews)
            notices.append(choice.notice)
        previous_reasoner = reuse.reasoner if reuse is not None else None
        old_explain = old.explain if old is not None else None
        try:
            reasoner = self.component("explain", explain, "explain", previous_reasoner, old_explain)
        except GenreError as exc:
            if explain is config.explain:
                raise
            notices.append(
                f"Could not start the {explain.component} generator ({exc}); using {config.explain.component}."
            )
            explain = config.explain
            reasoner = self.component("explain", explain, "explain", previous_reasoner, old_explain)
        if explain is not config.explain:
            # The trace's config says which generator actually wrote the reasons.
            config = config.model_copy(update={"explain": explain})
        self.env.checkpoint("ready", 1.0)
        return _Parts(
            config=config,
            context=cast(ContextEncoder, context),
            intent=cast(IntentModel, intent),
            candidates=cast(CandidateGenerator, candidates),
            scorers=scorers,
            fusion=cast(Fusion, fusion),
            rerankers=[cast(Reranker, r) for r in rerankers],
            reasoner=reasoner,
            notices=notices,
            timings=self.timings,
            reused=self.reused,
            artifact_paths=self.artifact_paths,
        )

    def component(self, stage: str, spec: StageSpec, where: str, previous: Any, old: StageSpec | None) -> Any:
        """``previous`` when its spec ``old`` is unchanged, else a freshly built and prepared component."""
        self.steps += 1
        if previous is not None and old is not None and old.model_dump() == spec.model_dump():
            self.reused.append(where)
            return previous
        comp = build_component(stage, spec, where=where)
        self.env.checkpoint(f"preparing {where}", (self.steps - 1) / self.total)
        mark = len(self.env.artifact_log)
        label = where.removeprefix("scorers.") if stage == "scorers" else type(comp).__name__
        with timed(self.timings, stage, label):
            comp.prepare(self.env)
        self._record_artifacts(where, mark)
        return comp

    def _record_artifacts(self, where: str, mark: int) -> None:
        """Note the artifact folders ``where`` asked the env for since ``mark``."""
        for n, (_, path) in enumerate(self.env.artifact_log[mark:]):
            self.artifact_paths[where if n == 0 else f"{where}#{n + 1}"] = str(path)


def _cold_start_scorer(scorers: Mapping[str, Scorer], env: Env) -> tuple[Scorer | None, str | None]:
    """What ranks a cold-start user: the pipeline's own popularity scorer, else a default one.

    Returns (None, why) when the catalog has no popularity signal; a cold-start request then fails
    with that reason, while every other request works.
    """
    own = next((s for s in scorers.values() if isinstance(s, PopularityScorer)), None)
    if own is not None:
        return own, None
    scorer = PopularityScorer()
    try:
        scorer.prepare(env)
    except ConfigError as exc:
        return None, str(exc)
    return scorer, None
