"""Offline evaluation on MovieLens-100K: every scorer and every fused config, protocols T and R.

Usage: .venv/bin/python bench/eval_ml100k.py [--protocol T R] [--warm] [--write]
By default trained state goes to a fresh temporary cache, so the reported time includes all
training (what `python -m genre evaluate` costs on a new machine). An untuned EASE (λ = 250,
no recency weighting) runs in the same split as the baseline the targets refer to.

`movies-debiased` (PDA in place of BPR) is compared with its non-debiased counterpart, built here from the
same file with BPR (same dims, epochs, lr, l2, negatives) in place of PDA, on tail NDCG@10, coverage@10 and
overall NDCG@10 (issue targets: +20%, +30%, at most -2%), with IPS- and SNIPS-NDCG@10 beside the naive figure.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

if TYPE_CHECKING:
    from genre.config import PipelineConfig
    from genre.evaluation.harness import EvalReport, EvalRow

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = [
    "configs/movies.toml",
    "configs/movies-weighted.toml",
    "configs/movies-debiased.toml",
    "configs/movies-multitask.toml",
    "configs/movies-crossmodal.toml",
    "configs/movies-ltr.toml",
]
DEBIASED = "movies-debiased"
COUNTERPART = "movies-debiased-bpr"
PDA_ONLY = {"gamma", "mode", "gamma_adjust", "trend_window", "trend"}


def counterpart(debiased: PipelineConfig) -> PipelineConfig:
    """The debiased config with BPR in place of each PDA scorer, same options and blend weight."""
    from genre.config import parse_config

    data = debiased.model_dump()
    scorers, weights = {}, dict(data["fusion"]["config"].get("weights", {}))
    for name, spec in data["scorers"].items():
        if spec["component"] == "pda":
            spec = {
                **spec,
                "component": "bpr",
                "config": {k: v for k, v in spec["config"].items() if k not in PDA_ONLY},
            }
            weights["bpr"] = weights.pop(name)
            name = "bpr"
        scorers[name] = spec
    data.update(name=COUNTERPART, scorers=scorers)
    data["fusion"]["config"]["weights"] = weights
    return parse_config(data)


def compare(debiased: EvalRow, plain: EvalRow) -> str:
    """One line: the debiased config against its counterpart on the issue's three targets."""
    a, b = debiased.metrics, plain.metrics

    def change(key: str) -> float:
        return a[key] / b[key] - 1 if b[key] else float("inf")

    ndcg, tail, cov = change("ndcg@10"), change("ndcg@10-tail"), change("coverage@10")
    met = ndcg >= -0.02 and tail >= 0.20 and cov >= 0.30
    return (
        f"- {debiased.name} vs {plain.name} (BPR in place of PDA): NDCG@10 {a['ndcg@10']:.4f} vs {b['ndcg@10']:.4f} "
        f"({ndcg:+.1%}, target >= -2%), tail NDCG@10 {a['ndcg@10-tail']:.4f} vs {b['ndcg@10-tail']:.4f} "
        f"({tail:+.1%}, target >= +20%), coverage@10 {a['coverage@10']:.4f} vs {b['coverage@10']:.4f} "
        f"({cov:+.1%}, target >= +30%); IPS-NDCG@10 {a['ips-ndcg@10']:.4f} vs {b['ips-ndcg@10']:.4f}, "
        f"SNIPS-NDCG@10 {a['snips-ndcg@10']:.4f} vs {b['snips-ndcg@10']:.4f}: {'met' if met else 'NOT met'}"
    )


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
    total = 0.0
    configs = [load_config(ROOT / c) for c in CONFIGS]
    configs += [counterpart(next(c for c in configs if c.name == DEBIASED)), baseline]
    for protocol in args.protocol:
        started = time.perf_counter()
        report = evaluate(configs, protocol=protocol)
        seconds = time.perf_counter() - started
        total += seconds
        scorer_rows = [r for r in report.rows if r.kind == "scorer"]
        fused = [r for r in report.rows if r.kind == "fusion" and r.name not in ("ease-baseline", COUNTERPART)]
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
            "Popularity slices (head: most popular items holding 20% of training interactions; tail: least "
            "popular holding at most 20%; IPS/SNIPS propensity p_i = max((n_i / max n)^0.5, 0.01)):",
            "",
            report.slices_markdown(),
            "",
            compare(*(next(r for r in report.rows if r.name == n) for n in (DEBIASED, COUNTERPART))),
            f"- best fused config: **{best.name}** NDCG@10 {best.metrics['ndcg@10']:.4f}; "
            f"best single scorer: {best_single.name} {best_single.metrics['ndcg@10']:.4f} "
            f"({'beaten' if best.metrics['ndcg@10'] > best_single.metrics['ndcg@10'] else 'NOT beaten'})",
            f"- untuned EASE baseline NDCG@10 {ease.metrics['ndcg@10']:.4f}; lift of the best fused config {lift:+.1%}",
        ]
        lines += targets(protocol, report, best, best_single)
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
    timing = f"All configs, protocols {' '.join(args.protocol)}: {total:.0f} s (target: under 600 s on 2 CPU cores)"
    print(timing)
    sections.append(timing)
    if args.write:
        cmd = "`.venv/bin/python bench/eval_ml100k.py --write`"
        write_section(
            "eval_ml100k",
            "## MovieLens-100K offline evaluation\n\nCommand: " + cmd + "\n\n" + "\n\n".join(sections),
        )


T_BEFORE = 0.2843
"""Protocol T's best NDCG@10 before the logics of issue 15 (learned blend of `movies`)."""


def targets(protocol: str, report: EvalReport, best: EvalRow, best_single: EvalRow) -> list[str]:
    """The issue's targets that this run measures, each with its figure and whether it is met."""
    rows = {r.name: r for r in report.rows}
    ndcg = best.metrics["ndcg@10"]
    out = []
    if protocol == "R":
        gain = ndcg / best_single.metrics["ndcg@10"] - 1
        met = ndcg >= 0.50 and gain >= 0.02
        out.append(
            f"- target R: best config >= 0.50 and +2% over the best single scorer: {ndcg:.4f}, {gain:+.1%} "
            f"({'met' if met else 'missed'})"
        )
    else:
        gain = ndcg / T_BEFORE - 1
        out.append(
            f"- target T: +3% over {T_BEFORE}: {best.name} {ndcg:.4f}, {gain:+.1%} "
            f"({'met' if gain >= 0.03 else 'missed'})"
        )
    if "sasrec" in rows and "sasrec-crossmodal" in rows:
        plain, cross = (rows[n].metrics["cold-item ndcg@10"] for n in ("sasrec", "sasrec-crossmodal"))
        lift = cross / plain - 1 if plain > 0 else float("inf")
        out.append(
            f"- cold-item slice NDCG@10: sasrec-crossmodal {cross:.4f} vs ID-only sasrec {plain:.4f} "
            f"({lift:+.0%}; target +20%: {'met' if lift >= 0.2 else 'missed'})"
        )
    for acc in report.extras.get("intent_accuracy", []):
        beats = acc["top1"] > acc["majority_top1"] and acc["top3"] > acc["majority_top3"]
        out.append(
            f"- {acc['config']} {acc.get('head') or 'intent'} head: top-1 {acc['top1']:.3f} "
            f"(majority {acc['majority_top1']:.3f}), top-3 {acc['top3']:.3f} (majority "
            f"{acc['majority_top3']:.3f}), macro {acc['macro']:.3f} (majority {acc['majority_macro']:.3f}); "
            f"{'beats' if beats else 'does not beat'} the majority baseline at both"
        )
    return out


if __name__ == "__main__":
    main()
