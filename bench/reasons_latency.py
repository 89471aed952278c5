"""Reason generation speed and verification: template vs SmolLM2 (local-llm) on real recommendations.

Usage: .venv/bin/python bench/reasons_latency.py [--runs 3] [--write]
Builds the top-5 for each MovieLens example profile with configs/movies.toml, then times the
batched reasons for those 5 items and the first streamed token, and checks every reason.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import write_section
from genre import Pipeline, load_config
from genre.components.reasoners.local import LocalLLMReasoner
from genre.components.reasoners.template import TemplateReasoner
from genre.core.component import StreamsReasons
from genre.core.types import Evidence, ReasonRequest
from genre.data import load_profiles
from genre.data.profiles import profile_to_context
from genre.text.metrics import distinct_n, unique_sentence_ratio
from genre.text.verifier import Verifier

ROOT = Path(__file__).resolve().parent.parent


def requests_for(pipe: Pipeline, ctx) -> list[ReasonRequest]:
    trace = pipe.run(ctx, k=5)
    history = [pipe.catalog.items[pipe.catalog.index_of(h.item_id)] for h in trace.history]
    return [
        ReasonRequest(
            item=pipe.catalog.items[pipe.catalog.index_of(i.item_id)],
            contributions=i.contributions,
            evidence={
                n: [Evidence(e.kind, e.label, e.weight, e.item_id) for e in evs] for n, evs in i.evidence.items()
            },
            history=history,
            intent=trace.intent,
        )
        for i in trace.items
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    pipe = Pipeline(load_config(ROOT / "configs" / "movies.toml"))
    batches = [
        requests_for(pipe, profile_to_context(p, pipe.catalog)) for p in load_profiles(pipe.config.data).values()
    ]
    verifier = Verifier(pipe.catalog)
    llm = LocalLLMReasoner()
    llm.prepare(pipe.env)
    template = TemplateReasoner()
    llm(batches[0])  # warm-up

    rows = ["| generator | top-5 batch p50 s | first streamed token p50 s | verified | invented or wrong titles | distinct-2 | unique sentences |",
            "|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, reasoner in (("template", template), ("local-llm (SmolLM2-135M)", llm)):
        times, firsts, texts, verdicts = [], [], [], []
        for run in range(args.runs):
            for reqs in batches:
                t = time.perf_counter()
                out = reasoner(reqs).reasons
                times.append(time.perf_counter() - t)
                if run == 0:
                    texts += [o.text for o in out]
                    verdicts += [verifier.verify(o.text, r) for o, r in zip(out, reqs, strict=True)]
        if isinstance(reasoner, StreamsReasons):
            for reqs in batches:
                t = time.perf_counter()
                for _index, _delta in reasoner.stream(reqs[:1]):
                    firsts.append(time.perf_counter() - t)
                    break
        first = f"{np.median(firsts):.2f}" if firsts else "n/a"
        faithful = np.mean([v.passed for v in verdicts])
        halluc = np.mean([bool({"invented_title", "wrong_title"} & set(v.errors)) for v in verdicts])
        rows.append(
            f"| {name} | {np.median(times):.2f} | {first} | {faithful:.0%} | {halluc:.0%} "
            f"| {distinct_n(texts, 2):.3f} | {unique_sentence_ratio(texts):.3f} |"
        )
    table = "\n".join(rows) + (
        f"\n\n{len(batches)} example profiles x top-5 items, {args.runs} runs each; greedy decoding, batch of 5.\n"
        f"\nCommand: `.venv/bin/python bench/reasons_latency.py --runs {args.runs} --write`"
    )
    print(table)
    if args.write:
        write_section("reasons_latency", "## Reason generation (MovieLens example profiles)\n\n" + table)


if __name__ == "__main__":
    main()
