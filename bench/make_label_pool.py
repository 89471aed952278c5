"""The pool of generated reasons a person labels (sample_data/reasons/labelled/), and its acceptable rates.

Usage (from the repository root; OMP_WAIT_POLICY=PASSIVE keeps OpenMP from spinning on shared cores):

    OMP_WAIT_POLICY=PASSIVE HF_HUB_OFFLINE=1 .venv/bin/python bench/make_label_pool.py            # (re)generate
    .venv/bin/python bench/make_label_pool.py --report                                            # rates

Generation runs each domain's shipped config (configs/movies.toml, products.toml, news.toml) through
``genre.pipeline.Pipeline`` with its ``[explain]`` swapped for one generator, top 5 per context:

- movies: about 40 MovieLens-100K user ids spread over 1..943 (the issue's users 1, 7, 100, 405 among them);
- products and news: the config's example profiles, then synthetic profiles (a seeded draw of catalog items,
  half of them from one category so a history has a theme, no free text).

Each context gets one generator, in the rotation local-llm, tuned-local, local-llm, tuned-local, template,
so the pool holds about 40% local-llm, 40% tuned-local and 20% template reasons over many contexts.
Generators run with their config defaults except ``attention = false``: that view only reads the model
again after writing and never changes a reason's text.

Labels are kept across regenerations: a record whose id and text are unchanged keeps its ``label``; a
changed text loses it (it must be read again), so when any label would be lost the new pool goes to
``<domain>.jsonl.new`` beside the old one unless ``--force`` is given. MovieLens records store ids and
generated text only; the
loader (:mod:`genre.data.labelled`) rebuilds their titles and genres from the installed recbole package.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from genre import load_config
from genre.components.reasoners.prompts import named_history
from genre.components.reasoners.template import requests_from_trace
from genre.config import PipelineConfig, StageSpec
from genre.core.types import Catalog, HistoryEvent, Item, ReasonRequest, UserContext
from genre.data import load_profiles
from genre.data.labelled import DEFAULT_DIR, DOMAINS, ERROR_TYPES, GENERATORS, Label, LabelledReason, load_labelled
from genre.data.profiles import profile_to_context
from genre.data.users import dataset_user_context
from genre.pipeline import Pipeline

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = {"movies": "movies.toml", "products": "products.toml", "news": "news.toml"}
ROTATION = ("local-llm", "tuned-local", "local-llm", "tuned-local", "template")
"""Generator per context, by the context's position in its domain (repeating)."""
AFTER_ROTATION = ("grounded", "tuned-local")
"""The ``after`` round: the grounded generator and the tuned-local that writes with slots, in turn."""
AFTER_CONTEXTS = 12
"""Contexts per domain in the ``after`` round: movies the issue's four users and eight more, products and
news the six example profiles and six synthetic ones."""
TOP_K = 5
MOVIE_USERS = 40
ISSUE_USERS = (1, 7, 100, 405)
"""Users the issue tried by hand; always in the pool."""
SYNTHETIC = {"products": 16, "news": 16}
SYNTHETIC_SEED = 12
EVIDENCE_PER_SCORER = 5
MAX_HISTORY_STORED = 200
"""The context encoder's own ``max_history`` for movies; longer histories were cut to it anyway."""


def movie_user_ids() -> list[str]:
    """About 40 ids spread evenly over 1..943, plus the issue's users."""
    ids: set[int] = set(ISSUE_USERS)
    points = MOVIE_USERS - len(ISSUE_USERS) + 1
    while len(ids) < MOVIE_USERS:
        ids = set(ISSUE_USERS) | {round(x) for x in np.linspace(1, 943, points)}
        points += 1
    return [str(u) for u in sorted(ids)]


