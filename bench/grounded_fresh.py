"""Grounded generators on fresh runs: how many shown reasons are generated, pass the verifier, and read varied.

Usage: HF_HUB_OFFLINE=1 .venv/bin/python bench/grounded_fresh.py [--k 10] [--movie-users 1,7,100,405]
       [--profiles 6] [--candidates 4] [--generators grounded,tuned-local+prefill,tuned-local-prefill] [--show 30]
       [--adapter grounded] [--threads 1] [--write]

Fresh runs, not the labelled set: MovieLens users (``configs/movies.toml``) and the example profiles
of ``configs/products.toml`` and ``configs/news.toml`` are ranked (top ``--k``), and each generator
writes the reasons of every run in one call. Per generator: the share of shown reasons the model
wrote (the rest are template fallbacks), the share of shown reasons the claim verifier passes,
distinct-2 of the shown reasons beside the template's for the same items, the median words, and
seconds per 10 reasons (wall clock of the reasoner calls; the load average is printed beside it, as
the machine is shared). ``tuned-local+prefill`` / ``tuned-local-prefill`` force the grounded openings'
prefill on / off; ``tuned-local`` is its default config.
``--show`` prints that many shown tuned-local reasons with their item and named history, to read.
``--write`` replaces this benchmark's section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Run, ranked_runs, write_section
from genre.components.env import Env
from genre.components.reasoners.grounded import GroundedReasoner
from genre.components.reasoners.template import TemplateReasoner
from genre.components.reasoners.tuned import DEFAULT_ADAPTER, TunedLocalReasoner
from genre.core.types import ReasonOut
from genre.text.metrics import distinct_n

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Row:
    generator: str
    outs: list[ReasonOut] = field(default_factory=list)
    passed: list[bool] = field(default_factory=list)
    seconds: float = 0.0
    load: list[float] = field(default_factory=list)


def reasoner(name: str, candidates: int, catalog_env: Env, adapter: str) -> GroundedReasoner:
    if name == "grounded":
        r: GroundedReasoner = GroundedReasoner({"candidates": candidates})
    else:
        config: dict[str, object] = {"candidates": candidates, "adapter_path": adapter}
        if name.endswith(("+prefill", "-prefill")):
            config["prefill"] = name.endswith("+prefill")
        r = TunedLocalReasoner(config)
    r.prepare(catalog_env)
    return r


def measure(name: str, all_runs: list[Run], candidates: int, adapter: str) -> Row:
    row = Row(name)
    prepared: dict[int, GroundedReasoner] = {}  # one per catalog: the judge's verifier is built once
    for run in all_runs:
        catalog = run.verifier.catalog
        if id(catalog) not in prepared:
            prepared[id(catalog)] = reasoner(name, candidates, Env(catalog, "cpu"), adapter)
        r = prepared[id(catalog)]
        started = time.perf_counter()
        outs = r(run.requests, seed=0).reasons
        row.seconds += time.perf_counter() - started
        row.load.append(os.getloadavg()[0])
        row.outs += outs
        row.passed += [run.verifier.verify(o.text, q).passed for o, q in zip(outs, run.requests, strict=True)]
    return row


HEADER = [
    "| generator | reasons | generated (not fallback) | verifier pass | distinct-2 (template) | median words "
    "| s per 10 reasons | load avg |",
    "|---|---|---|---|---|---|---|---|",
]


def table(rows: list[Row], template: list[str]) -> list[str]:
    """One table line per generator (without the header)."""
    lines = []
    for row in rows:
        n = max(len(row.outs), 1)
        generated = sum(not o.fallback for o in row.outs)
        texts = [o.text for o in row.outs]
        lines.append(
            f"| {row.generator} | {len(row.outs)} | {generated / n:.0%} | {sum(row.passed) / n:.0%} "
            f"| {distinct_n(texts, 2):.3f} ({distinct_n(template, 2):.3f}) "
            f"| {statistics.median(len(t.split()) for t in texts) if texts else 0:.0f} "
            f"| {10 * row.seconds / n:.1f} | {statistics.mean(row.load) if row.load else 0:.1f} |"
        )
    return lines


def show(row: Row, all_runs: list[Run], count: int) -> None:
    requests = [q for run in all_runs for q in run.requests]
    sources = [run.source for run in all_runs for _ in run.requests]
    shown = [(s, q, o) for s, q, o in zip(sources, requests, row.outs, strict=True) if not o.fallback][:count]
    print(f"\n{len(shown)} shown {row.generator} reasons (generated, not fallbacks):")
    for source, req, out in shown:
        named = [h.title for h in req.history if h.item_id in out.evidence_ids]
        print(f"- [{source}] {req.item.title} | history: {'; '.join(named) or '-'}\n    {out.text}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--movie-users", default="1,7,100,405")
    ap.add_argument("--profiles", type=int, default=6, help="example profiles per product/news config")
    ap.add_argument("--candidates", type=int, default=4)
    ap.add_argument("--generators", default="grounded,tuned-local+prefill,tuned-local-prefill")
    ap.add_argument("--show", type=int, default=30)
    ap.add_argument("--adapter", default=DEFAULT_ADAPTER, help="tuned-local's adapter_path (default: the shipped one)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: no spinning on a shared machine)")
    ap.add_argument(
        "--rows",
        type=Path,
        help="a file of table lines: this run's lines are added to it and the table shows them all "
        "(generators measured in separate runs with the same users, k and candidates)",
    )
    ap.add_argument("--note", default="", help="a line printed under the table (e.g. what changed between rows)")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    command = "HF_HUB_OFFLINE=1 .venv/bin/python bench/grounded_fresh.py " + " ".join(sys.argv[1:])
    users = [u for u in args.movie_users.split(",") if u]
    all_runs = ranked_runs(args.k, users, args.profiles)
    requests = [q for run in all_runs for q in run.requests]
    template = [o.text for o in TemplateReasoner()(requests).reasons]
    rows = [measure(name, all_runs, args.candidates, args.adapter) for name in args.generators.split(",") if name]
    lines = table(rows, template)
    commands = [command]
    if args.rows is not None:
        earlier = args.rows.read_text().splitlines() if args.rows.exists() else []
        args.rows.write_text("\n".join([*earlier, *(f"{line} <!-- {command} -->" for line in lines)]) + "\n")
        lines = [line.split(" <!-- ")[0] for line in earlier] + lines
        commands = [line.split(" <!-- ")[1].removesuffix(" -->") for line in earlier if " <!-- " in line] + commands
    body = (
        f"Fresh runs (not the labelled set): {len(all_runs)} users ({', '.join(r.source for r in all_runs)}), "
        f"top {args.k}, {args.candidates} candidates per item, torch threads {args.threads}.\n\n"
        + "\n".join(HEADER + lines)
        + (f"\n\n{args.note}" if args.note else "")
        + "\n\nCommands:\n"
        + "\n".join(f"- `{c}`" for c in dict.fromkeys(commands))
    )
    print(body)
    for row in rows:
        if row.generator.startswith("tuned-local"):
            show(row, all_runs, args.show)
            break
    if args.write:
        write_section("grounded_fresh", body)


if __name__ == "__main__":
    main()
