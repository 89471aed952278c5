"""The evaluation harness: every scorer and every fused config, on one split, in one run.

Components are fitted on a catalog whose interactions are the training split only, so
nothing trained ever sees a test interaction. Each user's training items are excluded
from their ranking; test items are the relevant set (binary relevance).

A config's row ranks through :func:`genre.pipeline.rank.rank_users`, the path ``Pipeline.run``
takes (candidate stage, fusion, re-rankers, ties to the lower catalog index), with its cold-start
rule: a user with neither history nor profile is ranked by popularity alone, every other user by
all the config's scorers. Every test user of a split has training history, so none is cold in
that sense; users with at most ``COLD_MAX_TRAIN`` training events are *reported* as cold. A
scorer's own row ranks that scorer's scores alone (training popularity for a user it cannot score).

Every row also carries the popularity figures of :mod:`genre.evaluation.slices` (NDCG@10 on head / torso /
tail items by training popularity, IPS- and SNIPS-NDCG@10, the Gini index of exposure), computed with the
training split's item counts; :meth:`EvalReport.slices_markdown` tabulates them.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from genre.components.intent import TrainedIntentHead
from genre.config import PipelineConfig
from genre.core.errors import BuildCancelled, ConfigError, DataError
from genre.core.types import Catalog, Intent, UserContext, UserState, stable_hash
from genre.data import load_catalog
from genre.data.splits import Split, random_split, read_split_dir, temporal_split
from genre.evaluation.cold_items import COLD_ITEM_MAX_TRAIN, cold_item_slice
from genre.evaluation.intent_accuracy import IntentAccuracy, LabelHead, intent_accuracy
from genre.evaluation.slices import PROPENSITY_CLIP, PROPENSITY_ETA, slice_metrics
from genre.metrics import evaluate_rankings
from genre.models import Embedder, load_embedder
from genre.pipeline import Pipeline
from genre.pipeline.rank import encode_users, rank_users, user_contexts

Protocol = Literal["T", "R"]
COLD_MAX_TRAIN = 5
"""Users with at most this many training interactions are reported as cold."""
TOP = 100
"""Ranking depth kept per user: metrics use @10/@20, MRR is computed within the top 100."""

Progress = Callable[[str, float], None]


@dataclass
class EvalRow:
    name: str
    kind: Literal["scorer", "fusion"]
    metrics: dict[str, float]
    warm: dict[str, float]
    cold: dict[str, float]
    seconds: float
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class EvalReport:
    protocol: str
    dataset: str
    users: int
    cold_users: int
    train_interactions: int
    test_interactions: int
    rows: list[EvalRow]
    seconds: float
    extras: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=float)

    def best(self, kind: str, metric: str = "ndcg@10") -> EvalRow:
        return max((r for r in self.rows if r.kind == kind), key=lambda r: r.metrics[metric])

    def to_markdown(self) -> str:
        cols = ["ndcg@10", "recall@10", "recall@20", "mrr", "coverage@10"]
        head = "| row | kind | " + " | ".join(cols) + " | warm ndcg@10 | cold ndcg@10 | fit s |"
        lines = [head, "|" + "---|" * (len(cols) + 5)]
        for r in self.rows:
            cold = f"{r.cold['ndcg@10']:.4f}" if r.cold else "n/a"
            lines.append(
                f"| {r.name} | {r.kind} | "
                + " | ".join(f"{r.metrics[c]:.4f}" for c in cols)
                + f" | {r.warm.get('ndcg@10', float('nan')):.4f} | {cold} | {r.seconds:.1f} |"
            )
        return "\n".join(lines)

    def slices_markdown(self) -> str:
        """Popularity figures per row: group NDCG@10, IPS/SNIPS beside naive NDCG@10, coverage, Gini, and
        NDCG@10 on cold test items (at most ``COLD_ITEM_MAX_TRAIN`` training interactions)."""
        cols = [*SLICE_COLUMNS]
        lines = ["| row | " + " | ".join(cols) + " |", "|" + "---|" * (len(cols) + 1)]
        for r in self.rows:
            lines.append(f"| {r.name} | " + " | ".join(f"{r.metrics.get(c, float('nan')):.4f}" for c in cols) + " |")
        return "\n".join(lines)


SLICE_COLUMNS = (
    "ndcg@10",
    "ndcg@10-head",
    "ndcg@10-torso",
    "ndcg@10-tail",
    "ips-ndcg@10",
    "snips-ndcg@10",
    "coverage@10",
    "gini@10",
    "cold-item ndcg@10",
)
"""Columns of :meth:`EvalReport.slices_markdown` (the CLI table and the Evaluate page show the same)."""


def make_split(catalog: Catalog, protocol: Protocol, split_dir: Path | None) -> Split:
    if split_dir is not None:
        return read_split_dir(split_dir, catalog)
    if catalog.interactions is None or len(catalog.interactions) == 0:
        raise DataError(
            f"the {catalog.name} catalog has no user interactions, so there is nothing to hold out and "
            "no ranking to measure; evaluate a catalog with interactions (e.g. configs/movies.toml) "
            "or pass --split-dir with train.csv and test.csv"
        )
    if protocol == "T":
        return temporal_split(catalog.interactions, 0.2)
    if protocol == "R":
        return random_split(catalog.interactions, 0.25, seed=42)
    raise ConfigError(f"protocol must be one of T, R. Got {protocol!r}")


def _topk_from_matrix(scores: np.ndarray, seen: list[np.ndarray], fallback: np.ndarray) -> np.ndarray:
    """Top items per row with each row's seen items excluded; rows with no score use ``fallback``."""
    m = np.where(np.isnan(scores), -np.inf, scores)
    empty = ~np.isfinite(m).any(axis=1)
    m[empty] = fallback[None, :]
    for row, s in enumerate(seen):
        m[row, s] = -np.inf
    top = min(TOP, m.shape[1])
    part = np.argpartition(-m, top - 1, axis=1)[:, :top]
    vals = np.take_along_axis(m, part, axis=1)
    order = np.lexsort((part, -vals), axis=1)
    return np.take_along_axis(part, order, axis=1)


