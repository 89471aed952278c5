"""Fits a learned fusion's weights on a validation split carved from training data only."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import minimize

from genre.config import StageSpec
from genre.fusion import LearnedFusion, normalize

if TYPE_CHECKING:
    from genre.pipeline import Pipeline


def fit_learned_fusion(pipeline: Pipeline) -> dict[str, float]:
    """Set ``pipeline.fusion.weights``: a non-negative pairwise logistic ranker over normalized scores.

    The pipeline's own interactions are split again by time (last ``validation_fraction`` of
    each user's events); the scorers are refitted on the rest, score the held-out positives
    against sampled unseen negatives, and the weights that best order those pairs are kept.
    """
    from genre.evaluation.harness import encode_users, user_contexts
    from genre.evaluation.splits import temporal_split
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
    folder = env.artifact_dir("learned-fusion", key)
    path = folder / "weights.json"
    if path.exists():
        saved = json.loads(path.read_text())
        fusion.weights, fusion.fit_report = saved["weights"], saved["report"]
        return fusion.weights

    split = temporal_split(inter, cfg.validation_fraction)
    sub_config = pipeline.config.model_copy(update={"fusion": StageSpec(component="weighted"), "rerank": []})
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

    diffs = []
    n_items = len(pipeline.catalog)
    for row, (user, state) in enumerate(zip(users, states, strict=True)):
        unseen = np.ones(n_items, dtype=bool)
        unseen[state.seen_index] = False
        cands = np.flatnonzero(unseen)
        feats = np.stack([np.nan_to_num(normalize(m[row, cands], cfg.normalization)) for m in mats], axis=1)
        is_pos = np.isin(cands, held_out[user])
        pos, neg = np.flatnonzero(is_pos), np.flatnonzero(~is_pos)
        if cfg.negative_pool and neg.size > cfg.negative_pool:
            blend = feats[neg].mean(axis=1)
            neg = neg[np.argpartition(-blend, cfg.negative_pool - 1)[: cfg.negative_pool]]
        if pos.size == 0 or neg.size == 0:
            continue
        picks = gen.choice(neg, size=pos.size * cfg.negatives)
        diffs.append(feats[np.repeat(pos, cfg.negatives)] - feats[picks])
    if not diffs:
        fusion.weights = {n: 1.0 / len(names) for n in names}
        return fusion.weights
    d = np.concatenate(diffs)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = d @ w
        # log(1 + e^-z), stably; its gradient is -sigmoid(-z) * d.
        value = np.logaddexp(0.0, -z).mean() + cfg.l2 * float(w @ w)
        grad = -(d * (1.0 / (1.0 + np.exp(z)))[:, None]).mean(axis=0) + 2 * cfg.l2 * w
        return float(value), grad

    w0 = np.full(len(names), 1.0 / len(names))
    result = minimize(loss, w0, jac=True, method="L-BFGS-B", bounds=[(0.0, None)] * len(names))
    w = np.clip(result.x, 0.0, None)
    w = w / w.sum() if w.sum() > 0 else w0
    fusion.weights = {n: round(float(x), 6) for n, x in zip(names, w, strict=True)}
    pair_acc = float(((d @ w) > 0).mean())
    fusion.fit_report = {
        "pairs": int(d.shape[0]),
        "users": len(users),
        "pairwise_accuracy": round(pair_acc, 4),
        "loss": round(float(result.fun), 5),
    }
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"weights": fusion.weights, "report": fusion.fit_report}, indent=2))
    return fusion.weights
