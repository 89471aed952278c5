"""The evaluation harness with its users sharded across Ray workers (``genre evaluate --ray``).

The driver loads the data, splits it and picks the users exactly as :func:`genre.evaluation.harness.evaluate`
does, and trains every config once on the training split (so the artifact store holds its trained state).
Each shard's worker then builds every config from that stored state (:func:`~genre.pipeline.shards.require_artifacts`
fails a worker that would have to train) and ranks its users with :func:`~genre.evaluation.harness.rank_config`,
the function the single-process run ranks with. A user's rows depend on that user alone, so the driver stacks
the shards' rows in user order and measures them with the same ``RowMaker`` over the same users: the metrics
are those of the single-process run, summed in the same order. Intent-head accuracy is measured on the driver.

Rows' ``seconds`` are not comparable with a single-process run's: a scorer row's is its fit on the driver
plus the scoring time of all shards added up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genre.config import PipelineConfig
from genre.core.types import UserContext
from genre.evaluation.harness import (
    ConfigRanking,
    EvalReport,
    EvalRow,
    EvalSetup,
    Progress,
    Protocol,
    RowMaker,
    build_report,
    default_head_accuracy,
    fusion_detail,
    prepare_evaluation,
    rank_config,
)
from genre.evaluation.intent_accuracy import IntentAccuracy, LabelHead, intent_accuracy
from genre.models import Embedder, load_embedder
from genre.pipeline import Pipeline
from genre.pipeline.rank import encode_users
from genre.pipeline.shards import (
    RayOptions,
    Shard,
    cluster_cpus,
    plan_shards,
    ray_session,
    require_artifacts,
    run_shards,
)

__all__ = ["evaluate_sharded"]


@dataclass
class _Trained:
    """What the driver keeps of one config's build: its row's figures and the trained state workers must find."""

    seconds: float
    fits: dict[str, float]
    detail: dict[str, Any]
    artifacts: dict[str, str] = field(default_factory=dict)


@dataclass
class _ShardInput:
    configs: list[PipelineConfig]
    catalog: Any
    """The training catalog, as the ObjectRef it was put under once for all shards."""
    contexts: list[UserContext]
    seen: list[np.ndarray]
    popularity: np.ndarray
    artifacts: list[dict[str, str]]
    embedder_factory: Callable[[str], Embedder]


def evaluate_sharded(
    configs: list[PipelineConfig],
    protocol: Protocol = "T",
    split_dir: Path | None = None,
    max_users: int | None = None,
    *,
    ray: RayOptions | None = None,
    progress: Progress | None = None,
    train_progress: bool = False,
    intent_head: bool = False,
    embedder_factory: Callable[[str], Embedder] = load_embedder,
) -> EvalReport:
    """:func:`~genre.evaluation.harness.evaluate` with the ranking of users sharded across Ray workers.

    ``ray`` says where (a local cluster by default) and into how many shards; the report is the single-process
    one, bar the rows' seconds.
    """
    options = ray or RayOptions()
    report = progress or (lambda message, fraction: None)
    started = time.perf_counter()
    setup = prepare_evaluation(configs, protocol, split_dir, max_users)
    # Connected first: a cluster that cannot be reached fails before anything is trained.
    with ray_session(options):
        import ray as ray_api

        trained, accuracies = _train(setup, report, embedder_factory, train_progress, intent_head)
        shards = plan_shards(setup.users, options.shards or cluster_cpus())
        n = len(setup.configs)
        report(f"ranking {len(setup.users)} users in {len(shards)} shards", n / (n + 1))
        catalog_ref = ray_api.put(setup.train_catalog)
        artifacts = [t.artifacts for t in trained]

        def payload(shard: Shard) -> _ShardInput:
            a, b = shard.start, shard.stop
            return _ShardInput(
                setup.configs, catalog_ref, setup.contexts[a:b], setup.seen[a:b], setup.popularity, artifacts,
                embedder_factory,
            )  # fmt: skip

        results: list[list[ConfigRanking]] = run_shards(_rank_shard, shards, payload, options)
    rows = _merge(results, setup.configs, trained, RowMaker(setup.relevant, setup.cold_mask, setup.item_counts))
    report("done", 1.0)
    return build_report(setup, protocol, split_dir, rows, accuracies, time.perf_counter() - started)


def _train(
    setup: EvalSetup,
    report: Progress,
    embedder_factory: Callable[[str], Embedder],
    train_progress: bool,
    intent_head: bool,
) -> tuple[list[_Trained], list[IntentAccuracy]]:
    """Every config built once on the driver, training into the artifact store what it lacks; intent accuracy."""
    trained: list[_Trained] = []
    accuracies: list[IntentAccuracy] = []
    for n, cfg in enumerate(setup.configs):
        report(f"training {cfg.name} on the training split", n / (len(setup.configs) + 1))
        t0 = time.perf_counter()
        pipe = Pipeline(cfg, embedder_factory, catalog=setup.train_catalog, progress=train_progress)
        seconds = time.perf_counter() - t0
        fits: dict[str, float] = {}
        for t in pipe.prepare_timings:
            fits.setdefault(t.component, t.ms / 1000)
        saved = {k: v for k, v in pipe.artifact_paths.items() if (Path(v) / "manifest.json").is_file()}
        trained.append(_Trained(seconds, fits, fusion_detail(pipe, cfg), saved))
        head = isinstance(pipe.intent, LabelHead)
        if head or (intent_head and n == len(setup.configs) - 1 and not accuracies):
            states, _ = encode_users(pipe.context, pipe.intent, setup.contexts)
            if isinstance(pipe.intent, LabelHead):
                accuracies.append(
                    intent_accuracy(cfg.name, pipe.intent, setup.catalog, setup.split, states, setup.first_test)
                )
            else:
                accuracies.append(default_head_accuracy(pipe, cfg, setup, states))
    return trained, accuracies


def _rank_shard(data: _ShardInput, shard: Shard) -> list[ConfigRanking]:
    """A worker's share: every config built from the stored trained state, ranking this shard's users."""
    import ray

    # An ObjectRef inside the payload: Ray resolves only the ones passed as arguments themselves.
    catalog = ray.get(data.catalog) if isinstance(data.catalog, ray.ObjectRef) else data.catalog
    scored: dict[str, np.ndarray] = {}
    out = []
    for cfg, artifacts in zip(data.configs, data.artifacts, strict=True):
        require_artifacts(artifacts)
        pipe = Pipeline(cfg, data.embedder_factory, catalog=catalog)
        ranking = rank_config(pipe, cfg, data.contexts, data.seen, data.popularity, scored)
        out.append(ConfigRanking(ranking.scorers, ranking.fused, states=[]))  # the driver needs no states
    return out


def _merge(
    results: list[list[ConfigRanking]], configs: list[PipelineConfig], trained: list[_Trained], rows_for: RowMaker
) -> list[EvalRow]:
    """The rows of the single-process run, from each shard's top items stacked in user order."""
    rows: list[EvalRow] = []
    for n, cfg in enumerate(configs):
        parts = [shard[n] for shard in results]
        for j, (_key, name, _top, _secs) in enumerate(parts[0].scorers):
            topk = np.concatenate([p.scorers[j][2] for p in parts])
            seconds = trained[n].fits.get(name, 0.0) + sum(p.scorers[j][3] for p in parts)
            label = name if all(r.name != name for r in rows) else f"{name} ({cfg.name})"
            rows.append(rows_for(label, "scorer", topk, seconds))
        fused = np.concatenate([p.fused for p in parts])
        rows.append(rows_for(cfg.name, "fusion", fused, trained[n].seconds, trained[n].detail))
    return rows
