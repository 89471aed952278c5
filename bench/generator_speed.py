"""Generator precision on CPU: fp32 vs int8 weights (genre.quantize) for speed, memory and reason quality.

Usage: HF_HUB_OFFLINE=1 .venv/bin/python bench/generator_speed.py [--precision fp32,int8] [--quick] [--threads 2]

Every figure of one precision comes from fresh subprocesses, so each peak RSS (``ru_maxrss``) is that
precision's own:
1. decode: the packaged SmolLM2 alone, batch 1, greedy with the KV cache; new tokens per second after
   the prompt (best of 5 runs of 64 tokens, 2 with --quick; the prompt's prefill is timed apart and subtracted), and
   the share of positions where the greedy next token is fp32's (teacher-forced on fp32's own text);
2. ten reasons: configs/movies.toml with explain = tuned-local for MovieLens user 1, as the Recommend page
   fills its ten rows (``bench.reasons_in_page.one_run``: seconds from the ranking on screen to the last of
   the ten reasons, reason cache cleared, after one warm-up run), with how many the verifier passed;
3. quality: tuned-local writes a reason for each held-out request of the labelled set's after round
   (sample_data/reasons/labelled, the tuned-local strata: the reasons whose person-written labels give
   tuned-local's "acceptable (held-out labels)" rate), and the claim verifier checks each. A person's
   "acceptable" needs a person: ``--texts FILE`` writes every text beside its fp32 twin to read.

Targets (2 CPU cores): int8 decode >= 40 tok/s; ten verified reasons <= 8 s; acceptable rate within 2
points of fp32. The machine may be shared: the load average is printed with each figure.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROOT = Path(__file__).resolve().parent.parent
PROMPT = "In two sentences, say why someone who liked Star Wars and Alien might enjoy Blade Runner."
DECODE_TOKENS = 64
TARGET_TOK_S, TARGET_TEN_S, TARGET_POINTS = 40.0, 8.0, 2.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_now_mb() -> float:
    """Resident memory now (Linux): after loading, what the process keeps, not the peak of loading."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def child_decode(precision: str, quick: bool) -> dict[str, Any]:
    import torch

    from genre.models import load_generator

    gen = load_generator("cpu", precision=precision)
    tok = gen.tokenizer
    batch = tok(gen._chat(PROMPT, None), return_tensors="pt")
    best, prefill = float("inf"), float("inf")
    with torch.inference_mode():
        gen.model.generate(**batch, max_new_tokens=4, do_sample=False)  # warm-up
        for _ in range(2 if quick else 5):
            start = time.perf_counter()
            gen.model.generate(**batch, max_new_tokens=1, do_sample=False)
            prefill = min(prefill, time.perf_counter() - start)
            start = time.perf_counter()
            out = gen.model.generate(
                **batch, max_new_tokens=DECODE_TOKENS, min_new_tokens=DECODE_TOKENS, do_sample=False
            )
            best = min(best, time.perf_counter() - start)
    new = out[0, batch["input_ids"].shape[1] :]
    return {
        "tok_s": (DECODE_TOKENS - 1) / max(best - prefill, 1e-9),
        "prefill_s": prefill,
        "tokens": new.tolist(),
        "prompt": batch["input_ids"][0].tolist(),
        "text": tok.decode(new, skip_special_tokens=True),
        "rss_now_mb": rss_now_mb(),
        "rss_mb": peak_rss_mb(),
    }


def agreement(precision: str, reference: dict[str, Any]) -> float:
    """Share of positions of fp32's greedy text where this precision's greedy next token is the same."""
    import torch

    from genre.models import load_generator

    gen = load_generator("cpu", precision=precision)
    ids = torch.tensor([reference["prompt"] + reference["tokens"]])
    start = len(reference["prompt"])
    with torch.inference_mode():
        picks = gen.model(input_ids=ids).logits[0, start - 1 : -1].argmax(-1)
    return float((picks == ids[0, start:]).float().mean())


