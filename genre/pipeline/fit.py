"""Fits a learned fusion's weights on a validation split carved from training data only.

The scorers are prepared again on the split's training part and their scores for the validation
users come from :mod:`genre.pipeline.rank`, the same path that ranks for ``Pipeline.run`` and the
evaluation harness; the split and the metric come from :mod:`genre.data.splits` and
:mod:`genre.metrics`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np
from scipy.optimize import minimize

from genre.components.env import Env
from genre.components.fusion import LearnedConfig, LearnedFusion, normalize
from genre.config import PipelineConfig, StageSpec, build_component
from genre.core.artifacts import ArtifactFiles
from genre.core.component import Component, ContextEncoder, IntentModel, Scorer
from genre.core.errors import CorruptArtifactError
from genre.core.types import Catalog, UserState
from genre.data.splits import random_split, temporal_split
from genre.metrics import evaluate_rankings
from genre.pipeline.rank import encode_users, score_matrices, user_contexts

ARTIFACT_VERSION = 1
"""Version of the fitting below and of the saved weights; bump it when either changes (older weights are a miss)."""


def fit_learned_fusion(fusion: LearnedFusion, config: PipelineConfig, env: Env) -> dict[str, float]:
    """Set ``fusion.weights`` for ``config``'s scorers, trained on ``env``'s catalog.

    The catalog's interactions are split again (``validation``: each user's latest
    ``validation_fraction`` of events, or a random share); the context, intent and scorers are
    prepared afresh on the rest, score the held-out users, and the weights that best rank their
    held-out items (``objective``) are kept, saved beside the trained scorers.
    """
    cfg = fusion.config
    env.interactions("fusion 'learned'")  # says what is missing before anything is keyed
    key = {
        "scorers": {n: s.model_dump() for n, s in config.scorers.items()},
        "context": config.context.model_dump(),
        "intent": config.intent.model_dump(),
        "fusion": cfg.model_dump(),
    }
    artifact = env.artifact("learned-fusion", key, ARTIFACT_VERSION)
    saved = artifact.load(lambda files: _read_weights(files, list(config.scorers)))
    if saved is not None:
        fusion.weights, fusion.fit_report = saved
        return fusion.weights

    gen = np.random.default_rng(cfg.seed)
    scored = validation_scores(config, env, cfg.validation, cfg.validation_fraction, cfg.seed, cfg.max_users, gen)
    users, states, catalog = scored.users, scored.states, env.catalog
    names = list(scored.matrices)
    mats = [scored.matrices[n] for n in names]

    n_items = len(catalog)
    # Per user, each scorer normalized over that user's unseen items (as at serving time).
    feats = np.zeros((len(names), len(users), n_items))
    unseen = np.ones((len(users), n_items), dtype=bool)
    for row, state in enumerate(states):
        unseen[row, state.seen_index] = False
        for f, m in enumerate(mats):
            feats[f, row, unseen[row]] = np.nan_to_num(normalize(m[row, unseen[row]], cfg.normalization))
    relevant = scored.held_out
    if cfg.objective == "ndcg":
        w, report = _fit_ndcg(feats, unseen, relevant, cfg.min_gain)
    else:
        w, report = _fit_pairwise(feats, unseen, relevant, cfg, gen)
    fusion.weights = {n: round(float(x), 6) for n, x in zip(names, w, strict=True)}
    fusion.fit_report = {"users": len(users), "objective": cfg.objective, **report}
    artifact.save({"weights.json": {"weights": fusion.weights, "report": fusion.fit_report}})
    return fusion.weights


@dataclass
class ValidationScores:
    """Every scorer's scores for the validation users, from components prepared on the split's training part."""

    train: Catalog
    """The catalog with the split's training interactions only."""
    users: list[str]
    states: list[UserState]
    matrices: dict[str, np.ndarray]
    """Per scorer, users x catalog."""
    held_out: list[np.ndarray]
    """Per user, the held-out items (catalog indices)."""


def validation_scores(
    config: PipelineConfig,
    env: Env,
    validation: str,
    fraction: float,
    seed: int,
    max_users: int,
    gen: np.random.Generator,
) -> ValidationScores:
    """Split ``env``'s interactions again (each user's latest ``fraction`` or a random share with ``seed``),
    prepare the context, intent and scorers on the rest, and score at most ``max_users`` held-out users
    (sampled with ``gen``).

    Notices about state the preparation retrained land in ``env.notices``.
    """
    inter = env.interactions(f"fusion {config.fusion.component!r}")
    split = temporal_split(inter, fraction) if validation == "temporal" else random_split(inter, fraction, seed=seed)
    catalog = env.catalog.with_interactions(split.train)
    # Only what scores is prepared on the split: no candidates, re-rankers or reasons are needed.
    sub_env = Env(
        catalog,
        env.device,
        env.embedder_factory,
        progress=env.progress,
        precision=env.precision,
        on_progress=env.on_progress,
        cancel=env.cancel,
    )
    context = cast(ContextEncoder, _prepared("context", config.context, "context", sub_env))
    intent = cast(IntentModel, _prepared("intent", config.intent, "intent", sub_env))
    scorers = {
        name: cast(Scorer, _prepared("scorers", spec, f"scorers.{name}", sub_env))
        for name, spec in config.scorers.items()
    }
    held_out = split.test_items_by_user()
    users = sorted(held_out)
    if len(users) > max_users:
        users = sorted(gen.choice(users, size=max_users, replace=False).tolist())
    contexts = user_contexts(split.train, env.catalog, users)
    states, intents = encode_users(context, intent, contexts)
    matrices = score_matrices(scorers, states, intents)
    env.notices.extend(n for n in sub_env.notices if n not in env.notices)  # corrupt state the fit retrained
    return ValidationScores(catalog, users, states, matrices, [held_out[u] for u in users])


