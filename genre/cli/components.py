"""``components`` and ``check-config``: what a pipeline may name, and whether a file is a valid pipeline."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from genre.cli._shared import FORMATS

if TYPE_CHECKING:
    from genre.cli._shared import Subparsers


def add_components(sub: Subparsers) -> None:
    comp = sub.add_parser("components", help="list the built-in components of each stage and their options")
    comp.add_argument("--format", choices=FORMATS, default="table")
    comp.set_defaults(handler=_components)


def add_check_config(sub: Subparsers) -> None:
    chk = sub.add_parser("check-config", help="validate a pipeline TOML file")
    chk.add_argument("file", type=Path)
    chk.set_defaults(handler=_check_config)


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
            for opt in row["options"]:  # type: ignore[attr-defined]
                default = "required" if opt["required"] else f"default {opt['default']!r}"
                print(f"      {opt['name']} ({opt['type']}, {default})  {opt['doc']}")
        print()
    return 0


def _check_config(args: argparse.Namespace) -> int:
    from genre.config import load_config

    cfg = load_config(args.file)
    print(f"ok: {args.file} is a valid pipeline {cfg.name!r} with scorers {', '.join(cfg.scorers)}")
    return 0
