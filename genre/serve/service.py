"""What the HTTP routes call: configs by name, the shared pipeline pool, the feedback store, recent runs
and the time budgets. No HTTP here; every method is synchronous and runs on a worker thread.

Reasons are written apart from ranking: a run ranks with ``reasons=False`` (template reasons, the
generated ones pending), then the generator writes the pending ones on its own thread pool within
the request's reason budget. When it fails, is unavailable or runs late, the template reasons stay,
with a notice saying why; a late generation still finishes and fills the reason cache, so asking
again (``POST /v1/explain``) is fast.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from genre.components.reasoners.styles import styled_options
from genre.config import PipelineConfig, load_config, with_generator
from genre.core.errors import ConfigError, GenreError, InputError, ModelUnavailableError, StoreUnavailableError
from genre.core.types import Catalog, RunTrace, UserContext
from genre.data import load_catalog, load_profiles
from genre.data.profiles import Profile
from genre.data.users import (
    built_profile_context,
    dataset_user_context,
    dataset_user_ids,
    feedback_key,
    user_or_profile_context,
    with_request,
)
from genre.feedback.events import FeedbackEvent
from genre.feedback.store import FeedbackStore
from genre.pipeline import Pipeline, PipelinePool
from genre.pipeline.caches import LockedLRU
from genre.serve.errors import ApiError
from genre.serve.logs import ERROR_LOGGER, log_fields
from genre.serve.metrics import ServiceMetrics
from genre.serve.schemas import ExplainRequest, FeedbackRequest, RecommendRequest, Who
from genre.serve.settings import ServiceSettings

_log = logging.getLogger(ERROR_LOGGER)


@dataclass
class _Run:
    """A run kept for ``POST /v1/explain``: its trace (pending reasons intact), who made it and with what."""

    trace: RunTrace
    pipeline: Pipeline
    caller: str
    owner: str | None
    lock: threading.Lock = field(default_factory=threading.Lock)


def load_configs(folder: Path) -> dict[str, PipelineConfig]:
    """Every ``*.toml`` in ``folder`` by file stem; a missing folder, no configs or a bad file is a ConfigError."""
    if not folder.is_dir():
        raise ConfigError(f"configs folder {folder} does not exist; pass --configs DIR with pipeline TOML files")
    configs = {path.stem: load_config(path) for path in sorted(folder.glob("*.toml"))}
    if not configs:
        raise ConfigError(f"configs folder {folder} holds no *.toml pipeline configs")
    return configs


class Service:
    """The service's state: shared by every request of one app, safe across threads."""

    def __init__(self, settings: ServiceSettings, pool: PipelinePool | None, metrics: ServiceMetrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.configs = load_configs(settings.configs_dir)
        unknown = [name for name in settings.preload if name not in self.configs]
        if unknown:
            raise ConfigError(f"cannot preload {', '.join(unknown)}: not in {settings.configs_dir}; {self.valid()}")
        # not `pool or ...`: an empty pool has len 0 and is falsy, and the caller's pool (its embedder) would be dropped
        self.pool = pool if pool is not None else PipelinePool(max_size=settings.pool_size)
        self.workers = ThreadPoolExecutor(settings.threads, thread_name_prefix="genre-serve")
        self.generation = ThreadPoolExecutor(settings.generation_threads, thread_name_prefix="genre-generate")
        self.runs: LockedLRU[str, _Run] = LockedLRU(settings.max_runs_kept)
        self._store: FeedbackStore | None = None
        self._store_lock = threading.Lock()
        self._loaded: dict[str, str | None] = {name: "not built yet" for name in settings.preload}
        """Per preloaded config: None once built, else what it is waiting for or why it failed."""
        self._loaded_lock = threading.Lock()
        self._profiles: dict[str, dict[str, Profile]] = {}
        self._building: dict[str, int] = {}
        """Configs being built now (by name, how many requests wait for them)."""

    # ---- lifecycle and readiness ----------------------------------------------------------------

    def preload(self) -> None:
        """Build every preloaded config and answer one warm-up run with it (on a worker thread, while
        ``/readyz`` says 503): the first request then finds every model loaded and every lazy part built."""
        for name in self.settings.preload:
            with self._loaded_lock:
                self._loaded[name] = "building"
            try:
                pipeline = self.pipeline(self.configs[name])
                users = dataset_user_ids(pipeline.catalog)
                ctx = dataset_user_context(pipeline.catalog, users[0]) if users else UserContext()
                pipeline.run(ctx, k=1)
                problem = None
            except Exception as exc:  # reported by /readyz; the service keeps answering
                problem = (
                    f"build failed: {exc}" if isinstance(exc, GenreError) else f"build failed ({type(exc).__name__})"
                )
                log_fields(_log, logging.ERROR, "preload failed", exc_info=not isinstance(exc, GenreError), config=name)
            with self._loaded_lock:
                self._loaded[name] = problem

    def readiness(self) -> list[str]:
        """Why the service is not ready (empty: ready): configs not built yet, the store unreachable."""
        with self._loaded_lock:
            problems = [f"config {name}: {why}" for name, why in self._loaded.items() if why is not None]
        try:
            store = self.store()
            with store.db.read("checking the feedback store") as conn:
                conn.execute(sa.text("SELECT 1"))
        except StoreUnavailableError as exc:
            problems.append(f"feedback store: {exc}")
        return problems

    def close(self) -> None:
        self.workers.shutdown(wait=False, cancel_futures=True)
        self.generation.shutdown(wait=False, cancel_futures=True)
        with self._store_lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    def store(self) -> FeedbackStore:
        """The feedback store, opened on first use and again after a failed open (a server may come back)."""
        with self._store_lock:
            if self._store is None:
                self._store = FeedbackStore(self.settings.feedback_url)
            return self._store

    # ---- configs and pipelines ------------------------------------------------------------------

    def valid(self) -> str:
        return f"valid configs: {', '.join(self.configs)}"

    def config(self, name: str) -> PipelineConfig:
        config = self.configs.get(name)
        if config is None:
            raise ApiError(404, "unknown_config", f"unknown config {name!r}; {self.valid()}")
        return config

    def pipeline(self, config: PipelineConfig, notices: list[str] | None = None) -> Pipeline:
        """The built pipeline; a generator that cannot load gives the template pipeline with a notice in ``notices``."""
        try:
            pipeline = self._built(config)
        except ModelUnavailableError as exc:
            if notices is None or config.explain.component == "template":
                raise
            options = {k: v for k, v in config.explain.config.items() if k in ("style", "max_words")}
            template = with_generator(config, "template", source=f"{config.name} (template fallback)", options=options)
            pipeline = self._built(template)
            notices.append(f"The reason generator is unavailable ({exc}); template reasons are shown.")
            self.metrics.fallbacks.labels(config.name, "generator_unavailable").inc()
        self.metrics.pipeline_built(
            config.name, pipeline.model_version, pipeline.device, pipeline.config.explain.component
        )
        return pipeline

    def profiles(self, config: PipelineConfig) -> dict[str, Profile]:
        """The config's example profiles, read once (not from disk on every request)."""
        key = config.data.model_dump_json()
        with self._loaded_lock:
            found = self._profiles.get(key)
        if found is None:
            found = load_profiles(config.data)
            with self._loaded_lock:
                self._profiles[key] = found
        return found

    def _built(self, config: PipelineConfig) -> Pipeline:
        pipeline = self.pool.peek(config)
        if pipeline is not None:
            return pipeline
        with self._loaded_lock:
            self._building[config.name] = self._building.get(config.name, 0) + 1
        try:
            return self.pool.get(config)
        finally:
            with self._loaded_lock:
                self._building[config.name] -= 1
                if not self._building[config.name]:
                    del self._building[config.name]

    def building(self) -> list[str]:
        """Configs whose build is under way (a request that timed out while one builds may retry soon)."""
        with self._loaded_lock:
            return sorted(self._building)

    def _styled(self, config: PipelineConfig, style: str | None, max_words: int | None) -> PipelineConfig:
        if style is None and max_words is None:
            return config
        generator = config.explain.component
        options = styled_options(generator, config.explain.config, style, max_words)
        return with_generator(config, generator, source=f"{config.name} with style {style}", options=options)

    # ---- requests ---------------------------------------------------------------------------------

    def owner(self, who: Who, catalog: Catalog) -> str | None:
        """The feedback user key of a request: its dataset user or example profile, or its profile name."""
        if who.user is not None:
            profiles = self.profiles(self.config(who.config))
            return feedback_key("profile" if who.user in profiles else "dataset", catalog.name, who.user)
        if who.profile_name is not None:
            return feedback_key("named", catalog.name, who.profile_name)
        return None

    def context(self, req: RecommendRequest, config: PipelineConfig, catalog: Catalog) -> UserContext:
        if req.user is not None:
            try:
                ctx = user_or_profile_context(catalog, self.profiles(config), req.user)
            except InputError as exc:
                raise ApiError(404, "unknown_user", str(exc)) from None
        elif req.history or req.item_ids:
            ctx = built_profile_context(catalog, titles=req.history or (), item_ids=req.item_ids or ())
        else:
            ctx = UserContext()
        return with_request(
            ctx, profile=req.profile, price_min=req.price_min, price_max=req.price_max, categories=req.categories
        )

    def check_k(self, k: int | None, catalog: Catalog) -> None:
        top = min(self.settings.max_k, len(catalog))
        if k is not None and not 1 <= k <= top:
            raise ApiError(
                422, "k_out_of_range", f"k = {k} is out of range: k must be 1 to {top} "
                f"(service max_k {self.settings.max_k}, the {catalog.name} catalog has {len(catalog)} items)",
            )  # fmt: skip

    def recommend(self, req: RecommendRequest, caller: str, deadline: float) -> RunTrace:
        """Rank, then write the reasons within the budget; the returned trace has no pending reasons
        unless ``req.reasons`` is False."""
        base = self.config(req.config)
        catalog = load_catalog(base.data)
        self.check_k(req.k, catalog)
        notices: list[str] = []
        pipeline = self.pipeline(self._styled(base, req.style, req.max_words), notices)
        ctx = self.context(req, base, catalog)
        owner = self.owner(req, catalog)
        feedback = self.store().events_for_user(owner) if req.use_feedback and owner is not None else None
        trace = pipeline.run(ctx, k=req.k, reasons=False, feedback=feedback)
        trace.notices.extend(notices)
        answer = kept = trace
        if req.reasons and trace.pending_reasons:
            written, problem = self._write_reasons(pipeline, trace, list(trace.pending_reasons), deadline)
            if problem is None:
                answer = kept = written
            else:  # the kept run's reasons stay pending, so POST /v1/explain may try again
                answer = trace.model_copy(update={"notices": [*trace.notices, problem], "pending_reasons": []})
        if kept.pending_reasons:  # only a run with reasons left to write has anything more to give
            self.runs.put(trace.run_id, _Run(kept, pipeline, caller, owner))
        self.metrics.observe_trace(answer)
        self._record(answer, owner)
        return answer

    def explain(self, req: ExplainRequest, caller: str, deadline: float) -> dict[str, Any]:
        """Write the reasons of ``req.item_ids`` of a kept run (those still pending) within the budget."""
        run = self.runs.get(req.run_id)
        if run is None or run.caller != caller:
            raise ApiError(
                404, "unknown_run", f"unknown run id {req.run_id!r}: this service process keeps the latest "
                f"{self.settings.max_runs_kept} runs whose reasons are still pending (made with reasons: false, or "
                "whose generator ran late), for the API key that made them",
            )  # fmt: skip
        with run.lock:
            trace = run.trace
            by_id = {item.item_id: item for item in trace.items}
            wanted = (
                req.item_ids
                if req.item_ids is not None
                else [trace.items[r - 1].item_id for r in trace.pending_reasons]
            )
            unknown = [i for i in wanted if i not in by_id]
            if unknown:
                shown = ", ".join(by_id)
                raise ApiError(
                    404,
                    "unknown_item",
                    f"items not in run {req.run_id}: {', '.join(map(repr, unknown))}; its items: {shown}",
                )
            ranks = [by_id[i].rank for i in dict.fromkeys(wanted)]
            pending = [r for r in ranks if r in trace.pending_reasons]
            notices: list[str] = []
            if pending:
                written, problem = self._write_reasons(run.pipeline, trace, pending, deadline)
                if problem is None:
                    notices = written.notices[len(trace.notices) :]
                    run.trace = trace = written
                    self.metrics.observe_trace(written, pending)
                    self._record(written, run.owner)
                else:  # template reasons answered now; the run keeps them pending for a retry
                    notices = [problem]
            items = [trace.items[r - 1].model_dump(mode="json") for r in ranks]
        return {"run_id": req.run_id, "items": items, "notices": notices}

    def feedback(self, req: FeedbackRequest) -> FeedbackEvent:
        config = self.config(req.config)
        catalog = load_catalog(config.data)
        if req.user is not None:
            try:
                user_or_profile_context(catalog, self.profiles(config), req.user)
            except InputError as exc:
                raise ApiError(404, "unknown_user", str(exc)) from None
        owner = self.owner(req, catalog)
        assert owner is not None  # FeedbackRequest needs a user or a profile name
        return self.store().add_event(
            owner, req.item_id, req.kind, req.value, run_id=req.run_id, comment=req.comment,
            generator=req.generator, config_name=config.name if req.run_id is None else None,
            catalog_ids={item.item_id for item in catalog.items},
        )  # fmt: skip

    # ---- reasons and runs -------------------------------------------------------------------------

    def _write_reasons(
        self, pipeline: Pipeline, trace: RunTrace, ranks: list[int], deadline: float
    ) -> tuple[RunTrace, str | None]:
        """A copy of ``trace`` with the pending reasons at ``ranks`` written within the reason budget, and None;
        else ``trace`` unchanged and the notice saying why its template reasons stand."""
        margin = min(1.0, 0.1 * self.settings.request_timeout_s)
        budget = min(self.settings.reason_timeout_s, deadline - time.monotonic() - margin)
        work = trace.model_copy(deep=True)
        job = self.generation.submit(pipeline.explain_items, work, ranks)
        cause, why = None, ""
        try:
            job.result(timeout=max(0.0, budget))
        except TimeoutError:
            job.cancel()  # a job still queued never starts; a running one finishes into the reason cache
            cause, why = "timeout", f"the generator did not finish within {max(0.0, budget):.1f} s"
        except GenreError as exc:
            cause, why = "generator_error", f"the generator failed: {exc}"
        except Exception as exc:
            log_fields(_log, logging.ERROR, "reason generation failed", exc_info=True, config=trace.config_name)
            cause, why = "generator_error", f"the generator failed ({type(exc).__name__})"
        if cause is None:
            return work, None
        self.metrics.fallbacks.labels(trace.config_name, cause).inc(len(ranks))
        return trace, f"Template reasons are shown for {len(ranks)} items: {why}."

    def _record(self, trace: RunTrace, owner: str | None) -> None:
        """Record a run with an owner in the store, so feedback can name it; a failure becomes a notice."""
        if owner is None or not self.settings.record_runs:
            return
        try:
            self.store().record_run(trace, user=owner)
        except GenreError as exc:
            trace.notices.append(
                f"This run was not recorded in the feedback store ({exc}); feedback naming its run_id will be refused."
            )