def _prepared(stage: str, spec: StageSpec, where: str, env: Env) -> Component:
    component = build_component(stage, spec, where=where)
    component.prepare(env)
    return component


def _read_weights(files: ArtifactFiles, scorers: list[str]) -> tuple[dict[str, float], dict[str, object]]:
    """Saved weights (one number per scorer of the pipeline) and their fit report."""
    saved = files.json("weights.json")
    weights, report = saved["weights"], saved["report"]
    if (
        not isinstance(weights, dict)
        or sorted(weights) != sorted(scorers)
        or not all(isinstance(w, int | float) for w in weights.values())
        or not isinstance(report, dict)
    ):
        raise CorruptArtifactError(f"weights.json does not hold one weight for each of {', '.join(scorers)}")
    return weights, report


def _fit_pairwise(
    feats: np.ndarray, unseen: np.ndarray, relevant: list[np.ndarray], cfg: LearnedConfig, gen: np.random.Generator
) -> tuple[np.ndarray, dict[str, float]]:
    """Non-negative logistic ranker on (positive - negative) feature differences."""
    n = feats.shape[0]
    diffs = []
    for row, rel in enumerate(relevant):
        is_pos = np.zeros(unseen.shape[1], dtype=bool)
        is_pos[rel] = True
        pos = np.flatnonzero(is_pos & unseen[row])
        neg = np.flatnonzero(~is_pos & unseen[row])
        if pos.size == 0 or neg.size == 0:
            continue
        f = feats[:, row, :].T
        if cfg.negative_pool and neg.size > cfg.negative_pool:
            blend = f[neg].mean(axis=1)
            neg = neg[np.argpartition(-blend, cfg.negative_pool - 1)[: cfg.negative_pool]]
        picks = gen.choice(neg, size=pos.size * cfg.negatives)
        diffs.append(f[np.repeat(pos, cfg.negatives)] - f[picks])
    w0 = np.full(n, 1.0 / n)
    if not diffs:
        return w0, {"pairs": 0}
    d = np.concatenate(diffs)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = d @ w
        # log(1 + e^-z), stably; its gradient is -sigmoid(-z) * d.
        value = np.logaddexp(0.0, -z).mean() + cfg.l2 * float(w @ w)
        grad = -(d * (1.0 / (1.0 + np.exp(z)))[:, None]).mean(axis=0) + 2 * cfg.l2 * w
        return float(value), grad

    result = minimize(loss, w0, jac=True, method="L-BFGS-B", bounds=[(0.0, None)] * n)
    w = np.clip(result.x, 0.0, None)
    w = w / w.sum() if w.sum() > 0 else w0
    return w, {"pairs": int(d.shape[0]), "pairwise_accuracy": round(float(((d @ w) > 0).mean()), 4)}


_GRID = (0.0, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)


def _fit_ndcg(
    feats: np.ndarray, unseen: np.ndarray, relevant: list[np.ndarray], min_gain: float
) -> tuple[np.ndarray, dict[str, float]]:
    """Coordinate ascent on validation NDCG@10 over a grid of non-negative weights.

    A blend replaces the best single scorer only when it beats it by ``min_gain`` (relative):
    validation NDCG is noisy, and a blend that wins by less tends to lose on the test split.
    """
    n, _, n_items = feats.shape

    def ndcg(w: np.ndarray) -> float:
        fused = np.tensordot(w, feats, axes=1)
        fused[~unseen] = -np.inf
        top = np.argpartition(-fused, 9, axis=1)[:, :10]
        vals = np.take_along_axis(fused, top, axis=1)
        top = np.take_along_axis(top, np.argsort(-vals, axis=1, kind="stable"), axis=1)
        return float(evaluate_rankings(top, relevant, n_items, ks=(10,)).mean()["ndcg@10"])

    singles = [ndcg(np.eye(n)[f]) for f in range(n)]
    w = np.eye(n)[int(np.argmax(singles))]  # start from the best single scorer
    best = max(singles)
    for _ in range(3):
        improved = False
        for f in range(n):
            for value in _GRID:
                trial = w.copy()
                trial[f] = value
                if trial.sum() == 0:
                    continue
                score = ndcg(trial)
                if score > best + 1e-6:
                    best, w, improved = score, trial, True
        if not improved:
            break
    if best < max(singles) * (1 + min_gain):
        w, best = np.eye(n)[int(np.argmax(singles))], max(singles)
    return w / w.sum(), {"validation_ndcg@10": round(best, 4), "best_single_validation_ndcg@10": round(max(singles), 4)}