def synthetic_contexts(catalog: Catalog, count: int) -> list[tuple[str, UserContext]]:
    """Seeded histories of 3-6 catalog items: half from one category (a theme), the rest from anywhere."""
    rng = np.random.default_rng(SYNTHETIC_SEED)
    by_category: dict[str, list[int]] = defaultdict(list)
    for n, item in enumerate(catalog.items):
        by_category[item.categories[0] if item.categories else ""].append(n)
    out = []
    for k in range(count):
        size = int(rng.integers(3, 7))
        theme = sorted(by_category)[int(rng.integers(len(by_category)))]
        themed = rng.choice(by_category[theme], size=min(len(by_category[theme]), (size + 1) // 2), replace=False)
        rest = [int(i) for i in rng.permutation(len(catalog)) if int(i) not in set(themed.tolist())]
        picks = [int(i) for i in themed] + rest[: size - len(themed)]
        order = rng.permutation(len(picks))
        history = [HistoryEvent(item_id=catalog.items[picks[int(i)]].item_id) for i in order]
        out.append((f"synthetic:{catalog.name}-{k + 1:02d}", UserContext(user_id=None, history=history)))
    return out


def contexts(domain: str, pipe: Pipeline, after: bool = False) -> list[tuple[str, UserContext]]:
    if domain == "movies":
        users = movie_user_ids()
        if after:
            others = [u for u in users if int(u) not in ISSUE_USERS]
            users = [str(u) for u in ISSUE_USERS] + others[1::4][: AFTER_CONTEXTS - len(ISSUE_USERS)]
        return [(f"user:{u}", dataset_user_context(pipe.catalog, u)) for u in users]
    profiles = [
        (f"profile:{pid}", profile_to_context(p, pipe.catalog)) for pid, p in load_profiles(pipe.config.data).items()
    ]
    out = profiles + synthetic_contexts(pipe.catalog, SYNTHETIC[domain])
    return out[: len(profiles)] + out[len(profiles) :][: AFTER_CONTEXTS - len(profiles)] if after else out


def with_explain(config: PipelineConfig, generator: str) -> PipelineConfig:
    spec = StageSpec(component=generator, config={"attention": False} if generator == "local-llm" else {})
    return config.model_copy(update={"explain": spec})


def item_fields(item: Item, describe: bool) -> dict[str, Any]:
    """Project-data evidence stored with a products or news reason (never used for MovieLens).

    Descriptions are long, so only the item's and the named history items' are kept: a reason may
    restate those, and no other description reaches a prompt or a template.
    """
    fields = {
        "title": item.title,
        "categories": list(item.categories),
        "tags": list(item.tags),
        "attributes": dict(item.attributes),
    }
    return fields | ({"description": item.description} if describe else {})


def record(
    domain: str,
    config: str,
    generator: str,
    user: str,
    rank: int,
    req: ReasonRequest,
    reason: Any,
    catalog: Catalog,
    after: bool = False,
) -> dict:
    """One pool line. For movies every catalog string is left out (titles live only in the reason text)."""
    movies = domain == "movies"
    history = [h.item_id for h in req.history][-MAX_HISTORY_STORED:]
    evidence = {
        name: [
            {"kind": e.kind, "item_id": e.item_id, "weight": round(float(e.weight), 6)}
            | ({} if movies and e.item_id is not None else {"label": e.label})
            for e in evs[:EVIDENCE_PER_SCORER]
        ]
        for name, evs in req.evidence.items()
    }
    out: dict[str, Any] = {
        "id": ("after:" if after else "") + f"{domain}:{user}:{generator}:{rank}",
        "domain": domain,
        "config": config,
        "generator": generator,
        "source": reason.generator,
        "user": user,
        "rank": rank,
        "item_id": req.item.item_id,
        "history_ids": history,
        "named_ids": [n.item_id for n in named_history(req, 3)],
        "mentioned_ids": list(reason.evidence_ids),
        "intent": [{"label": lbl.label, "probability": round(lbl.probability, 4)} for lbl in req.intent.labels],
        "contributions": {n: round(float(c), 6) for n, c in req.contributions.items()},
        "evidence": evidence,
        "cold_start": req.cold_start,
        "faithful": reason.faithful,
        "text": reason.text,
    }
    if after:
        out["round"] = "after"
    if not movies:
        # Collaborative evidence may cite seen items outside the encoder's history window: store them too.
        cited = [e.item_id for evs in req.evidence.values() for e in evs[:EVIDENCE_PER_SCORER] if e.item_id]
        described = {req.item.item_id, *out["named_ids"]}
        by_id = {it.item_id: it for it in catalog.items}
        out["items"] = {
            i: item_fields(by_id[i], i in described) for i in dict.fromkeys([req.item.item_id, *history, *cited])
        }
    return out


def generate(domain: str, after: bool = False, only: tuple[str, ...] = GENERATORS) -> list[dict]:
    config = load_config(ROOT / "configs" / CONFIGS[domain])
    base = Pipeline(with_explain(config, "template"))
    ctxs = contexts(domain, base, after)
    pipes = {"template": base}
    rows: list[dict] = []
    rotation = AFTER_ROTATION if after else ROTATION
    for generator in (g for g in GENERATORS if g in only):
        mine = [(key, ctx) for n, (key, ctx) in enumerate(ctxs) if rotation[n % len(rotation)] == generator]
        if generator not in pipes:
            pipes[generator] = Pipeline(with_explain(config, generator), reuse=base)
        pipe = pipes[generator]
        for key, ctx in mine:
            trace = pipe.run(ctx, k=TOP_K)
            requests = requests_from_trace(trace, pipe.catalog)
            for item, req in zip(trace.items, requests, strict=True):
                assert item.reason is not None
                rows.append(
                    record(domain, config.name, generator, key, item.rank, req, item.reason, pipe.catalog, after)
                )
            print(f"{domain} {generator} {key}: {trace.items[0].reason.text if trace.items else ''}", flush=True)  # type: ignore[union-attr]
    return rows


def pool_path(domain: str, after: bool = False) -> Path:
    return DEFAULT_DIR / (f"{domain}-after.jsonl" if after else f"{domain}.jsonl")


def keep_labels(rows: list[dict], path: Path) -> int:
    """Carry labels over from ``path`` to rows whose id and text are unchanged; how many were kept."""
    if not path.is_file():
        return 0
    old = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            old[rec["id"]] = rec
    kept = 0
    for row in rows:
        prev = old.get(row["id"])
        if prev is not None and prev.get("text") == row["text"] and "label" in prev:
            row["label"] = prev["label"]
            kept += 1
    return kept


def labelled_count(path: Path) -> int:
    """How many records of ``path`` carry a label (0 when it does not exist)."""
    if not path.is_file():
        return 0
    return sum("label" in json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def write(rows: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False, sort_keys=False) + "\n" for r in rows), encoding="utf-8")
    tmp.replace(path)


def label_of(reason: LabelledReason) -> Label:
    if reason.label is None:
        raise ValueError(f"reason {reason.id!r} has no label")
    return reason.label


def rate_table(reasons: list[LabelledReason], key: str) -> list[str]:
    groups: dict[str, list[LabelledReason]] = defaultdict(list)
    for r in reasons:
        groups[getattr(r, key)].append(r)
    lines = [f"| {key} | reasons | acceptable | rate |", "|---|---:|---:|---:|"]
    for name in sorted(groups):
        rs = groups[name]
        ok = sum(label_of(r).acceptable for r in rs)
        lines.append(f"| {name} | {len(rs)} | {ok} | {ok / len(rs):.1%} |")
    ok = sum(label_of(r).acceptable for r in reasons)
    lines.append(f"| all | {len(reasons)} | {ok} | {ok / max(len(reasons), 1):.1%} |")
    return lines


def report(split: str | None, round_: str = "before") -> str:
    """Acceptable rates per generator, per domain, per generator x domain, and error counts (markdown)."""
    reasons = [r for r in load_labelled() if (split is None or r.split == split) and r.round == round_]
    where = ("all labelled reasons" if split is None else f"the {split} split") + f" of the {round_} round"
    lines = [f"Acceptable rate on {where} ({len(reasons)} reasons):", ""]
    lines += [*rate_table(reasons, "generator"), "", *rate_table(reasons, "domain"), ""]
    lines += ["| generator | " + " | ".join(DOMAINS) + " |", "|---|" + "---:|" * len(DOMAINS)]
    for gen in GENERATORS:
        cells = []
        for dom in DOMAINS:
            rs = [r for r in reasons if r.generator == gen and r.domain == dom]
            ok = sum(label_of(r).acceptable for r in rs)
            cells.append(f"{ok}/{len(rs)} ({ok / len(rs):.0%})" if rs else "-")
        lines.append(f"| {gen} | " + " | ".join(cells) + " |")
    faithful = [r for r in reasons if r.faithful]
    ok_faithful = sum(label_of(r).acceptable for r in faithful)
    lines += [
        "",
        f"Marked faithful by the current checker: {len(faithful)} of {len(reasons)}; "
        f"of those, labelled acceptable: {ok_faithful} ({ok_faithful / max(len(faithful), 1):.1%}).",
        "",
        "| error | " + " | ".join(GENERATORS) + " | all |",
        "|---|" + "---:|" * (len(GENERATORS) + 1),
    ]
    counts = {gen: Counter(e for r in reasons if r.generator == gen for e in label_of(r).errors) for gen in GENERATORS}
    for err in ERROR_TYPES:
        total = sum(c[err] for c in counts.values())
        lines.append(f"| {err} | " + " | ".join(str(counts[g][err]) for g in GENERATORS) + f" | {total} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--report", action="store_true", help="print acceptable rates from the stored labels and exit")
    ap.add_argument("--split", choices=("dev", "heldout"), help="with --report: only this split")
    ap.add_argument("--domains", nargs="+", choices=DOMAINS, default=list(DOMAINS), help="domains to (re)generate")
    ap.add_argument("--force", action="store_true", help="overwrite a pool even when labelled reasons would be lost")
    ap.add_argument("--after", action="store_true", help="the after round: grounded and tuned-local (see AFTER_*)")
    ap.add_argument("--generators", nargs="+", choices=GENERATORS, default=list(GENERATORS),
                    help="only (re)generate these generators' reasons; the pool keeps the others' rows")  # fmt: skip
    args = ap.parse_args()
    if args.report:
        print(report(args.split, "after" if args.after else "before"))
        return
    for domain in args.domains:
        path = pool_path(domain, args.after)
        rows = generate(domain, args.after, tuple(args.generators))
        if path.is_file():
            # Rows of generators not asked for this time stay as they are (with their labels).
            kept_rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            rows = [r for r in kept_rows if r["generator"] not in args.generators] + rows
        had = labelled_count(path)
        kept = keep_labels(rows, path)
        if kept < had and not args.force:
            # Labels are an afternoon of reading: a changed text must never drop one silently.
            aside = path.with_suffix(".jsonl.new")
            write(rows, aside)
            print(
                f"{kept} of {had} labels would survive in {path.relative_to(ROOT)}; left it as is and wrote the new "
                f"pool to {aside.relative_to(ROOT)} (use --force to replace it)",
                flush=True,
            )
            continue
        write(rows, path)
        print(f"wrote {len(rows)} reasons to {path.relative_to(ROOT)} ({kept} kept their labels)", flush=True)


if __name__ == "__main__":
    main()
