"""``train``, ``prepare``, ``update``, ``versions``, ``rollback``: the trained state of a config and its versions."""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING

from genre.cli._shared import FORMATS, print_notices

if TYPE_CHECKING:
    from genre.cli._shared import Subparsers


def add_train(sub: Subparsers) -> None:
    train = sub.add_parser("train", help="train (or load from the cache) every component a config needs")
    train.add_argument("--config", required=True, type=Path)
    train.set_defaults(handler=_train)


def add_prepare(sub: Subparsers) -> None:
    prep = sub.add_parser("prepare", help="convert the generator once and cache item embeddings")
    prep.add_argument("--config", action="append", default=[], type=Path, help="also cache this config's embeddings")
    prep.add_argument("--skip-generator", action="store_true", help="do not convert the generator")
    prep.add_argument("--skip-training", action="store_true", help="only cache embeddings, train nothing")
    prep.set_defaults(handler=_prepare)


def add_update(sub: Subparsers) -> None:
    upd = sub.add_parser("update", help="retrain the learned components with stored feedback (a new model version)")
    upd.add_argument("--config", required=True, type=Path)
    upd.add_argument("--store", help="feedback store URL (default: $GENRE_FEEDBACK_URL or the cache's SQLite file)")
    upd.add_argument("--epochs", type=int, default=3, help="epochs of warm-started training for BPR and SASRec")
    upd.add_argument("--force", action="store_true", help="retrain even when no feedback is new")
    upd.set_defaults(handler=_update)


def add_versions(sub: Subparsers) -> None:
    ver = sub.add_parser("versions", help="list a config's model versions (made by update)")
    ver.add_argument("--config", required=True, type=Path)
    ver.add_argument("--format", choices=FORMATS, default="table")
    ver.set_defaults(handler=_versions)


def add_rollback(sub: Subparsers) -> None:
    rb = sub.add_parser("rollback", help="make an earlier model version (or the base training) current")
    rb.add_argument("--config", required=True, type=Path)
    rb.add_argument("--to", required=True, metavar="VERSION", help="a version id from `versions`, or base")
    rb.set_defaults(handler=_rollback)


def _train(args: argparse.Namespace) -> int:
    from genre.config import load_config
    from genre.pipeline import Pipeline

    started = time.perf_counter()
    pipe = Pipeline(load_config(args.config), progress=True)
    print_notices(pipe.env.notices)
    for t in pipe.prepare_timings:
        print(f"{t.stage}/{t.component}: {t.ms / 1000:.1f} s")
    weights = getattr(pipe.fusion, "weights", None)
    if weights:
        print("learned fusion weights: " + ", ".join(f"{k}={v:.3f}" for k, v in weights.items()))
    print(f"trained {pipe.config.name} in {time.perf_counter() - started:.1f} s (state cached for later runs)")
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
        notices: list[str] = []
        vectors = item_embeddings(catalog, load_embedder(cfg.device), progress=True, notices=notices)
        print_notices(notices)
        print(f"embeddings: {catalog.name} {vectors.shape[0]} items x {vectors.shape[1]} dims cached")
        if not args.skip_training:
            started = time.perf_counter()
            print_notices(Pipeline(cfg, progress=True).env.notices)
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
