"""Offline evaluation on MovieLens-100K: every scorer and every fused config, protocols T and R.

Usage: .venv/bin/python bench/eval_ml100k.py [--protocol T R] [--warm] [--write]
By default trained state goes to a fresh temporary cache, so the reported time includes all
training (what `python -m genre evaluate` costs on a new machine). An untuned EASE (λ = 250,
no recency weighting) runs in the same split as the baseline the targets refer to.
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
CONFIGS = ["configs/movies.toml", "configs/movies-weighted.toml"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--protocol", nargs="+", default=["T", "R"], choices=["T", "R"])
    ap.add_argument("--warm", action="store_true", help="reuse the normal cache (skips training already done)")
    ap.add_argument("--write", action="store_true", help="record the tables in bench/RESULTS.md")
    args = ap.parse_args()
    if not args.warm:
        # Embeddings are copied from nowhere: a cold cache measures the full cost, training included.
        os.environ["GENRE_CACHE_DIR"] = tempfile.mkdtemp(prefix="genre-bench-")

    from bench.common import write_section
    from genre.config import load_config, parse_config
    from genre.evaluation.harness import evaluate

    baseline = parse_config(
        {
            "name": "ease-baseline",
            "data": {"loader": "movielens-100k"},
            "scorers": {"ease-untuned": {"component": "ease"}},
            "fusion": {"component": "weighted"},
        }
    )
    sections = []
    for protocol in args.protocol:
        started = time.perf_counter()
        report = evaluate([load_config(ROOT / c) for c in CONFIGS] + [baseline], protocol=protocol)
        seconds = time.perf_counter() - started
        scorer_rows = [r for r in report.rows if r.kind == "scorer"]
        fused = [r for r in report.rows if r.kind == "fusion" and r.name != "ease-baseline"]
        best = max(fused, key=lambda r: r.metrics["ndcg@10"])
        best_single = max((r for r in scorer_rows if r.name != "ease-untuned"), key=lambda r: r.metrics["ndcg@10"])
        ease = next(r for r in scorer_rows if r.name == "ease-untuned")
        lift = best.metrics["ndcg@10"] / ease.metrics["ndcg@10"] - 1
        lines = [
            f"### Protocol {protocol} — {report.users} users, {report.train_interactions:,} train / "
            f"{report.test_interactions:,} test interactions, {seconds:.0f} s wall (training included"
            f"{'' if not args.warm else ', warm cache'})",
            "",
            report.to_markdown(),
            "",
            f"- best fused config: **{best.name}** NDCG@10 {best.metrics['ndcg@10']:.4f}; "
            f"best single scorer: {best_single.name} {best_single.metrics['ndcg@10']:.4f} "
            f"({'beaten' if best.metrics['ndcg@10'] > best_single.metrics['ndcg@10'] else 'NOT beaten'})",
            f"- untuned EASE baseline NDCG@10 {ease.metrics['ndcg@10']:.4f}; lift of the best fused config {lift:+.1%}",
        ]
        if protocol == "R":
            lines.append(
                "- Microsoft Recommenders' published ML-100K NDCG@10: BPR 0.442, BiVAE 0.475, LightGCN 0.420, SAR 0.382"
            )
        for r in fused:
            if r.detail.get("weights"):
                w = ", ".join(f"{k} {v:.2f}" for k, v in r.detail["weights"].items())
                lines.append(f"- {r.name} weights: {w}")
        text = "\n".join(lines)
        print(text + "\n", flush=True)
        sections.append(text)
    if args.write:
        cmd = "`.venv/bin/python bench/eval_ml100k.py --write`"
        write_section(
            "eval_ml100k",
            "## MovieLens-100K offline evaluation\n\nCommand: " + cmd + "\n\n" + "\n\n".join(sections),
        )


if __name__ == "__main__":
    main()