def child_reasons(precision: str, quick: bool) -> dict[str, Any]:
    from bench.reasons_in_page import count_calls, one_run
    from genre import Pipeline, load_config
    from genre.config import StageSpec
    from genre.data.users import dataset_user_context
    from genre.pipeline.explain import FIRST_BATCH

    base = load_config(ROOT / "configs" / "movies.toml")
    config = base.model_copy(update={"explain": StageSpec(component="tuned-local"), "precision": precision})
    pipe = Pipeline(config)
    ctx = dataset_user_context(pipe.catalog, "1")
    calls = count_calls()
    one_run(pipe, ctx, FIRST_BATCH, calls)  # warm-up: model loaded, first-call overheads paid
    seconds, verified, generated, loads = [], [], [], []
    for _ in range(1 if quick else 3):
        _first, last, _calls, written = one_run(pipe, ctx, FIRST_BATCH, calls)
        trace = pipe.run(ctx, k=10)  # the reasons just written, from the cache, with their verdicts
        seconds.append(last)
        verified.append(sum(bool(i.reason and i.reason.faithful) for i in trace.items))
        generated.append(written)
        loads.append(os.getloadavg()[0])
    return {
        "ten_s": seconds,
        "verified": verified,
        "generated": generated,
        "load": loads,
        "trace_precision": trace.precision,
        "rss_mb": peak_rss_mb(),
    }


def child_quality(precision: str, quick: bool) -> dict[str, Any]:
    from genre import load_config
    from genre.components.env import Env
    from genre.components.reasoners.tuned import TunedLocalReasoner
    from genre.data import load_catalog
    from genre.data.labelled import load_labelled
    from genre.text.verifier import Verifier

    records = [
        r for r in load_labelled() if r.split == "heldout" and r.round == "after" and r.generator == "tuned-local"
    ]
    records.sort(key=lambda r: r.id)
    if quick:
        records = records[::3]
    out: list[dict[str, Any]] = []
    for config_name in sorted({r.config for r in records}):
        catalog = load_catalog(load_config(ROOT / "configs" / f"{config_name}.toml").data)
        reasoner = TunedLocalReasoner({})
        reasoner.prepare(Env(catalog, "cpu", precision=precision))
        verifier = Verifier(catalog)
        mine = [r for r in records if r.config == config_name]
        for start in range(0, len(mine), 4):
            batch = mine[start : start + 4]
            requests = [r.request() for r in batch]
            for rec, req, reason in zip(batch, requests, reasoner(requests, seed=0).reasons, strict=True):
                out.append(
                    {
                        "id": rec.id,
                        "text": reason.text,
                        "labelled_text": rec.text,
                        "acceptable": rec.label.acceptable if rec.label else None,
                        "fallback": reason.fallback,
                        "verified": verifier.verify(reason.text, req).passed,
                    }
                )
    return {"reasons": out, "rss_mb": peak_rss_mb()}


CHILDREN = {"decode": child_decode, "reasons": child_reasons, "quality": child_quality}


