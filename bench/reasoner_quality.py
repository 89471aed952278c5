"""Reason quality side by side: template vs local-llm (SmolLM2) vs tuned-local (SmolLM2 + LoRA adapter).

Usage: OMP_WAIT_POLICY=PASSIVE .venv/bin/python bench/reasoner_quality.py [--adapter DIR] [--train] [--users 40] [--write]

1. Loads the adapter (default: <cache>/adapters/movies, what
   ``python -m genre train-reasoner --config configs/movies.toml`` writes), training it first when it
   is missing or ``--train`` is given. It is MovieLens-derived: it stays in the cache.
2. Scores the three generators on the held-out reference pairs of products and news (the 20% of
   recommended items the adapter never saw; BLEU-4 and ROUGE-L against the hand-written reasons).
3. Scores them on MovieLens recommendations: configs/movies.toml's top-5 for the 6 example profiles
   and the first dataset users of the explanation-evaluation sample (never trained on), ``--users``
   contexts in all: 40 (the default) gives 200 recommendations, about 15 minutes on 2 idle cores.

OMP_WAIT_POLICY=PASSIVE matters only when other processes share the cores: OpenMP's default
spin-waiting then makes batched generation up to 10x slower.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import write_section
from genre import load_config
from genre.components.env import Env
from genre.components.reasoners.tuned import CARD_FILE, SHIPPED_ADAPTERS, adapter_dir
from genre.config import StageSpec, build_component
from genre.evaluation.explanations import (
    REFERENCE_BATCH,
    GeneratorRow,
    evaluate_explanations,
    markdown_table,
    reference_cases,
    score_generator,
    token_counter,
)
from genre.training.reasoner import train_reasoner
from genre.training.reasoner_data import load_reference_sets

ROOT = Path(__file__).resolve().parent.parent
HIGHER = ("passed", "evidence_coverage", "distinct_2", "unique_sentences", "tokens_per_second", "bleu4", "rouge_l")


SHIPPED = "tuned-local (grounded adapter)"


def specs(adapter: Path) -> list[tuple[str, StageSpec]]:
    """(row label, spec): both adapters, the config's own and the shipped project-data one."""
    return [
        ("template", StageSpec(component="template")),
        ("local-llm", StageSpec(component="local-llm", config={"attention": False})),
        (
            f"tuned-local ({adapter.name} adapter)",
            StageSpec(component="tuned-local", config={"adapter_path": str(adapter)}),
        ),
        (
            SHIPPED,
            StageSpec(component="tuned-local", config={"adapter_path": str(SHIPPED_ADAPTERS / "grounded")}),
        ),
    ]


def labelled(rows: list[GeneratorRow], adapter: Path) -> list[GeneratorRow]:
    for row, (label, _) in zip(rows, specs(adapter), strict=True):
        row.generator = label
    return rows


def held_out_rows(adapter: Path) -> tuple[list[GeneratorRow], int]:
    """Every generator on the pooled held-out reference pairs of products and news."""
    sets = load_reference_sets()
    cases = [case for ref in sets for case in reference_cases(ref.catalog, pairs=ref.one_line())]
    batches = [cases[i : i + REFERENCE_BATCH] for i in range(0, len(cases), REFERENCE_BATCH)]
    count, _ = token_counter()
    rows = []
    for label, spec in specs(adapter):
        reasoner = build_component("explain", spec)
        reasoner.prepare(Env(sets[0].catalog, "cpu"))
        rows.append(score_generator(label, reasoner, batches, count))
    return rows, len(cases)


