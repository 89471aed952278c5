"""``python -m genre``: everything the explorer does, from the command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
import time
from datetime import UTC
from pathlib import Path
from typing import Any

from genre.core.errors import GenreError, InputError

FORMATS = ("table", "json")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m genre", description="GENRE: explained recommendations.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    rec = sub.add_parser("recommend", help="rank and explain items for one user")
    rec.add_argument("--config", required=True, help="pipeline TOML file, e.g. configs/movies.toml")
    who = rec.add_mutually_exclusive_group()
    who.add_argument("--user", help="a dataset user id (MovieLens) or an example profile id from the config")
    who.add_argument("--history", help='items the user liked, oldest first: "Title one; Title two"')
    who.add_argument("--profile-file", type=Path, help="a profile as JSON (profiles format) or plain text")
    rec.add_argument("--profile", help="free-text profile: what the user wants now")
    rec.add_argument("--price-min", type=float, help="keep items priced at least this")
    rec.add_argument("--price-max", type=float, help="keep items priced at most this")
    rec.add_argument("--category", action="append", default=[], help="keep items in this category (repeatable)")
    rec.add_argument("--k", type=int, help="number of recommendations (default: the config's k)")
    rec.add_argument(
        "--reasoner",
        help="override the config's explain component: template, local-llm, tuned-local, hf-local, openai-compatible",
    )
    rec.add_argument("--format", choices=FORMATS, default="table")

    comp = sub.add_parser("components", help="list the built-in components of each stage and their options")
    comp.add_argument("--format", choices=FORMATS, default="table")

    chk = sub.add_parser("check-config", help="validate a pipeline TOML file")
    chk.add_argument("file", type=Path)

    train = sub.add_parser("train", help="train (or load from the cache) every component a config needs")
    train.add_argument("--config", required=True, type=Path)

    ev = sub.add_parser("evaluate", help="offline evaluation of every scorer and each config's fusion on one split")
    ev.add_argument("--config", required=True, action="append", type=Path, help="repeat to compare configs")
    ev.add_argument("--protocol", choices=("T", "R"), default="T", help="T: last 20%% by time; R: random 75/25")
    ev.add_argument("--split-dir", type=Path, help="evaluate on your own train.csv and test.csv instead")
    ev.add_argument("--users", type=int, help="evaluate a seeded sample of this many test users")
    ev.add_argument("--format", choices=FORMATS, default="table")
    ev.add_argument("--explanations", action="store_true", help="explanation metrics per generator instead")
    ev.add_argument(
        "--intent-accuracy",
        action="store_true",
        help="also measure the trained intent head (next item's category vs a majority baseline); "
        "automatic when a config's intent is trained-head",
    )
    ev.add_argument(
        "--generators", nargs="+", default=["template", "local-llm"], help="with --explanations: generators to compare"
    )

    tr = sub.add_parser(
        "train-reasoner",
        help="LoRA-tune SmolLM2 on reference reasons and the config's template reasons (for tuned-local)",
    )
    tr.add_argument("--config", required=True, type=Path, help="pipeline whose catalog supplies template reasons")
    tr.add_argument("--steps", type=int, help="optimizer steps of 8 examples (default 150, about 10 min on 2 cores)")
    tr.add_argument("--out", type=Path, help="adapter directory (default: <cache>/adapters/<config name>)")
    tr.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    tr.add_argument("--seed", type=int, help="seed for data order, user sample and torch (default 0)")
    tr.add_argument("--eval-pairs", type=int, help="held-out reference pairs scored for the card (default 40)")

    prep = sub.add_parser("prepare", help="convert the generator once and cache item embeddings")
    prep.add_argument("--config", action="append", default=[], type=Path, help="also cache this config's embeddings")
    prep.add_argument("--skip-generator", action="store_true", help="do not convert the generator")
    prep.add_argument("--skip-training", action="store_true", help="only cache embeddings, train nothing")

    upd = sub.add_parser("update", help="retrain the learned components with stored feedback (a new model version)")
    upd.add_argument("--config", required=True, type=Path)
    upd.add_argument("--store", help="feedback store URL (default: $GENRE_FEEDBACK_URL or the cache's SQLite file)")
    upd.add_argument("--epochs", type=int, default=3, help="epochs of warm-started training for BPR and SASRec")
    upd.add_argument("--force", action="store_true", help="retrain even when no feedback is new")

    ver = sub.add_parser("versions", help="list a config's model versions (made by update)")
    ver.add_argument("--config", required=True, type=Path)
    ver.add_argument("--format", choices=FORMATS, default="table")

    rb = sub.add_parser("rollback", help="make an earlier model version (or the base training) current")
    rb.add_argument("--config", required=True, type=Path)
    rb.add_argument("--to", required=True, metavar="VERSION", help="a version id from `versions`, or base")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _quiet_libraries()
    try:
        if args.command == "recommend":
            return _recommend(args)
        if args.command == "components":
            return _components(args)
        if args.command == "check-config":
            return _check_config(args)
        if args.command == "train":
            return _train(args)
        if args.command == "train-reasoner":
            return _train_reasoner(args)
        if args.command == "evaluate":
            return _evaluate(args)
        if args.command in ("update", "versions", "rollback"):
            return {"update": _update, "versions": _versions, "rollback": _rollback}[args.command](args)
        return _prepare(args)
    except GenreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _quiet_libraries() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import logging
    import warnings

    for name in ("transformers", "sentence_transformers", "huggingface_hub"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning)


def _recommend(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from genre.config import load_config
    from genre.core.types import Constraints, UserContext
    from genre.data import load_catalog, load_profiles
    from genre.data.profiles import (
        history_from_titles,
        interactions_to_context,
        profile_to_context,
        read_profile_file,
    )
    from genre.pipeline import Pipeline

    config = load_config(args.config)
    if args.reasoner is not None:
        from genre.config import parse_config

        data = config.model_dump(mode="json", exclude_none=True)
        data["explain"] = {"component": args.reasoner}
        config = parse_config(data, source=f"{args.config} with --reasoner {args.reasoner}")
    if args.k is not None and args.k <= 0:
        raise InputError(f"--k must be a positive number of items; got {args.k}")
    catalog = load_catalog(config.data)
    if args.k is not None and args.k > len(catalog):
        raise InputError(f"--k {args.k} is larger than the {catalog.name} catalog ({len(catalog)} items)")

    if args.user is not None:
        profiles = load_profiles(config.data)
        if args.user in profiles:
            ctx = profile_to_context(profiles[args.user], catalog)
        elif catalog.interactions is not None:
            try:
                ctx = interactions_to_context(catalog, args.user)
            except InputError as exc:
                if profiles:
                    raise InputError(f"{exc}; example profiles: {', '.join(profiles)}") from None
                raise
        else:
            known = ", ".join(profiles) or "none"
            raise InputError(f"unknown user {args.user!r}: {catalog.name} has no user data; example profiles: {known}")
    elif args.profile_file is not None:
        ctx = profile_to_context(read_profile_file(args.profile_file), catalog)
    elif args.history is not None:
        ctx = UserContext(history=history_from_titles(args.history.split(";"), catalog))
    else:
        ctx = UserContext()

    updates: dict[str, Any] = {}
    if args.profile is not None:
        updates["profile"] = args.profile.strip()
    if args.price_min is not None or args.price_max is not None or args.category:
        try:
            updates["constraints"] = Constraints(
                price_min=args.price_min if args.price_min is not None else ctx.constraints.price_min,
                price_max=args.price_max if args.price_max is not None else ctx.constraints.price_max,
                categories=args.category or ctx.constraints.categories,
            )
        except ValidationError as exc:
            raise InputError(f"invalid constraints: {exc.errors()[0]['msg']}") from None
    if updates:
        ctx = ctx.model_copy(update=updates)

    trace = Pipeline(config).run(ctx, k=args.k)
    if args.format == "json":
        print(trace.to_json())
    else:
        print(format_trace(trace))
    return 0


def format_trace(trace: Any) -> str:
    """A RunTrace as a readable table: rank, score, per-scorer contributions, title, reason."""
    lines = [f"GENRE · {trace.config_name} · device {trace.device} · run {trace.run_id}"]
    if trace.intent.labels:
        labels = ", ".join(f"{lab.label} ({lab.probability:.0%})" for lab in trace.intent.labels)
        lines.append(f"intent: {labels}")
    lines.extend(f"note: {n}" for n in trace.notices)
    scorers = trace.scorers
    head = f"{'#':>3}  {'score':>6}  " + "  ".join(f"{s[:10]:>10}" for s in scorers) + "  title"
    lines += ["", head, "-" * min(len(head) + 40, 110)]
    for item in trace.items:
        parts = "  ".join(f"{item.contributions.get(s, 0.0):>10.3f}" for s in scorers)
        lines.append(f"{item.rank:>3}  {item.score:>6.3f}  {parts}  {item.title}")
        if item.reason is not None:
            wrapped = textwrap.wrap(item.reason.text, width=100)
            lines += [" " * 13 + w for w in wrapped]
    total = sum(t.ms for t in trace.timings)
    stages = ", ".join(f"{t.stage}/{t.component} {t.ms:.0f} ms" for t in trace.timings)
    lines += ["", f"timings ({total:.0f} ms): {stages}"]
    return "\n".join(lines)


def _components(args: argparse.Namespace) -> int:
    from genre.registry import describe

    info = describe()
    if args.format == "json":
        print(json.dumps(info, indent=2, default=str))
        return 0
    for stage, rows in info.items():
        print(f"[{stage}]")
        for row in rows:
            print(f"  {row['name']:<12} {row['summary']}")
            for opt in row["options"]:  # type: ignore[union-attr]
                default = "required" if opt["required"] else f"default {opt['default']!r}"
                print(f"      {opt['name']} ({opt['type']}, {default})  {opt['doc']}")
        print()
    return 0


def _check_config(args: argparse.Namespace) -> int:
    from genre.config import load_config

    cfg = load_config(args.file)
    print(f"ok: {args.file} is a valid pipeline {cfg.name!r} with scorers {', '.join(cfg.scorers)}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from genre.config import load_config
    from genre.pipeline import Pipeline

    started = time.perf_counter()
    pipe = Pipeline(load_config(args.config), progress=True)
    for t in pipe.prepare_timings:
        print(f"{t.stage}/{t.component}: {t.ms / 1000:.1f} s")
    weights = getattr(pipe.fusion, "weights", None)
    if weights:
        print("learned fusion weights: " + ", ".join(f"{k}={v:.3f}" for k, v in weights.items()))
    print(f"trained {pipe.config.name} in {time.perf_counter() - started:.1f} s (state cached for later runs)")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from genre.config import load_config
    from genre.evaluation.harness import evaluate
    from genre.evaluation.intent_accuracy import IntentAccuracy

    if args.users is not None and args.users <= 0:
        raise InputError(f"--users must be a positive number; got {args.users}")
    configs = [load_config(p) for p in args.config]
    if args.explanations:
        import dataclasses

        from genre.evaluation.explanations import evaluate_explanations

        for cfg in configs:
            report = evaluate_explanations(cfg, args.generators, users=args.users or 20)
            if args.format == "json":
                print(json.dumps(dataclasses.asdict(report), indent=2))
            else:
                print(f"{cfg.name} · explanations for the top-{report.k} of {report.users} users")
                print(report.to_markdown())
        return 0

    def progress(message: str, fraction: float) -> None:
        print(f"[{fraction:4.0%}] {message}", file=sys.stderr)

    report = evaluate(
        configs,
        args.protocol,
        args.split_dir,
        args.users,
        progress=progress,
        train_progress=True,
        intent_head=args.intent_accuracy,
    )
    if args.format == "json":
        print(report.to_json())
        return 0
    print(
        f"{report.dataset} · protocol {report.protocol} · {report.users} test users ({report.cold_users} cold) · "
        f"{report.train_interactions:,} train / {report.test_interactions:,} test interactions · {report.seconds:.0f} s"
    )
    print(report.to_markdown())
    for acc in report.extras.get("intent_accuracy", []):
        print(f"{acc['config']}: {IntentAccuracy(**acc).summary()}")
    return 0


def _train_reasoner(args: argparse.Namespace) -> int:
    from genre.config import load_config
    from genre.training.reasoner import settings_from, train_reasoner

    settings = settings_from(steps=args.steps, seed=args.seed, eval_pairs=args.eval_pairs)
    config = load_config(args.config)
    try:
        result = train_reasoner(config, settings, out=args.out, resume=args.resume, progress=True)
    except KeyboardInterrupt:
        print("interrupted: a checkpoint was saved; rerun with --resume to continue", file=sys.stderr)
        return 130
    card = result.card
    for note in result.notes:
        print(f"note: {note}")
    data = card["data"]
    print(
        f"trained {card['steps']} steps ({card['epochs']} epochs over {data['examples']} examples: "
        + ", ".join(f"{n} {s}" for s, n in sorted(data["sources"].items()))
        + f") in {card['train_seconds']:.0f} s on {card['device']}; total {card['total_seconds']:.0f} s"
    )
    losses = card["loss_curve"]
    if losses:
        print(f"loss: {losses[0][1]:.3f} at step {losses[0][0]} -> {losses[-1][1]:.3f} at step {losses[-1][0]}")
    held = card.get("held_out")
    if held:
        print(
            f"held-out reference pairs ({held['pairs']}): faithful {held['faithful']:.1%}, hallucinated titles "
            f"{held['hallucinated']:.1%}, evidence coverage {held['evidence_coverage']:.1%}, "
            f"BLEU-4 {held['bleu4'] or 0:.3f}, ROUGE-L {held['rouge_l'] or 0:.3f}, distinct-2 {held['distinct_2']:.3f}"
        )
    print(f"adapter: {result.out} (use explain component tuned-local with adapter_path = {str(result.out)!r})")
    if data["movielens"]:
        print("note: trained on MovieLens-100K data; keep this adapter in the cache and never commit or share it")
    return 0


def _prepare(args: argparse.Namespace) -> int:
    from genre.config import load_config
    from genre.data import item_embeddings, load_catalog
    from genre.models import generator_cache_path, generator_is_prepared, load_embedder, prepare_generator
    from genre.pipeline import Pipeline

    if not args.skip_generator:
        if generator_is_prepared():
            print(f"generator: already prepared at {generator_cache_path()}")
        else:
            print(f"generator: prepared at {prepare_generator()}")
    for path in args.config:
        cfg = load_config(path)
        catalog = load_catalog(cfg.data)
        vectors = item_embeddings(catalog, load_embedder(cfg.device), progress=True)
        print(f"embeddings: {catalog.name} {vectors.shape[0]} items x {vectors.shape[1]} dims cached")
        if not args.skip_training:
            started = time.perf_counter()
            Pipeline(cfg, progress=True)
            print(f"trained: {cfg.name} ready in {time.perf_counter() - started:.1f} s (cached)")
    return 0


def _update(args: argparse.Namespace) -> int:
    from genre.config import load_config
    from genre.feedback.store import FeedbackStore
    from genre.training.feedback_update import update_models

    config = load_config(args.config)
    with FeedbackStore(args.store) as store:
        version = update_models(
            config, store, epochs=args.epochs, force=args.force, progress=True, log=lambda m: print(m, flush=True)
        )
    if version is None:
        return 0
    print(f"{config.name}: model version {version.version_id} is current ({version.seconds:.1f} s)")
    for where, path in version.artifacts.items():
        print(f"  {where}: {path}")
    return 0


def _versions(args: argparse.Namespace) -> int:
    from genre.config import load_config
    from genre.feedback.versions import VersionRegistry

    config = load_config(args.config)
    registry = VersionRegistry(config.name)
    versions, current = registry.list(), registry.current_id()
    if args.format == "json":
        rows = [{**v.model_dump(mode="json"), "current": v.version_id == current} for v in versions]
        print(json.dumps({"config": config.name, "current": current or "base", "versions": rows}, indent=2))
        return 0
    print(f"{config.name}: current model version {current or 'base (no update applied)'}")
    if not versions:
        print("no model versions yet: `python -m genre update --config FILE` makes one from stored feedback")
        return 0
    head = ("version", "created (UTC)", "parent", "events", "pos", "neg", "users")
    print("  {:<9} {:<16} {:<7} {:>6} {:>5} {:>5} {:>5}  data".format(*head))
    for v in versions:
        mark = "*" if v.version_id == current else " "
        print(
            f"{mark} {v.version_id:<9} {v.created_at.astimezone(UTC):%Y-%m-%d %H:%M} {v.parent or 'base':<7} "
            f"{v.feedback_events:>6} {v.positives:>5} {v.negatives:>5} {v.users:>5}  {v.data_hash}"
        )
    return 0


def _rollback(args: argparse.Namespace) -> int:
    from genre.config import load_config
    from genre.feedback.versions import VersionRegistry

    config = load_config(args.config)
    version = VersionRegistry(config.name).set_current(args.to)
    target = "the base training" if version is None else f"model version {version.version_id}"
    print(f"{config.name}: {target} is current; the next pipeline built for this config loads it")
    return 0
