"""Fits the learning-to-rank fusion on a validation split carved from training data only.

The scorers are prepared again on the split's training part (:func:`genre.pipeline.fit.validation_scores`,
shared with the learned blend, so both reuse the same trained scorers); each validation user's
unseen items are pooled from the scorers' top lists, described by the features of
:mod:`genre.components.ltr_features` (read from the split's training part, as serving reads them
from the full training data) and labelled by the user's held-out items. A LightGBM LambdaRank model
learns to order each user's pool. The model is saved as LightGBM's own text inside JSON, never pickled.
"""

from __future__ import annotations

import numpy as np

from genre.components.env import Env
from genre.components.fusion_ltr import LtrConfig, LtrFusion
from genre.components.ltr_features import ItemStats, feature_names, features, pool_positions
from genre.config import PipelineConfig
from genre.core.artifacts import ArtifactFiles
from genre.core.errors import CorruptArtifactError
from genre.pipeline.fit import ValidationScores, validation_scores

ARTIFACT_VERSION = 1
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
        text, report = _fit(scored, list(config.scorers), cfg, gen)
        artifact.save({"ltr.json": {"model": text, "scorers": list(config.scorers), "report": report}})
    else:
        text, report = saved
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

    fusion.set_model(lightgbm.Booster(model_str=text), list(config.scorers), report)


def _read_model(files: ArtifactFiles) -> tuple[str | None, dict[str, object]]:
    saved = files.json("ltr.json")
    text, report = saved.get("model"), saved.get("report")
    if not (text is None or isinstance(text, str)) or not isinstance(report, dict) or "users" not in report:
        raise CorruptArtifactError("ltr.json does not hold a LightGBM model text (or null) and its fit report")
    return text, report


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
) -> tuple[str | None, dict[str, object]]:
    """The fitted model's text (None when there are too few users) and the fit report."""
    x, y, groups = training_rows(scored, scorers, cfg, gen)
    report: dict[str, object] = {
        "users": len(groups),
        "validation": cfg.validation,
        "rows": int(y.size),
        "positives": int(y.sum()),
    }
    if len(groups) < cfg.min_users:
        return None, report
    import lightgbm

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
    ranker.fit(x, y, group=groups, feature_name=_safe_names(scorers))
    booster = ranker.booster_
    gain = booster.feature_importance(importance_type="gain")
    report["importance"] = {
        name: round(float(g), 2) for name, g in zip(feature_names(scorers), gain, strict=True) if g > 0
    }
    return booster.model_to_string(), report


def _safe_names(scorers: list[str]) -> list[str]:
    """LightGBM's feature names allow no JSON special characters: columns are named by position and kind."""
    return [f"f{j}_{''.join(c if c.isalnum() else '_' for c in n)}" for j, n in enumerate(feature_names(scorers))]
