"""Products and news on their SIMULATED behaviour logs: every scorer and the learned fusion, protocols T and R.

Usage: PYTHONPATH=. .venv/bin/python bench/eval_logs.py [--protocol T R] [--warm]

The logs come from the seeded user model in genre/data/simulate.py, not from people. These figures show
that every component trains, ranks and blends from a log on these catalogs, and how long that takes;
they are not evidence of recommendation quality for real users.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ["configs/products-logs.toml", "configs/news-logs.toml"]
METRICS = ("ndcg@10", "recall@10", "mrr", "coverage@10")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--protocol", nargs="+", default=["T", "R"], choices=["T", "R"])
    ap.add_argument("--warm", action="store_true", help="reuse the normal cache (skips training already done)")
    args = ap.parse_args()
    if not args.warm:
        # Item embeddings are recomputed too: a cold cache measures what a new machine pays.
        os.environ["GENRE_CACHE_DIR"] = tempfile.mkdtemp(prefix="genre-bench-")

    from genre.config import load_config
    from genre.data import load_catalog, load_notices
    from genre.evaluation.harness import evaluate

    print("SIMULATED LOGS (genre/data/simulate.py): pipeline checks, not real-world evidence.\n")
    for path in CONFIGS:
        cfg = load_config(ROOT / path)
        inter = load_catalog(cfg.data).interactions
        assert inter is not None
        notices = load_notices(cfg.data)
        print(
            f"## {cfg.name}: {len(inter):,} interactions, {inter.users().size} users"
            + (f"; {notices}" if notices else "")
        )
        for protocol in args.protocol:
            started = time.perf_counter()
            report = evaluate([cfg], protocol=protocol)
            seconds = time.perf_counter() - started
            print(
                f"\nprotocol {protocol}: {report.users} users, {report.train_interactions:,} train / "
                f"{report.test_interactions:,} test, {seconds:.0f} s (training included)"
            )
            print("| row | kind | " + " | ".join(METRICS) + " |")
            print("|---|---|" + "---|" * len(METRICS))
            for row in report.rows:
                cells = " | ".join(f"{row.metrics[m]:.4f}" for m in METRICS)
                print(f"| {row.name} | {row.kind} | {cells} |")
            fused = next(r for r in report.rows if r.kind == "fusion")
            if fused.detail.get("weights"):
                print(f"learned weights: {fused.detail['weights']}")
        print()


if __name__ == "__main__":
    main()
