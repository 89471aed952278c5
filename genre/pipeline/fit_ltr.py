"""Fits the learning-to-rank fusion on a validation split carved from training data only.

The scorers are prepared again on the split's training part (:func:`genre.pipeline.fit.validation_scores`,
shared with the learned blend, so both reuse the same trained scorers); each validation user's
unseen items are pooled from the scorers' top lists, described by the features of
:mod:`genre.components.ltr_features` (read from the split's training part, as serving reads them
from the full training data) and labelled by the user's held-out items. A LightGBM LambdaRank model
learns to order each user's pool. The model is saved as LightGBM's own text inside JSON, never pickled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import minimize

from genre.components.env import Env
from genre.components.fusion_ltr import LtrConfig, LtrFusion
from genre.components.ltr_features import ItemStats, feature_names, features, pool_positions
from genre.config import PipelineConfig
from genre.core.artifacts import ArtifactFiles
from genre.core.errors import CorruptArtifactError
from genre.pipeline.fit import ValidationScores, validation_scores

if TYPE_CHECKING:
    import lightgbm

ARTIFACT_VERSION = 2
"""Version of the features, the fitting and the saved model; bump it when any changes (older models are a miss)."""


def fit_ltr_fusion(fusion: LtrFusion, config: PipelineConfig, env: Env) -> None:
    """Fit ``fusion``'s model for ``config``'s scorers on ``env``'s training data, or load it when saved.

    With fewer usable validation users than ``min_users`` no model is fitted: the weighted blend
    ranks, and a notice in every trace of the pipeline says so.
    """
    cfg = fusion.config
    env.interactions("fusion 'ltr'")
    key = {
        "scorers": {n: s.model_dump() for n, s in config.scorers.items()},
        "context": config.context.model_dump(),
        "intent": config.intent.model_dump(),
        "fusion": cfg.model_dump(),
    }
    artifact = env.artifact("ltr-fusion", key, ARTIFACT_VERSION)
    saved = artifact.load(_read_model)
    if saved is None:
        gen = np.random.default_rng(cfg.seed)
        scored = validation_scores(config, env, cfg.validation, cfg.validation_fraction, cfg.seed, cfg.max_users, gen)
        text, linear, report = _fit(scored, list(config.scorers), cfg, gen)
        saving = {"model": text, "scorers": list(config.scorers), "linear": linear, "report": report}
        artifact.save({"ltr.json": saving})
    else:
        text, linear, report = saved
    if text is None and linear:
        fusion.set_model(None, list(config.scorers), report, linear)
        notice = (
            f"Learning-to-rank fusion: on held-out validation users its trees did not beat the "
            f"{report['kept']} by min_gain = {cfg.min_gain:.0%}, so the {report['kept']} ranks alone."
        )
        if notice not in env.notices:
            env.notices.append(notice)
        return
    if text is None:
        fusion.set_model(None, list(config.scorers), report)
        notice = (
            f"Learning-to-rank fusion: only {report['users']} validation users have a held-out item among "
            f"their pooled candidates, fewer than min_users = {cfg.min_users}, so no model was fitted and "
            "the weighted blend ranks instead."
        )
        if notice not in env.notices:
            env.notices.append(notice)
        return
    import lightgbm

    fusion.set_model(lightgbm.Booster(model_str=text), list(config.scorers), report, linear)


def _read_model(files: ArtifactFiles) -> tuple[str | None, dict[str, float], dict[str, object]]:
    saved = files.json("ltr.json")
    text, linear, report = saved.get("model"), saved.get("linear"), saved.get("report")
    if (
        not (text is None or isinstance(text, str))
        or not isinstance(linear, dict)
        or not all(isinstance(w, int | float) for w in linear.values())
        or not isinstance(report, dict)
        or "users" not in report
    ):
        raise CorruptArtifactError(
            "ltr.json does not hold a LightGBM model text (or null), linear weights and its fit report"
        )
    return text, linear, report


def training_rows(
    scored: ValidationScores, scorers: list[str], cfg: LtrConfig, gen: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """(features, binary labels, pooled items per user) for every validation user with a held-out item
    and a non-relevant one in the pool; users without are left out."""
    stats = ItemStats.from_catalog(scored.train)
    n_items = len(scored.train)
    xs, ys, groups = [], [], []
    for row, (state, relevant) in enumerate(zip(scored.states, scored.held_out, strict=True)):
        unseen = np.ones(n_items, dtype=bool)
        unseen[state.seen_index] = False
        cands = np.flatnonzero(unseen)
        lists = {name: scored.matrices[name][row, cands] for name in scorers}
        pos = pool_positions(lists, cfg.pool_depth)
        label = np.isin(cands[pos], relevant)
        if not label.any() or label.all():
            continue
        if cfg.negatives and (~label).sum() > cfg.negatives:
            keep = np.concatenate(
                [np.flatnonzero(label), gen.choice(np.flatnonzero(~label), size=cfg.negatives, replace=False)]
            )
            pos, label = pos[np.sort(keep)], label[np.sort(keep)]
        xs.append(features(stats, scorers, cands[pos], {k: v[pos] for k, v in lists.items()}, lists, state))
        ys.append(label.astype(np.int32))
        groups.append(int(pos.size))
    if not xs:
        return np.zeros((0, len(feature_names(scorers)))), np.zeros(0, dtype=np.int32), []
    return np.vstack(xs), np.concatenate(ys), groups


def _fit(
    scored: ValidationScores, scorers: list[str], cfg: LtrConfig, gen: np.random.Generator
) -> tuple[str | None, dict[str, float], dict[str, object]]:
    """The fitted model's text (None when there are too few users), its linear base and the fit report."""
    x, y, groups = training_rows(scored, scorers, cfg, gen)
    report: dict[str, object] = {
        "users": len(groups),
        "validation": cfg.validation,
        "rows": int(y.size),
        "positives": int(y.sum()),
    }
    if len(groups) < cfg.min_users:
        return None, {}, report
    import lightgbm

    sizes = np.asarray(groups)
    query = np.repeat(np.arange(sizes.size), sizes)
    weights = _linear_weights(x[:, 0 : 2 * len(scorers) : 2], y, query, gen) if cfg.linear_base else None
    linear = {n: round(float(w), 6) for n, w in zip(scorers, weights, strict=True)} if weights is not None else {}
    base = np.nan_to_num(x[:, 0 : 2 * len(scorers) : 2]) @ weights if weights is not None else np.zeros(y.size)
    ranker = lightgbm.LGBMRanker(
        objective="lambdarank",
        n_estimators=cfg.n_estimators,
        num_leaves=cfg.num_leaves,
        learning_rate=cfg.learning_rate,
        min_child_samples=cfg.min_child_samples,
        random_state=cfg.seed,
        deterministic=True,
        force_row_wise=True,
        n_jobs=1,
        verbose=-1,
    )
    names = _safe_names(scorers)
    # A seeded fifth of the users decides when to stop adding trees; the rest fit them.
    held = gen.random(sizes.size) < 0.2
    if cfg.early_stopping_rounds and 2 <= held.sum() < sizes.size - 1:
        fit, stop = ~held[query], held[query]
        ranker.fit(
            x[fit], y[fit], group=sizes[~held], init_score=base[fit], feature_name=names,
            eval_X=(x[stop],), eval_y=(y[stop],), eval_group=[sizes[held]], eval_init_score=[base[stop]],
            eval_at=[10], callbacks=[lightgbm.early_stopping(cfg.early_stopping_rounds, verbose=False)],
        )  # fmt: skip
        trees = int(ranker.best_iteration_ or cfg.n_estimators)
        report["trees"] = trees
        stopping = (x[stop], y[stop], sizes[held], base[stop])
        kept = _keep(ranker.booster_, trees, *stopping, scorers, linear, cfg.min_gain)
        report.update(kept[2])
        if kept[0] is False:
            return None, kept[1], report
    else:
        ranker.fit(x, y, group=sizes, init_score=base, feature_name=names)
        trees = cfg.n_estimators
        report["trees"] = trees
    booster = ranker.booster_
    gain = booster.feature_importance(importance_type="gain", iteration=trees)
    report["importance"] = {
        name: round(float(g), 2) for name, g in zip(feature_names(scorers), gain, strict=True) if g > 0
    }
    return booster.model_to_string(num_iteration=trees), linear, report


