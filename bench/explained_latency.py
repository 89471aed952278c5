"""The whole explained top-5: one full pipeline run with generated reasons, attributions and attention.

Usage: .venv/bin/python bench/explained_latency.py [--device auto|cpu|cuda] [--runs 5] [--config products]
                                                  [--generator local-llm] [--write]

Each timed run starts with an empty reason cache, so every reason is generated. Reported:
end-to-end latency percentiles, the per-stage mean, peak memory, and faithfulness of the reasons.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import write_section
from genre import Pipeline, load_config
from genre.config import StageSpec
from genre.data import load_profiles
from genre.data.profiles import profile_to_context

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="products", help="a config name in configs/")
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--generator", default="local-llm")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--json", type=Path, help="also write the figures as JSON here")
    ap.add_argument("--write", action="store_true", help="record the table in bench/RESULTS.md")
    args = ap.parse_args()

    import torch

    base = load_config(ROOT / "configs" / f"{args.config}.toml")
    config = base.model_copy(update={"device": args.device, "explain": StageSpec(component=args.generator)})
    t0 = time.perf_counter()
    pipe = Pipeline(config)
    build = time.perf_counter() - t0
    ctxs = [profile_to_context(p, pipe.catalog) for p in load_profiles(config.data).values()]
    pipe.run(ctxs[0], k=args.k)  # warm-up: kernels, allocator, first generate call
    lat, stages, faithful, reasons = [], {}, 0, 0
    if pipe.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    for i in range(args.runs):
        pipe._reason_cache.clear()  # every timed run generates every reason
        start = time.perf_counter()
        trace = pipe.run(ctxs[i % len(ctxs)], k=args.k)
        if pipe.device == "cuda":
            torch.cuda.synchronize()
        lat.append((time.perf_counter() - start) * 1000)
        for s in trace.timings:
            stages.setdefault(f"{s.stage}/{s.component}", []).append(s.ms)
        reasons += len(trace.items)
        faithful += sum(bool(i.reason and i.reason.faithful) for i in trace.items)
    p50, p95 = np.percentile(lat, [50, 95])
    gpu_mb = torch.cuda.max_memory_allocated() / 2**20 if pipe.device == "cuda" else 0.0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    top = sorted(stages, key=lambda k: -np.mean(stages[k]))[:5]
    figures = {
        "device": pipe.device,
        "config": args.config,
        "generator": args.generator,
        "k": args.k,
        "runs": args.runs,
        "build_s": round(build, 2),
        "p50_ms": round(float(p50), 1),
        "p95_ms": round(float(p95), 1),
        "faithful": f"{faithful}/{reasons}",
        "peak_gpu_mb": round(gpu_mb),
        "peak_rss_mb": round(rss_mb),
        "stages_mean_ms": {k: round(float(np.mean(stages[k])), 1) for k in top},
    }
    table = (
        "| device | config | generator | top-k | runs | p50 ms | p95 ms | faithful | peak GPU MB | peak RSS MB |\n"
        "|---|---|---|---|---|---|---|---|---|---|\n"
        f"| {pipe.device} | {args.config} | {args.generator} | {args.k} | {args.runs} | {p50:.0f} | {p95:.0f} "
        f"| {faithful}/{reasons} | {gpu_mb:.0f} | {rss_mb:.0f} |\n\n"
        "Slowest stages (mean ms): " + ", ".join(f"{k} {np.mean(stages[k]):.0f}" for k in top) + "\n\n"
        f"Command: `.venv/bin/python bench/explained_latency.py --config {args.config} --device {args.device} "
        f"--generator {args.generator} --runs {args.runs} --write`"
    )
    print(table)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    if args.write:
        write_section(
            f"explained_top{args.k}_{pipe.device}", f"## Whole explained top-{args.k} on {pipe.device}\n\n" + table
        )


if __name__ == "__main__":
    main()