@dataclass
class EvalSetup:
    """The split and the users being measured, shared by the single-process and the sharded evaluation."""

    catalog: Catalog
    split: Split
    train_catalog: Catalog
    """The catalog with the training split as its only interactions: what every component is fitted on."""
    users: list[str]
    relevant: list[np.ndarray]
    """Each user's test items (catalog indices), in ``users`` order."""
    cold_mask: np.ndarray
    contexts: list[UserContext]
    """Each user's training history, in ``users`` order."""
    seen: list[np.ndarray]
    """Each user's training items (catalog indices), excluded from their ranking."""
    item_counts: np.ndarray
    popularity: np.ndarray
    """log1p of the training counts: a scorer's row ranks a user it cannot score by it."""
    configs: list[PipelineConfig]
    """The configs, each learned fusion validated like the split being measured."""

    @property
    def first_test(self) -> list[int]:  # each user's first test item, what an intent head predicts
        return [int(r[0]) for r in self.relevant]


def prepare_evaluation(
    configs: list[PipelineConfig], protocol: Protocol, split_dir: Path | None, max_users: int | None
) -> EvalSetup:
    """Load the shared data, split it and pick the users (a seeded sample of ``max_users`` when given)."""
    if not configs:
        raise ConfigError("evaluate needs at least one config")
    data = {c.data.model_dump_json(exclude={"profiles"}) for c in configs}
    if len(data) > 1:
        raise ConfigError("all configs evaluated together must use the same [data] section")
    catalog = load_catalog(configs[0].data)
    split = make_split(catalog, protocol, split_dir)
    relevant_by_user = split.test_items_by_user()
    users = sorted(relevant_by_user)
    if max_users is not None and max_users < len(users):
        users = sorted(np.random.default_rng(42).choice(users, size=max_users, replace=False).tolist())
    train_counts = split.train_counts_by_user()
    contexts = user_contexts(split.train, catalog, users)
    item_counts = np.bincount(split.train.item_index, minlength=len(catalog))
    validation = "random" if split.name == "random" else "temporal"
    return EvalSetup(
        catalog=catalog,
        split=split,
        train_catalog=catalog.with_interactions(split.train),
        users=users,
        relevant=[relevant_by_user[u] for u in users],
        cold_mask=np.array([train_counts.get(u, 0) <= COLD_MAX_TRAIN for u in users]),
        contexts=contexts,
        seen=[np.array([catalog.index_of(e.item_id) for e in c.history], dtype=np.int64) for c in contexts],
        item_counts=item_counts,
        popularity=np.log1p(item_counts.astype(np.float64)),
        configs=[_validation_like_protocol(c, validation) for c in configs],
    )


@dataclass
class ConfigRanking:
    """One config's rankings of a block of users, as rows of catalog indices (best first)."""

    scorers: list[tuple[str, str, np.ndarray, float]]
    """(scorer key, scorer name, top items, seconds spent scoring) for each scorer first met in this config."""
    fused: np.ndarray
    """The config's own ranking, as ``Pipeline.run`` ranks."""
    states: list[UserState]


