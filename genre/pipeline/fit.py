"""Fits a learned fusion's weights on a validation split carved from training data only."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import minimize

from genre.components.fusion import LearnedConfig, LearnedFusion, normalize
from genre.config import FeedbackConfig, StageSpec
from genre.core.artifacts import ArtifactFiles
from genre.core.errors import CorruptArtifactError

if TYPE_CHECKING:
    from genre.pipeline import Pipeline

ARTIFACT_VERSION = 1
"""Version of the fitting below and of the saved weights; bump it when either changes (older weights are a miss)."""


def fit_learned_fusion(pipeline: Pipeline) -> dict[str, float]:
    """Set ``pipeline.fusion.weights``: a non-negative pairwise logistic ranker over normalized scores.

    The pipeline's own interactions are split again by time (last ``validation_fraction`` of
    each user's events); the scorers are refitted on the rest, score the held-out positives
    against sampled unseen negatives, and the weights that best order those pairs are kept.
    """
    from genre.data.splits import random_split, temporal_split
    from genre.evaluation.harness import encode_users, user_contexts
    from genre.pipeline import Pipeline

    fusion = pipeline.fusion
    assert isinstance(fusion, LearnedFusion)
    cfg = fusion.config
    env = pipeline.env
    inter = env.interactions("fusion 'learned'")
    key = {
        "scorers": {n: s.model_dump() for n, s in pipeline.config.scorers.items()},
        "context": pipeline.config.context.model_dump(),
        "intent": pipeline.config.intent.model_dump(),
        "fusion": cfg.model_dump(),
    }
    artifact = env.artifact("learned-fusion", key, ARTIFACT_VERSION)
    saved = artifact.load(lambda files: _read_weights(files, list(pipeline.config.scorers)))
    if saved is not None:
        fusion.weights, fusion.fit_report = saved
        return fusion.weights

    if cfg.validation == "temporal":
        split = temporal_split(inter, cfg.validation_fraction)
    else:
        split = random_split(inter, cfg.validation_fraction, seed=cfg.seed)
    # The sub-pipeline only scores: no re-rankers, and template reasons (never a generator to load).
    sub_config = pipeline.config.model_copy(
        update={
            "fusion": StageSpec(component="weighted"),
            "rerank": [],
            "explain": StageSpec(component="template"),
            "feedback": FeedbackConfig(),
        }
    )
    sub = Pipeline(
        sub_config,
        embedder_factory=env.embedder_factory,
        catalog=pipeline.catalog.with_interactions(split.train),
        progress=env.progress,
    )
    held_out = split.test_items_by_user()
    gen = np.random.default_rng(cfg.seed)
    users = sorted(held_out)
    if len(users) > cfg.max_users:
        users = sorted(gen.choice(users, size=cfg.max_users, replace=False).tolist())
    contexts = user_contexts(split.train, pipeline.catalog, users)
    states, intents = encode_users(sub, contexts)
    names = list(sub.scorers)
    mats = [sub.scorers[n].score_users(states, intents) for n in names]

    n_items = len(pipeline.catalog)
    # Per user, each scorer normalized over that user's unseen items (as at serving time).
    feats = np.zeros((len(names), len(users), n_items))
    unseen = np.ones((len(users), n_items), dtype=bool)
    for row, state in enumerate(states):
        unseen[row, state.seen_index] = False
        for f, m in enumerate(mats):
            feats[f, row, unseen[row]] = np.nan_to_num(normalize(m[row, unseen[row]], cfg.normalization))
    relevant = [held_out[u] for u in users]
    if cfg.objective == "ndcg":
        w, report = _fit_ndcg(feats, unseen, relevant, cfg.min_gain)
    else:
        w, report = _fit_pairwise(feats, unseen, relevant, cfg, gen)
    fusion.weights = {n: round(float(x), 6) for n, x in zip(names, w, strict=True)}
    fusion.fit_report = {"users": len(users), "objective": cfg.objective, **report}
    env.notices.extend(n for n in sub.env.notices if n not in env.notices)  # corrupt state the sub-pipeline retrained
    artifact.save({"weights.json": {"weights": fusion.weights, "report": fusion.fit_report}})
    return fusion.weights


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
    from genre.metrics import evaluate_rankings

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