def _keep(
    booster: lightgbm.Booster,
    trees_kept: int,
    x: np.ndarray,
    y: np.ndarray,
    sizes: np.ndarray,
    base: np.ndarray,
    scorers: list[str],
    linear: dict[str, float],
    min_gain: float,
) -> tuple[bool, dict[str, float], dict[str, object]]:
    """(keep the trees?, the linear weights to rank with, what was measured) on the early-stopping users.

    The trees stay only when they beat both their linear start and the best single scorer by ``min_gain``
    (relative NDCG@10 over the pooled items): validation users are few and noisy, and trees that win by
    less tend to lose on the test split. Otherwise the better of the other two ranks alone.
    """
    query = np.repeat(np.arange(sizes.size), sizes)
    trees = _pool_ndcg(base + booster.predict(x, num_iteration=trees_kept), y, query)
    singles = {name: _pool_ndcg(np.nan_to_num(x[:, 2 * j], nan=-1e9), y, query) for j, name in enumerate(scorers)}
    best = max(singles, key=lambda n: singles[n])
    plain = _pool_ndcg(base, y, query) if linear else -1.0
    measured: dict[str, object] = {
        "stopping_ndcg@10": {"trees": round(trees, 4), "linear": round(plain, 4), best: round(singles[best], 4)}
    }
    if trees >= max(plain, singles[best]) * (1 + min_gain):
        return True, linear, {**measured, "kept": "trees"}
    if plain >= singles[best]:
        return False, linear, {**measured, "kept": "linear blend", "trees": 0}
    return False, {name: float(name == best) for name in scorers}, {**measured, "kept": best, "trees": 0}


