"""Learning-to-rank fusion on MovieLens-100K: configs/movies-ltr.toml beside configs/movies.toml, protocols R and T.

Usage: PYTHONPATH=. .venv/bin/python bench/ltr.py [--protocol R T] [--warm] [--config extra.toml ...]

Prints the harness table per protocol, the LTR config's NDCG@10 against the best single scorer of
the same run and against the issue's targets (R: >= 0.50 and >= 2% above the best single scorer;
T: >= 3% above 0.2843), and the model's fit report (validation users, rows, feature gains).
By default trained state goes to a fresh temporary cache, so the time includes all training.
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
CONFIGS = ["configs/movies.toml", "configs/movies-ltr.toml"]
LTR = "movies-ltr"
T_BEFORE = 0.2843
"""Protocol T's best NDCG@10 before the LTR fusion (bench/RESULTS.md, eval_ml100k)."""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--protocol", nargs="+", default=["R", "T"], choices=["T", "R"])
    ap.add_argument("--warm", action="store_true", help="reuse the normal cache (skips training already done)")
    ap.add_argument("--config", nargs="*", default=[], help="more configs to evaluate in the same run")
    args = ap.parse_args()
    if not args.warm:
        os.environ["GENRE_CACHE_DIR"] = tempfile.mkdtemp(prefix="genre-bench-ltr-")

    from genre.config import load_config
    from genre.evaluation.harness import evaluate

    configs = [load_config(ROOT / c) for c in CONFIGS + args.config]
    total = 0.0
    for protocol in args.protocol:
        started = time.perf_counter()
        report = evaluate(configs, protocol=protocol)
        seconds = time.perf_counter() - started
        total += seconds
        scorers = [r for r in report.rows if r.kind == "scorer"]
        best_single = max(scorers, key=lambda r: r.metrics["ndcg@10"])
        ltr = next(r for r in report.rows if r.name == LTR)
        ndcg, single = ltr.metrics["ndcg@10"], best_single.metrics["ndcg@10"]
        print(f"### Protocol {protocol}: {report.users} users, {seconds:.0f} s wall (training included)\n")
        print(report.to_markdown())
        print(
            f"\n- {LTR} NDCG@10 {ndcg:.4f}; best single scorer {best_single.name} {single:.4f} "
            f"({ndcg / single - 1:+.1%}); fit {ltr.seconds:.1f} s"
        )
        if protocol == "R":
            ok = ndcg >= 0.50 and ndcg >= 1.02 * single
            print(f"- target R (>= 0.50 and >= +2% over the best single scorer): {'met' if ok else 'MISSED'}")
        else:
            ok = ndcg >= 1.03 * T_BEFORE
            print(f"- target T (>= {1.03 * T_BEFORE:.4f}, +3% over {T_BEFORE}): {'met' if ok else 'MISSED'}\n")
    print(f"\ntotal {total:.0f} s for {len(configs)} configs x {len(args.protocol)} protocols")


if __name__ == "__main__":
    main()
