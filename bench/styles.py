"""Reason styles side by side: every style of a generator, verified claim by claim on real recommendations.

Usage (from the repository root):

    HF_HUB_OFFLINE=1 .venv/bin/python bench/styles.py                    # template, every style
    HF_HUB_OFFLINE=1 .venv/bin/python bench/styles.py --local            # and local-llm (SmolLM2, slow on CPU)
    HF_HUB_OFFLINE=1 .venv/bin/python bench/styles.py --show out.txt     # every reason with its evidence, to read
    HF_HUB_OFFLINE=1 .venv/bin/python bench/styles.py --write            # and record the section in RESULTS.md

Contexts: the example profiles of products and news (configs/products.toml, configs/news.toml) and the first
``--users`` MovieLens users (configs/movies.toml), top ``--k`` each. Per generator and style: the verifier's
pass rate (with the length bound of that style), median words, distinct-2 over all reasons, and points per
reason (bullets: "- " lines; other styles: sentences).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Run, ranked_runs, write_section
from genre.components.env import Env
from genre.components.reasoners.local import LocalLLMReasoner
from genre.components.reasoners.styles import STYLES, Style
from genre.components.reasoners.template import TemplateReasoner
from genre.core.component import Reasoner
from genre.text.hygiene import split_sentences
from genre.text.metrics import distinct_n

ROOT = Path(__file__).resolve().parent.parent
COMMAND = "HF_HUB_OFFLINE=1 .venv/bin/python bench/styles.py"


@dataclass
class Row:
    generator: str
    style: Style
    texts: list[str] = field(default_factory=list)
    passed: list[bool] = field(default_factory=list)
    fallbacks: int = 0
    seconds: float = 0.0


def _users(n: int) -> list[str]:
    # MovieLens user ids 1..943; the first ones, as bench/grounded_fresh.py takes them.
    return [str(u) for u in range(1, n + 1)]


def points(text: str, style: Style) -> int:
    if style == "bullets":
        return sum(1 for line in text.splitlines() if line.lstrip().startswith("- "))
    return len(split_sentences(text))


def measure(generator: str, style: Style, all_runs: list[Run]) -> Row:
    row = Row(generator, style)
    built: dict[int, Reasoner] = {}
    for run in all_runs:
        key = id(run.verifier.catalog)
        if key not in built:
            r: Reasoner
            if generator == "template":
                r = TemplateReasoner({"style": style})
            else:
                r = LocalLLMReasoner({"style": style, "attention": False})
            r.prepare(Env(run.verifier.catalog, "cpu"))
            built[key] = r
        reasoner = built[key]
        bound = reasoner.config.word_bound  # type: ignore[attr-defined]
        started = time.perf_counter()
        outs = reasoner(run.requests, seed=0).reasons
        row.seconds += time.perf_counter() - started
        for out, req in zip(outs, run.requests, strict=True):
            row.texts.append(out.text)
            row.fallbacks += out.generator != generator
            row.passed.append(run.verifier.verify(out.text, req, max_words=bound, style=style).passed)
    return row


def table(rows: list[Row]) -> str:
    lines = [
        "| generator | style | reasons | verifier pass | fallback to template | median words | distinct-2 "
        "| points per reason (median) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        n = len(r.texts)
        words = statistics.median(len(t.split()) for t in r.texts)
        pts = statistics.median(points(t, r.style) for t in r.texts)
        lines.append(
            f"| {r.generator} | {r.style} | {n} | {sum(r.passed) / n:.0%} | {r.fallbacks / n:.0%} | {words:g} "
            f"| {distinct_n(r.texts, 2):.2f} | {pts:g} |"
        )
    return "\n".join(lines)


def show(rows: list[Row], all_runs: list[Run], path: Path) -> None:
    """Every reason beside its evidence (item, history named, verdict), for a person to read."""
    requests = [(run.source, req, run.verifier) for run in all_runs for req in run.requests]
    with path.open("w") as f:
        for r in rows:
            for text, (source, req, verifier) in zip(r.texts, requests, strict=True):
                verdict = verifier.verify(text, req, max_words=200, style=r.style)
                f.write(f"## {r.generator} {r.style} | {source} | {req.item.title} {list(req.item.categories)}\n")
                f.write(f"   item attrs: { {k: v for k, v in req.item.attributes.items() if isinstance(v, str)} }\n")
                for h in req.history[-6:]:
                    f.write(f"   hist: {h.title} {list(h.categories)} {h.attributes.get('brand', '')}\n")
                f.write(text + "\n")
                f.write(f"   -> {'PASS' if verdict.passed else 'FAIL ' + '; '.join(verdict.problems)}\n\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--k", type=int, default=5, help="recommendations per context")
    parser.add_argument("--users", type=int, default=5, help="MovieLens users")
    parser.add_argument("--local", action="store_true", help="also local-llm (SmolLM2) in every style")
    parser.add_argument("--show", type=Path, help="write every reason with its evidence and verdict to this file")
    parser.add_argument("--write", action="store_true", help="record the section in bench/RESULTS.md")
    args = parser.parse_args(argv)
    all_runs = ranked_runs(args.k, _users(args.users), domains=("products", "news", "movies"))
    generators = ["template", *(["local-llm"] if args.local else [])]
    rows = [measure(g, s, all_runs) for g in generators for s in STYLES]
    out = table(rows)
    n_contexts = len(all_runs)
    print(out)
    if args.show:
        show(rows, all_runs, args.show)
    if args.write:
        command = COMMAND + (" --local" if args.local else "") + " --write"
        body = (
            f"Every style of each generator on {n_contexts} contexts (products and news example profiles, "
            f"{args.users} MovieLens users; top {args.k} each). Verifier pass uses each style's length bound; "
            "points are bullet lines, or sentences for the other styles. "
            f"Command: `{command}`.\n\n" + out
        )
        write_section("styles", body)


if __name__ == "__main__":
    main()