def _pool_ndcg(scores: np.ndarray, y: np.ndarray, query: np.ndarray) -> float:
    """Mean NDCG@10 of ``scores`` over queries, with the ideal list made of each query's pooled relevant items."""
    out = []
    for q in np.unique(query):
        rows = np.flatnonzero(query == q)
        rel = y[rows][np.argsort(-scores[rows], kind="stable")[:10]]
        discount = 1.0 / np.log2(np.arange(2, 12))
        ideal = discount[: min(int(y[rows].sum()), 10)].sum()
        out.append(float(rel @ discount[: rel.size]) / ideal if ideal > 0 else 0.0)
    return float(np.mean(out)) if out else 0.0


_PAIRS_PER_POSITIVE = 20
"""Non-relevant pooled items sampled per relevant one to fit the linear base."""


def _linear_weights(z: np.ndarray, y: np.ndarray, query: np.ndarray, gen: np.random.Generator) -> np.ndarray:
    """Non-negative weights of the scorers' z-scores by a pairwise logistic loss on (relevant - non-relevant)
    differences within each user's pool; on LambdaRank's scale, so the trees correct it rather than swamp it."""
    z = np.nan_to_num(z)
    diffs = []
    for q in np.unique(query):
        rows = np.flatnonzero(query == q)
        pos, neg = rows[y[rows] > 0], rows[y[rows] == 0]
        picks = gen.choice(neg, size=pos.size * _PAIRS_PER_POSITIVE)
        diffs.append(z[np.repeat(pos, _PAIRS_PER_POSITIVE)] - z[picks])
    d = np.concatenate(diffs)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        m = d @ w
        value = np.logaddexp(0.0, -m).mean() + 1e-3 * float(w @ w)
        grad = -(d * (1.0 / (1.0 + np.exp(m)))[:, None]).mean(axis=0) + 2e-3 * w
        return float(value), grad

    result = minimize(loss, np.full(z.shape[1], 0.1), jac=True, method="L-BFGS-B", bounds=[(0.0, None)] * z.shape[1])
    return np.clip(result.x, 0.0, None)


def _safe_names(scorers: list[str]) -> list[str]:
    """LightGBM's feature names allow no JSON special characters: columns are named by position and kind."""
    return [f"f{j}_{''.join(c if c.isalnum() else '_' for c in n)}" for j, n in enumerate(feature_names(scorers))]
