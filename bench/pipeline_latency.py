"""Pipeline latency, throughput and memory for the shipped configs.

Usage: .venv/bin/python bench/pipeline_latency.py [--runs 50] [--write]
Each config is built once (timed: catalog, models, embeddings from cache), then run on its
example profiles (and, for MovieLens, real users) in rotation. Prints a markdown table;
--write records it in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import write_section
from genre import Pipeline, load_config
from genre.data import load_profiles
from genre.data.profiles import interactions_to_context, profile_to_context

ROOT = Path(__file__).resolve().parent.parent


def contexts(pipe: Pipeline) -> list:
    ctxs = [profile_to_context(p, pipe.catalog) for p in load_profiles(pipe.config.data).values()]
    if pipe.catalog.interactions is not None:
        ctxs += [interactions_to_context(pipe.catalog, str(u)) for u in (1, 13, 200, 405, 655)]
    return ctxs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()

    rows = [
        "| config | build (s)¹ | runs | p50 ms | p95 ms | p99 ms | runs/s | attribution p50 / p95 ms "
        "| slowest stage (mean ms) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in ("movies", "movies-weighted", "products", "news"):
        t0 = time.perf_counter()
        pipe = Pipeline(load_config(ROOT / "configs" / f"{name}.toml"))
        build = time.perf_counter() - t0
        ctxs = contexts(pipe)
        pipe.run(ctxs[0])  # warm-up: first call allocates
        lat, stages = [], {}
        start = time.perf_counter()
        for i in range(args.runs):
            t = time.perf_counter()
            trace = pipe.run(ctxs[i % len(ctxs)])
            lat.append((time.perf_counter() - t) * 1000)
            for s in trace.timings:
                stages.setdefault(f"{s.stage}/{s.component}", []).append(s.ms)
        wall = time.perf_counter() - start
        p50, p95, p99 = np.percentile(lat, [50, 95, 99])
        slow = max(stages, key=lambda k: np.mean(stages[k]))
        attr = stages.get("explain/attribution", [0.0])
        a50, a95 = np.percentile(attr, [50, 95])
        rows.append(
            f"| {name} | {build:.1f} | {args.runs} | {p50:.1f} | {p95:.1f} | {p99:.1f} | {args.runs / wall:.0f} "
            f"| {a50:.1f} / {a95:.1f} | {slow} ({np.mean(stages[slow]):.1f}) |"
        )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    table = "\n".join(rows) + (
        "\n\n¹ Building loads cached trained state (training itself is in `prepare`); the first pipeline also loads"
        " the embedder. MovieLens runs use example profiles and real users (1, 13, 200, 405, 655), whose histories"
        " are up to 737 items; attribution leaves out each of the 50 most recent items for the top 10.\n"
    )
    table += f"\nPeak resident memory of the benchmark process: {peak_mb:.0f} MB.\n"
    table += f"\nCommand: `.venv/bin/python bench/pipeline_latency.py --runs {args.runs} --write`"
    print(table)
    if args.write:
        write_section("pipeline_latency", "## Pipeline latency (template reasons)\n\n" + table)


if __name__ == "__main__":
    main()