def scorer_key(cfg: PipelineConfig, name: str) -> str:
    """Two configs share a scorer's scores only when the scorer and the context and intent stages that
    produce the user states and intents it sees all match."""
    return stable_hash(
        {
            "component": cfg.scorers[name].component,
            "config": cfg.scorers[name].config,
            "context": cfg.context.model_dump(),
            "intent": cfg.intent.model_dump(),
        }
    )


def rank_config(
    pipe: Pipeline,
    cfg: PipelineConfig,
    contexts: list[UserContext],
    seen: list[np.ndarray],
    popularity: np.ndarray,
    scored: dict[str, np.ndarray],
    cancel: threading.Event | None = None,
    on_fuse: Callable[[], None] | None = None,
) -> ConfigRanking:
    """Rank ``contexts`` with every scorer of ``pipe`` not already in ``scored`` (keyed by :func:`scorer_key`;
    the new score matrices are added to it) and with the config's fusion.

    Each user's row depends on that user alone, so ranking the users in blocks and stacking the rows
    gives the rows of ranking them all at once (what the sharded evaluation relies on).
    """
    states, intents = encode_users(pipe.context, pipe.intent, contexts)
    matrices: dict[str, np.ndarray] = {}
    first: list[tuple[str, str, np.ndarray, float]] = []
    for name, scorer in pipe.scorers.items():
        _check(cancel, f"scoring with {name}")
        key = scorer_key(cfg, name)
        if key not in scored:
            t1 = time.perf_counter()
            scored[key] = scorer.score_users(states, intents)
            topk = _topk_from_matrix(scored[key], seen, popularity)
            first.append((key, name, topk, time.perf_counter() - t1))
        matrices[name] = scored[key]
    _check(cancel, f"fusing {cfg.name}")
    if on_fuse is not None:
        on_fuse()
    return ConfigRanking(first, _fused_topk(pipe, matrices, states, intents), states)


def fusion_detail(pipe: Pipeline, cfg: PipelineConfig) -> dict[str, Any]:
    """What a fusion row says about its config: fusion, re-rankers, and the blend weights it used."""
    detail: dict[str, Any] = {"fusion": cfg.fusion.component, "rerank": [r.component for r in cfg.rerank]}
    weights = getattr(pipe.fusion, "weights", None) or getattr(pipe.fusion.config, "weights", None)
    if weights:
        detail["weights"] = {k: round(float(v), 4) for k, v in weights.items()}
    return detail


def evaluate(
    configs: list[PipelineConfig],
    protocol: Protocol = "T",
    split_dir: Path | None = None,
    max_users: int | None = None,
    progress: Progress | None = None,
    train_progress: bool = False,
    intent_head: bool = False,
    cancel: threading.Event | None = None,
    embedder_factory: Callable[[str], Embedder] = load_embedder,
) -> EvalReport:
    """Evaluate every scorer and every config's fusion on one shared split.

    Configs whose intent stage is a label head (``trained-head``, ``multitask-head``) get its accuracy
    beside a majority-class baseline (``extras["intent_accuracy"]``); ``intent_head`` measures
    a default-config head when no config has one. Setting ``cancel`` stops the evaluation with
    :class:`~genre.core.errors.BuildCancelled` at the next training epoch, component or scorer.
    :mod:`genre.evaluation.sharded` runs the same evaluation with the users sharded across Ray workers.
    """
    report = progress or (lambda message, fraction: None)
    started = time.perf_counter()
    setup = prepare_evaluation(configs, protocol, split_dir, max_users)
    rows_for = RowMaker(setup.relevant, setup.cold_mask, setup.item_counts)
    rows: list[EvalRow] = []
    scored: dict[str, np.ndarray] = {}
    accuracies: list[IntentAccuracy] = []
    for n, cfg in enumerate(setup.configs):
        _check(cancel, f"training {cfg.name}")
        report(f"training {cfg.name} on the training split", n / len(setup.configs))
        t0 = time.perf_counter()
        pipe = Pipeline(cfg, embedder_factory, catalog=setup.train_catalog, progress=train_progress, cancel=cancel)
        build_seconds = time.perf_counter() - t0
        ranking = rank_config(
            pipe,
            cfg,
            setup.contexts,
            setup.seen,
            setup.popularity,
            scored,
            cancel,
            on_fuse=lambda: report(f"fusing {cfg.name}", (n + 0.5) / len(setup.configs)),  # noqa: B023
        )
        states = ranking.states
        if isinstance(pipe.intent, LabelHead):  # trained-head, multitask-head
            accuracies.append(
                intent_accuracy(cfg.name, pipe.intent, setup.catalog, setup.split, states, setup.first_test)
            )
        for _key, name, topk, seconds in ranking.scorers:
            fit = next((t.ms / 1000 for t in pipe.prepare_timings if t.component == name), 0.0)
            label = name if all(r.name != name for r in rows) else f"{name} ({cfg.name})"
            rows.append(rows_for(label, "scorer", topk, fit + seconds))
        rows.append(rows_for(cfg.name, "fusion", ranking.fused, build_seconds, fusion_detail(pipe, cfg)))
    if intent_head and not accuracies:
        report("training the default intent head on the training split", 0.99)
        accuracies.append(default_head_accuracy(pipe, cfg, setup, states))
    report("done", 1.0)
    return build_report(setup, protocol, split_dir, rows, accuracies, time.perf_counter() - started)


