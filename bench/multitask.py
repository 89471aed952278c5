"""Multi-task SASRec on MovieLens-100K: each task against its single-task counterpart.

Usage: PYTHONPATH=. .venv/bin/python bench/multitask.py [--protocol T [R]] [--epochs N] [--warm]

Per protocol, on one split (the harness's), it prints:
- next item: NDCG@10 of the multi-task scorer against plain SASRec with the same encoder options;
- genres of the next item: top-1, top-3 and macro accuracy of the multi-task genre head
  (``multitask-head``) against ``trained-head`` (plain, class-balanced and focal loss), a genre-only
  model (same encoder, label loss only) and the majority baseline (always the most common / three
  most common genres);
- rating of the test items: RMSE of the multi-task rating head against a rating-only model (same
  encoder, rating loss only), each user's mean training rating and the global mean.
By default trained state goes to a fresh temporary cache, so every model is trained in this run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "movies-multitask.toml"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--protocol", nargs="+", default=["T"], choices=["T", "R"])
    ap.add_argument("--epochs", type=int, default=None, help="override the config's epochs (every model alike)")
    ap.add_argument("--warm", action="store_true", help="reuse the normal cache (skips training already done)")
    args = ap.parse_args()
    if not args.warm:
        os.environ["GENRE_CACHE_DIR"] = tempfile.mkdtemp(prefix="genre-bench-multitask-")
    for protocol in args.protocol:
        started = time.perf_counter()
        lines = run(protocol, args.epochs)
        print("\n".join(lines))
        print(f"(protocol {protocol}: {time.perf_counter() - started:.0f} s wall, training included)\n")


def run(protocol: Literal["T", "R"], epochs: int | None) -> list[str]:
    from genre.components.context import RecencyContextEncoder
    from genre.components.env import Env
    from genre.components.intent import TrainedIntentHead
    from genre.components.intent.multitask import MultiTaskIntentHead
    from genre.components.scorers.multitask import MultiTaskSasRecScorer
    from genre.config import load_config, parse_config
    from genre.core.types import UserState
    from genre.data import load_catalog
    from genre.evaluation.harness import evaluate, make_split
    from genre.evaluation.intent_accuracy import intent_accuracy
    from genre.pipeline.rank import user_contexts

    base = load_config(CONFIG)
    model: dict[str, Any] = dict(base.scorers["sasrec-multitask"].config)
    if epochs is not None:
        model["epochs"] = epochs
    intent = {**dict(base.intent.config), **model}
    encoder = {k: v for k, v in model.items() if k in ("max_len", "hidden", "layers", "heads", "epochs")}
    data = {"loader": "movielens-100k"}
    multitask = parse_config(
        {
            "name": "multitask",
            "data": data,
            "intent": {"component": "multitask-head", "config": intent},
            "scorers": {"sasrec-multitask": {"component": "sasrec-multitask", "config": model}},
            "fusion": {"component": "weighted"},
        }
    )
    single = parse_config(
        {
            "name": "single-task",
            "data": data,
            "intent": {"component": "trained-head"},
            "scorers": {"sasrec": {"component": "sasrec", "config": encoder}},
            "fusion": {"component": "weighted"},
        }
    )
    report = evaluate([multitask, single], protocol=protocol)
    ndcg = {r.name: r.metrics["ndcg@10"] for r in report.rows if r.kind == "scorer"}
    acc = {a["config"]: a for a in report.extras["intent_accuracy"]}

    # The other counterparts, on the same split the harness used (it is deterministic).
    catalog = load_catalog(multitask.data)
    split = make_split(catalog, protocol, None)
    env = Env(catalog.with_interactions(split.train), "cpu")
    relevant = split.test_items_by_user()
    users = sorted(relevant)
    contexts = user_contexts(split.train, catalog, users)
    seen = [np.array([catalog.index_of(e.item_id) for e in c.history], dtype=np.int64) for c in contexts]
    states = [UserState(c, s, np.zeros(s.size), None, seen_index=s) for c, s in zip(contexts, seen, strict=True)]
    first = [int(relevant[u][0]) for u in users]
    genre_only = MultiTaskIntentHead({**intent, "item_weight": 0.0, "rating_weight": 0.0})
    genre_only.prepare(env)
    acc["genre-only"] = vars(intent_accuracy("genre-only", genre_only, catalog, split, states, first))
    # trained-head also reads the context stage's user vector: encode the users as the harness does.
    context = RecencyContextEncoder()  # the single-task config's context stage: the default
    context.prepare(env)
    encoded = [context(c) for c in contexts]
    for loss in ("class-balanced", "focal"):
        head = TrainedIntentHead({"loss": loss})
        head.prepare(env)
        acc[f"trained-head {loss}"] = vars(intent_accuracy(loss, head, catalog, split, encoded, first))

    joint = MultiTaskSasRecScorer(model)
    joint.prepare(env)  # the harness trained it on this split: loaded, not retrained
    rating_only = MultiTaskSasRecScorer({**model, "item_weight": 0.0, "genre_weight": 0.0})
    rating_only.prepare(env)
    rmse = rating_rmse(split, users, seen, joint, rating_only)

    m, s = acc["multitask"], acc["single-task"]
    g = acc["genre-only"]
    return [
        f"### Multi-task SASRec, protocol {protocol}: {report.users} users, {report.train_interactions:,} train / "
        f"{report.test_interactions:,} test interactions; model {model}",
        "",
        "| task | metric | multi-task | single-task counterpart | other baselines |",
        "|---|---|---|---|---|",
        f"| next item | NDCG@10 | {ndcg['sasrec-multitask']:.4f} | {ndcg['sasrec']:.4f} (plain SASRec) | |",
        f"| next item's genres | top-1 | {m['top1']:.4f} | {g['top1']:.4f} (genre-only) / "
        f"{s['top1']:.4f} (trained-head) | {m['majority_top1']:.4f} (majority) |",
        f"| next item's genres | top-3 | {m['top3']:.4f} | {g['top3']:.4f} (genre-only) / "
        f"{s['top3']:.4f} (trained-head) | {m['majority_top3']:.4f} (majority) |",
        f"| next item's genres | macro | {m['macro']:.4f} | {g['macro']:.4f} (genre-only) / "
        f"{s['macro']:.4f} (trained-head) | {m['majority_macro']:.4f} (majority) |",
        *(
            f"| next item's genres, trained-head {loss} loss | top-1 / top-3 / macro | | "
            f"{a['top1']:.4f} / {a['top3']:.4f} / {a['macro']:.4f} | |"
            for loss, a in ((k.split(" ", 1)[1], v) for k, v in acc.items() if k.startswith("trained-head "))
        ),
        f"| rating | RMSE | {rmse['multi-task']:.4f} | {rmse['rating-only']:.4f} (rating-only) | "
        f"{rmse['user-mean']:.4f} (user mean), {rmse['global-mean']:.4f} (global mean) |",
        "",
        f"Genre accuracy: {m['users']} users, target the genres of each user's first test film; majority "
        f"predicts {', '.join(m['majority_labels'])}. Rating RMSE over {int(rmse['n']):,} rated test events.",
        f"Multi-task training: {joint.meta['train_seconds']:.0f} s; task losses (last epoch) "
        + ", ".join(f"{t} {v[-1]:.3f}" for t, v in joint.meta["task_loss"].items()),
    ]


def rating_rmse(split: Any, users: list[str], seen: list[np.ndarray], *models: Any) -> dict[str, float]:
    """RMSE of each model's rating head on every rated test event, and of the user-mean and global-mean baselines."""
    test, train = split.test, split.train
    items, truth, user_mean = [], [], []
    global_mean = float(np.nanmean(train.ratings))
    for u in users:
        mask = (test.user_ids == u) & np.isfinite(test.ratings)
        items.append(test.item_index[mask].astype(np.int64))
        truth.append(test.ratings[mask])
        own = train.ratings[(train.user_ids == u) & np.isfinite(train.ratings)]
        user_mean.append(float(own.mean()) if own.size else global_mean)
    y = np.concatenate(truth)
    out = {"n": float(y.size)}
    for name, model in zip(("multi-task", "rating-only"), models, strict=True):
        pred = np.concatenate(model.predict_ratings(seen, items))
        out[name] = float(np.sqrt(np.mean((pred - y) ** 2)))
    um = np.concatenate([np.full(t.size, m) for t, m in zip(truth, user_mean, strict=True)])
    out["user-mean"] = float(np.sqrt(np.mean((um - y) ** 2)))
    out["global-mean"] = float(np.sqrt(np.mean((global_mean - y) ** 2)))
    return out


if __name__ == "__main__":
    main()
