"""grounded and tuned-local in every reason style: how much the model writes, and whether it holds up.

Usage: HF_HUB_OFFLINE=1 .venv/bin/python bench/styles_generated.py [--k 5] [--movie-users 1,7,100]
       [--profiles 6] [--candidates 4] [--generators grounded,tuned-local] [--styles one-line,short,bullets,compare]
       [--adapter grounded] [--threads 1] [--show 20] [--jsonl out.jsonl]

Fresh runs: the example profiles of ``configs/products.toml`` and ``configs/news.toml`` and a few MovieLens
users (``configs/movies.toml``) are ranked (top ``--k``), and each generator writes every run's reasons in
one call per style. Per generator and style: the share of reasons the model wrote at least one point of
(the rest are template fallbacks), the share of points it wrote, the verifier's pass rate on the shown
reasons (claim by claim, in the style's length bound), the median words, and the share of reasons naming
a title that is no catalog title (``invented_title``). Prints only: the figures go to bench/RESULTS.md by hand.
``--jsonl`` writes every shown reason with its evidence titles, to read.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Run, ranked_runs
from genre.components.env import Env
from genre.components.reasoners.grounded import GroundedReasoner
from genre.components.reasoners.styled_points import write_styled_outcome
from genre.components.reasoners.tuned import DEFAULT_ADAPTER, TunedLocalReasoner
from genre.core.types import ReasonOut, ReasonRequest

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Row:
    generator: str
    style: str
    outs: list[ReasonOut] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    requests: list[ReasonRequest] = field(default_factory=list)
    passed: list[bool] = field(default_factory=list)
    invented: list[bool] = field(default_factory=list)
    model_points: int = 0
    points: int = 0
    seconds: float = 0.0


def measure(name: str, style: str, all_runs: list[Run], candidates: int, adapter: str) -> Row:
    row = Row(name, style)
    prepared: dict[int, GroundedReasoner] = {}
    for run in all_runs:
        catalog = run.verifier.catalog
        if id(catalog) not in prepared:
            config: dict[str, object] = {"candidates": candidates, "style": style}
            r = (
                GroundedReasoner(config)
                if name == "grounded"
                else TunedLocalReasoner({**config, "adapter_path": adapter})
            )
            r.prepare(Env(catalog, "cpu"))
            prepared[id(catalog)] = r
        r = prepared[id(catalog)]
        started = time.perf_counter()
        if style == "one-line":
            outs = r(run.requests, seed=0).reasons
            model, total = [0 if o.fallback else 1 for o in outs], [1] * len(outs)
        else:
            outcome = write_styled_outcome(r, run.requests, 0)
            outs, model, total = outcome.batch.reasons, outcome.model_points, outcome.points
        row.seconds += time.perf_counter() - started
        bound = r.config.word_bound
        for out, req in zip(outs, run.requests, strict=True):
            verdict = run.verifier.verify(out.text, req, max_words=bound)
            row.passed.append(verdict.passed)
            row.invented.append("invented_title" in verdict.errors)
        row.outs += outs
        row.sources += [run.source] * len(outs)
        row.requests += run.requests
        row.model_points += sum(model)
        row.points += sum(total)
    return row


def line(row: Row) -> str:
    n = max(len(row.outs), 1)
    words = [len(o.text.split()) for o in row.outs]
    return (
        f"| {row.generator} | {row.style} | {len(row.outs)} | {sum(not o.fallback for o in row.outs) / n:.0%} "
        f"| {row.model_points / max(row.points, 1):.0%} | {sum(row.passed) / n:.0%} "
        f"| {statistics.median(words) if words else 0:.0f} | {sum(row.invented) / n:.0%} | {10 * row.seconds / n:.1f} |"
    )


HEADER = [
    "| generator | style | reasons | model-written (not fallback) | points by model | verifier pass | median words "
    "| invented titles | s per 10 reasons |",
    "|---|---|---|---|---|---|---|---|---|",
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--movie-users", default="1,7,100")
    ap.add_argument("--profiles", type=int, default=6)
    ap.add_argument("--candidates", type=int, default=4)
    ap.add_argument("--generators", default="grounded,tuned-local")
    ap.add_argument("--styles", default="one-line,short,bullets,compare")
    ap.add_argument("--adapter", default=DEFAULT_ADAPTER)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--show", type=int, default=0, help="print this many shown reasons per generator and style")
    ap.add_argument("--jsonl", type=Path, help="write every shown reason with its evidence here")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    all_runs = ranked_runs(
        args.k, [u for u in args.movie_users.split(",") if u], args.profiles, domains=("products", "news", "movies")
    )
    print(f"{len(all_runs)} runs ({', '.join(r.source for r in all_runs)}), top {args.k}, {args.candidates} candidates")
    print("\n".join(HEADER), flush=True)
    rows = []
    for name in [g for g in args.generators.split(",") if g]:
        for style in [s for s in args.styles.split(",") if s]:
            row = measure(name, style, all_runs, args.candidates, args.adapter)
            rows.append(row)
            print(line(row), flush=True)
    for row in rows:
        for source, req, out, ok in list(zip(row.sources, row.requests, row.outs, row.passed, strict=True))[
            : args.show
        ]:
            hist = "; ".join(h.title for h in req.history[:2])
            mark = "fallback" if out.fallback else "model"
            print(f"\n[{row.generator} {row.style} {source} {mark} pass={ok}] {req.item.title} <- {hist}\n{out.text}")
    if args.jsonl is not None:
        with args.jsonl.open("w") as fh:
            for row in rows:
                for source, req, out, ok in zip(row.sources, row.requests, row.outs, row.passed, strict=True):
                    fh.write(
                        json.dumps(
                            {
                                "generator": row.generator,
                                "style": row.style,
                                "source": source,
                                "item": req.item.title,
                                "item_categories": list(req.item.categories),
                                "history": [h.title for h in req.history[:3]],
                                "text": out.text,
                                "fallback": out.fallback,
                                "passed": ok,
                            }
                        )
                        + "\n"
                    )


if __name__ == "__main__":
    main()
