"""Ray sharded batch jobs against the single-process run: wall time, and whether the results are equal.

Usage: PYTHONPATH=. .venv/bin/python bench/ray_batch.py [--config configs/movies.toml] [--users 200]
       [--explain-users 40] [--shards 2]

Uses the normal cache: a warm-up evaluation trains (or loads) every component first, so both timed runs
load the same trained state and the figures compare ranking work, not training. Ray runs on a local
cluster with one CPU per core; its start-up is timed apart. On a 2-core machine the shards cannot run
faster than one process by much: each worker also loads the pipeline from the cache (the embedder, the
trained scorers), which a single process does once.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="configs/movies.toml")
    ap.add_argument("--users", type=int, help="evaluate a seeded sample of this many test users (default: all)")
    ap.add_argument("--explain-users", type=int, default=40, help="batch-explain this many dataset users")
    ap.add_argument("--shards", type=int, default=2)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import ray

    from genre.config import load_config
    from genre.data import load_catalog
    from genre.data.users import dataset_user_ids
    from genre.evaluation.harness import evaluate
    from genre.evaluation.sharded import evaluate_sharded
    from genre.pipeline.batch import batch_explain
    from genre.pipeline.shards import RayOptions, init_kwargs

    cfg = load_config(args.config)
    print(f"{cfg.name}: evaluate protocol T on {args.users or 'all'} users, batch-explain {args.explain_users} users")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start\n")
    t = time.perf_counter()
    evaluate([cfg], "T", max_users=args.users)
    print(f"warm-up evaluation (trains what the cache lacks): {time.perf_counter() - t:.1f} s")

    tmp = tempfile.mkdtemp(prefix="genre-ray-")
    t = time.perf_counter()
    ray.init(**init_kwargs(RayOptions(temp_dir=Path(tmp))))
    print(f"local Ray start-up: {time.perf_counter() - t:.1f} s\n")
    options = RayOptions(shards=args.shards)

    t = time.perf_counter()
    single = evaluate([cfg], "T", max_users=args.users)
    single_s = time.perf_counter() - t
    # The first job on fresh workers pays their imports (torch, transformers) and model loads; the second
    # shows the steady state of a long-lived cluster.
    sharded_s = []
    for _ in range(2):
        t = time.perf_counter()
        sharded = evaluate_sharded([cfg], "T", max_users=args.users, ray=options)
        sharded_s.append(time.perf_counter() - t)
    diffs = [
        abs(a.metrics[k] - b.metrics[k])
        for a, b in zip(single.rows, sharded.rows, strict=True)
        for k in a.metrics
        if a.metrics[k] == a.metrics[k]  # NaN (a popularity group without test items) equals nothing
    ]
    equal = all(a.metrics.keys() == b.metrics.keys() for a, b in zip(single.rows, sharded.rows, strict=True))
    print(f"evaluate, {single.users} users, {len(single.rows)} rows")
    print(f"  single process   {single_s:7.1f} s")
    print(f"  Ray, {args.shards} shards    {sharded_s[0]:7.1f} s (fresh workers), {sharded_s[1]:.1f} s (warm workers)")
    print(f"  metrics equal: {equal and max(diffs) == 0.0} (largest difference {max(diffs):.3g})")
    print(
        f"  ndcg@10 of {single.rows[-1].name}: {single.rows[-1].metrics['ndcg@10']:.4f} / {sharded.rows[-1].metrics['ndcg@10']:.4f}\n"
    )

    users = dataset_user_ids(load_catalog(cfg.data))[: args.explain_users]
    out = Path(tmp)
    t = time.perf_counter()
    batch_explain(cfg, users, out / "single.jsonl")
    single_s = time.perf_counter() - t
    t = time.perf_counter()
    batch_explain(cfg, users, out / "ray.jsonl", ray=options)
    sharded_s = time.perf_counter() - t
    same = (out / "single.jsonl").read_bytes() == (out / "ray.jsonl").read_bytes()
    print(f"batch-explain, {len(users)} users, k={cfg.k}, {cfg.explain.component} reasons")
    print(f"  single process   {single_s:7.1f} s")
    print(f"  Ray, {args.shards} shards    {sharded_s:7.1f} s")
    print(f"  JSONL identical: {same}")
    ray.shutdown()
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