def run_child(kind: str, precision: str, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", kind, "--precision", precision, "--threads", str(args.threads)]
    cmd += ["--quick"] if args.quick else []
    started = time.perf_counter()
    # Spin-waiting OpenMP threads make generation several times slower when other jobs share the cores.
    env = {"OMP_WAIT_POLICY": "PASSIVE", **os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{kind} {precision} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"  {kind} {precision}: {time.perf_counter() - started:.0f} s, load {os.getloadavg()[0]:.1f}", flush=True)
    return dict(result)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--precision", default="fp32,int8", help="comma-separated CPU precisions: fp32, int8")
    ap.add_argument(
        "--quick",
        action="store_true",
        help="fewer timed runs (2 decode, 1 ten-reasons), a third of the quality requests",
    )
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads (the targets are for 2 cores)")
    ap.add_argument("--texts", type=Path, help="write each held-out reason per precision here (JSON) to read")
    ap.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    args = ap.parse_args()
    precisions = [p.strip() for p in args.precision.split(",") if p.strip()]
    bad = sorted(set(precisions) - {"fp32", "int8"})
    if bad:
        ap.error(f"unknown CPU precisions {bad}; choose from fp32, int8")

    import torch

    torch.set_num_threads(args.threads)
    if args.child:
        result = CHILDREN[args.child](precisions[0], args.quick)
        print(json.dumps(result))
        return

    from bench.common import machine

    print(f"{machine()}; torch threads {args.threads}; load average {os.getloadavg()[0]:.2f}", flush=True)
    figures: dict[str, dict[str, Any]] = {}
    for precision in precisions:
        figures[precision] = {kind: run_child(kind, precision, args) for kind in ("decode", "reasons", "quality")}
    report(figures, args)


def report(figures: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    import numpy as np

    reference = figures.get("fp32", {}).get("decode")
    rows = [
        "| precision | decode tok/s | prefill s | greedy agrees with fp32 | ten reasons p50 s | verified | "
        "model-written | generator RSS MB (peak / after load) | pipeline peak RSS MB | held-out verified | "
        "model-written | same text as fp32 |",
        "|---|---:|---:|---:|---:|---|---|---|---:|---:|---:|---:|",
    ]
    for precision, f in figures.items():
        d, r, q = f["decode"], f["reasons"], f["quality"]["reasons"]
        agree = 1.0 if precision == "fp32" or reference is None else _agreement_in_child(precision, reference, args)
        same = (
            np.mean([a["text"] == b["text"] for a, b in zip(q, figures["fp32"]["quality"]["reasons"], strict=True)])
            if "fp32" in figures
            else float("nan")
        )
        rows.append(
            f"| {precision} | {d['tok_s']:.1f} | {d['prefill_s']:.2f} | {agree:.1%} | {np.median(r['ten_s']):.2f} | "
            f"{min(r['verified'])}-{max(r['verified'])} of 10 | {min(r['generated'])}-{max(r['generated'])} of 10 | "
            f"{d['rss_mb']:.0f} / {d['rss_now_mb']:.0f} | {r['rss_mb']:.0f} | "
            f"{np.mean([x['verified'] for x in q]):.1%} | {np.mean([not x['fallback'] for x in q]):.1%} | {same:.1%} |"
        )
        f["agreement"] = agree
    print("\n".join(rows))
    for precision, f in figures.items():
        print(f"{precision} decode text: {f['decode']['text'][:160]!r}")
        print(f"{precision} ten-reason runs: {f['reasons']['ten_s']} s at load {f['reasons']['load']}")
    if "int8" in figures:
        f = figures["int8"]
        tok_s, ten = f["decode"]["tok_s"], float(np.median(f["reasons"]["ten_s"]))
        ok_ten = ten <= TARGET_TEN_S and min(f["reasons"]["verified"]) == 10
        print(
            f"- int8 decode >= {TARGET_TOK_S:.0f} tok/s: {tok_s:.1f} ({'met' if tok_s >= TARGET_TOK_S else 'NOT met'})"
        )
        print(f"- ten verified reasons <= {TARGET_TEN_S:.0f} s: {ten:.2f} s ({'met' if ok_ten else 'NOT met'})")
        if "fp32" in figures:
            ref, mine = figures["fp32"]["quality"]["reasons"], f["quality"]["reasons"]
            a, b = np.mean([x["verified"] for x in ref]), np.mean([x["verified"] for x in mine])
            differ = sum(x["text"] != y["text"] for x, y in zip(ref, mine, strict=True))
            bound = 100 * differ / max(len(mine), 1)
            print(f"- held-out verified rate int8 vs fp32: {b:.1%} vs {a:.1%} ({100 * (b - a):+.1f} points)")
            # An identical text gets the same label from any reader, so only differing texts can move the rate.
            print(
                f"- acceptable rate int8 vs fp32 within {TARGET_POINTS:.0f} points: {differ} of {len(mine)} texts "
                f"differ, so the rates differ by at most {bound:.1f} points "
                f"({'met' if bound <= TARGET_POINTS else 'read the differing texts (--texts) to decide'})"
            )
    if args.texts:
        args.texts.write_text(json.dumps({p: f["quality"]["reasons"] for p, f in figures.items()}, indent=1))
        print(f"texts for reading: {args.texts}")


def _agreement_in_child(precision: str, reference: dict[str, Any], args: argparse.Namespace) -> float:
    """Teacher-forced agreement, in a process of its own so the decode child's peak RSS stays its own."""
    code = (
        "import json,sys,torch; sys.path.insert(0, sys.argv[1]); torch.set_num_threads(int(sys.argv[3])); "
        "from bench.generator_speed import agreement; "
        "print(agreement(sys.argv[2], json.loads(sys.stdin.read())))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(ROOT), precision, str(args.threads)],
        input=json.dumps(reference),
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
