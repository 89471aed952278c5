"""``batch-explain``: recommendations and reasons for a file of users, one JSON line each, optionally on Ray."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from genre.components.reasoners.styles import STYLE_HELP
from genre.core.errors import InputError

if TYPE_CHECKING:
    from genre.cli._shared import Subparsers
    from genre.pipeline.shards import RayOptions


def add_ray_arguments(parser: argparse.ArgumentParser) -> None:
    """``--ray [ADDRESS]`` and ``--shards N``, shared with ``evaluate``."""
    parser.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help="shard the users across Ray workers: a local Ray cluster on this machine without ADDRESS, "
        "else the running cluster at ADDRESS (e.g. ray://head:10001 or auto); results equal the single-process run",
    )
    parser.add_argument("--shards", type=int, help="with --ray: number of shards (default: one per CPU of the cluster)")


def ray_options(args: argparse.Namespace) -> RayOptions | None:
    """The job's Ray options from ``--ray``/``--shards``; None for the single-process run."""
    from genre.pipeline.shards import RayOptions

    if args.shards is not None and args.ray is None:
        raise InputError("--shards only applies with --ray")
    if args.shards is not None and args.shards <= 0:
        raise InputError(f"--shards must be a positive number; got {args.shards}")
    if args.ray is None:
        return None
    return RayOptions(address=args.ray or None, shards=args.shards)


def add_batch_explain(sub: Subparsers) -> None:
    p = sub.add_parser(
        "batch-explain",
        help="recommendations with reasons for a file of users, one JSON line per user",
        description="Rank and explain items for every user in --users (one id per line, or a JSON list) and "
        "write one JSON line per user to --out, in the file's order: the user, the config, and each item's "
        "rank, id, title, score, reason, generator and verifier verdict.",
    )
    p.add_argument("--config", required=True, type=Path, help="pipeline TOML file, e.g. configs/movies.toml")
    p.add_argument(
        "--users",
        required=True,
        type=Path,
        metavar="FILE",
        help="dataset user ids or the config's example profile ids: one per line (# comments), or a JSON list",
    )
    p.add_argument(
        "--out", required=True, type=Path, metavar="FILE.jsonl", help="the JSONL file to write (replaced when complete)"
    )
    p.add_argument("--k", type=int, help="items per user (default: the config's k)")
    p.add_argument("--style", help="reason style: " + "; ".join(f"{name}: {text}" for name, text in STYLE_HELP.items()))
    p.add_argument("--max-words", type=int, help="length bound of each reason in words")
    add_ray_arguments(p)
    p.set_defaults(handler=_batch_explain)


def _batch_explain(args: argparse.Namespace) -> int:
    from genre.cli.recommend import with_style_args
    from genre.config import load_config
    from genre.pipeline.batch import batch_explain, read_user_ids

    ray = ray_options(args)
    if args.k is not None and args.k <= 0:
        raise InputError(f"--k must be a positive number of items; got {args.k}")
    if args.out.is_dir():
        raise InputError(f"--out {args.out} is a folder; name the JSONL file to write")
    config = with_style_args(load_config(args.config), args)
    users = read_user_ids(args.users)
    result = batch_explain(config, users, args.out, args.k, ray=ray)
    where = f"on Ray in {result.shards} shards" if ray is not None else "in one process"
    print(f"wrote {result.users} users to {result.out} {where} in {result.seconds:.1f} s", file=sys.stderr)
    return 0