def default_head_accuracy(
    pipe: Pipeline, cfg: PipelineConfig, setup: EvalSetup, states: list[UserState]
) -> IntentAccuracy:
    """A default trained intent head's accuracy, fitted in ``pipe``'s env (its catalog holds the training split
    only) and read on ``states`` (every measured user's, from ``pipe``)."""
    head = TrainedIntentHead()
    head.prepare(pipe.env)
    name = f"{cfg.name} (default trained-head)"
    return intent_accuracy(name, head, setup.catalog, setup.split, states, setup.first_test)


def build_report(
    setup: EvalSetup,
    protocol: Protocol,
    split_dir: Path | None,
    rows: list[EvalRow],
    accuracies: list[IntentAccuracy],
    seconds: float,
) -> EvalReport:
    return EvalReport(
        protocol=setup.split.name if split_dir is not None else protocol,
        dataset=setup.catalog.name,
        users=len(setup.users),
        cold_users=int(setup.cold_mask.sum()),
        train_interactions=len(setup.split.train),
        test_interactions=len(setup.split.test),
        rows=rows,
        seconds=round(seconds, 1),
        extras={
            "propensity": {"eta": PROPENSITY_ETA, "clip": PROPENSITY_CLIP},
            **({"intent_accuracy": [asdict(a) for a in accuracies]} if accuracies else {}),
        },
    )


def _check(cancel: threading.Event | None, doing: str) -> None:
    if cancel is not None and cancel.is_set():
        raise BuildCancelled(f"the evaluation was cancelled before {doing}")


def _validation_like_protocol(cfg: PipelineConfig, validation: str) -> PipelineConfig:
    """A learned or learning-to-rank fusion fits on a validation split shaped like the test split being measured."""
    if cfg.fusion.component not in ("learned", "ltr") or cfg.fusion.config.get("validation") == validation:
        return cfg
    fusion = cfg.fusion.model_copy(update={"config": {**cfg.fusion.config, "validation": validation}})
    return cfg.model_copy(update={"fusion": fusion})


def _fused_topk(
    pipe: Pipeline, matrices: dict[str, np.ndarray], states: list[UserState], intents: list[Intent]
) -> np.ndarray:
    """Each user's top ``TOP`` items ranked as ``pipe.run`` ranks them, from the shared score matrices."""
    return rank_users(pipe.ranker, states, intents, min(TOP, len(pipe.catalog)), matrices)


@dataclass
class RowMaker:
    """Scores one ranked row: ranking metrics for all, warm and cold users, and the popularity slices."""

    relevant: list[np.ndarray]
    cold_mask: np.ndarray
    item_counts: np.ndarray
    """Training interactions per catalog item (popularity groups and propensities)."""

    def __call__(
        self,
        name: str,
        kind: Literal["scorer", "fusion"],
        topk: np.ndarray,
        seconds: float,
        detail: dict[str, Any] | None = None,
    ) -> EvalRow:
        cold_mask, n_items = self.cold_mask, self.item_counts.size
        metrics = evaluate_rankings(topk, self.relevant, n_items, ks=(10, 20))
        warm = metrics.subset(~cold_mask).mean() if (~cold_mask).any() else {}
        cold = metrics.subset(cold_mask).mean() if cold_mask.any() else {}
        figures = metrics.mean()
        figures.update(slice_metrics(topk, self.relevant, self.item_counts, k=10))
        cold_items = cold_item_slice(topk, self.relevant, self.item_counts, max_train=COLD_ITEM_MAX_TRAIN, k=10)
        # "cold" alone already names users with few training events: this one is about items.
        figures["cold-item ndcg@10"] = cold_items.ndcg
        figures["cold-item recall@10"] = cold_items.recall
        return EvalRow(name, kind, figures, warm, cold, round(seconds, 2), detail or {})