def verdicts(held: dict[str, GeneratorRow], movies: dict[str, GeneratorRow], label: str) -> list[str]:
    tuned, llm, template = held[label], held["local-llm"], held["template"]
    mt, ml, mtemp = movies[label], movies["local-llm"], movies["template"]

    def mark(ok: bool) -> str:
        return "met" if ok else "NOT met"

    ceiling = {"passed": 1.0, "evidence_coverage": 1.0, "unique_sentences": 1.0, "invented": 0.0, "wrong_title": 0.0}
    lost, tied = [], []
    for where, t, base in (("held-out", tuned, llm), ("MovieLens", mt, ml)):
        for m in (*HIGHER, "invented", "wrong_title"):
            mine, theirs = getattr(t, m), getattr(base, m)
            if mine is None or theirs is None:
                continue
            if mine == theirs == ceiling.get(m):
                tied.append(f"{where} {m}")
            elif (mine <= theirs) if m in HIGHER else (mine >= theirs):
                lost.append(f"{where} {m}")
    beaten = "met" if not lost else "NOT met (ties or losses: " + ", ".join(lost) + ")"
    if tied:
        beaten += "; both at the ceiling: " + ", ".join(tied)
    return [
        f"- tuned-local verified ≥ 95% on held-out pairs: {tuned.passed:.1%} ({mark(tuned.passed >= 0.95)})",
        f"- tuned-local verified ≥ 90% on MovieLens: {mt.passed:.1%} ({mark(mt.passed >= 0.90)})",
        f"- invented titles: held-out {tuned.invented:.1%}, MovieLens {mt.invented:.1%} "
        f"({mark(tuned.invented == 0 and mt.invented == 0)})",
        f"- beats local-llm on every metric: {beaten}",
        f"- more varied than template (distinct-2): held-out {tuned.distinct_2:.3f} vs {template.distinct_2:.3f}, "
        f"MovieLens {mt.distinct_2:.3f} vs {mtemp.distinct_2:.3f} "
        f"({mark(tuned.distinct_2 > template.distinct_2 and mt.distinct_2 > mtemp.distinct_2)})",
        f"- less repetitive than template (unique sentences): held-out {tuned.unique_sentences:.3f} vs "
        f"{template.unique_sentences:.3f}, MovieLens {mt.unique_sentences:.3f} vs {mtemp.unique_sentences:.3f} "
        f"({mark(tuned.unique_sentences > template.unique_sentences and mt.unique_sentences > mtemp.unique_sentences)})",
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--adapter", type=Path, help="adapter directory (default: <cache>/adapters/movies)")
    ap.add_argument("--train", action="store_true", help="train the adapter even when it exists")
    ap.add_argument("--users", type=int, default=40, help="MovieLens contexts (profiles first), top-5 each")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    movies = load_config(ROOT / "configs" / "movies.toml")
    adapter = args.adapter or adapter_dir(movies.name)
    if args.train or not (adapter / CARD_FILE).is_file():
        print(f"training {adapter} (python -m genre train-reasoner --config configs/movies.toml)", flush=True)
        train_reasoner(movies, out=adapter, progress=True)
    card = json.loads((adapter / CARD_FILE).read_text())

    started = time.perf_counter()
    held, pairs = held_out_rows(adapter)
    held_seconds = time.perf_counter() - started
    started = time.perf_counter()
    report = evaluate_explanations(
        movies, [spec for _, spec in specs(adapter)], users=args.users, k=5, references=False
    )
    labelled(report.rows, adapter)
    movie_seconds = time.perf_counter() - started

    data = card["data"]
    lines = [
        f"Adapter `{adapter.name}`: LoRA r={card['lora']['r']} alpha={card['lora']['alpha']} on decoder layers "
        f"{card['lora']['layers'][0]}-{card['lora']['layers'][-1]} of SmolLM2-135M-Instruct, {card['steps']} steps x "
        f"{card['batch_size']} ({card['epochs']} epochs over {data['examples']} examples: "
        + ", ".join(f"{n} {s}" for s, n in sorted(data["sources"].items()))
        + f"), lr {card['lr']}, trained in {card['train_seconds']:.0f} s on {card['device']} "
        f"({card['threads']} threads; {card['total_seconds']:.0f} s with data and held-out scoring). "
        f"Loss {card['loss_curve'][0][1]:.2f} -> {card['loss_curve'][-1][1]:.2f}.",
        "",
        f"**Held-out reference pairs** ({pairs}: products + news, recommended items never trained on; "
        f"{held_seconds:.0f} s):",
        "",
        *markdown_table(held, references=True),
        "",
        f"**MovieLens-100K** (configs/movies.toml, top-5 for {report.users} contexts = "
        f"{report.rows[0].reasons} recommendations: 6 example profiles + dataset users "
        f"outside the adapter's training sample; {movie_seconds:.0f} s):",
        "",
        *markdown_table(report.rows, references=False),
        "",
        f"Tokens are {report.token_unit}; s / reason and tokens / s are batched generation on this machine "
        "(reference pairs 8 per call, MovieLens 5 per call); tokens / s counts only what the model generated "
        "(local-llm's prefill \"Because you liked <title>\" is ours), and a repaired reason's discarded first "
        "attempt costs time but counts no tokens. tuned-local samples (temperature 0.7, seeded); local-llm and "
        "template are deterministic. tuned-local rewrites a reason from the prefill when it names no history "
        "title or fails verification: "
        + "; ".join(
            f"{h.generator} {h.repaired} of {h.reasons} held-out and {m.repaired} of {m.reasons} MovieLens"
            for h, m in zip(held[2:], report.rows[2:], strict=True)
        )
        + ". The products adapter (the default `adapter_path`, shipped in assets/) never saw a movie; the "
        f"{adapter.name} adapter also trained on template reasons over its catalog. Evidence coverage: the reason "
        "names one of the two strongest history items (by scorer contribution).",
    ]
    for label in (r.generator for r in held[2:]):
        lines += [
            "",
            f"Targets, {label}:",
            *verdicts({r.generator: r for r in held}, {r.generator: r for r in report.rows}, label),
        ]
    body = "\n".join(lines)
    print(body)
    if args.write:
        write_section("reasoner_quality", body)


if __name__ == "__main__":
    main()
