"""``evaluate``: offline ranking metrics of every scorer and each config's fusion, or explanation metrics."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from genre.cli._shared import FORMATS
from genre.cli.batch import add_ray_arguments, ray_options
from genre.core.errors import InputError

if TYPE_CHECKING:
    from genre.cli._shared import Subparsers


def add_evaluate(sub: Subparsers) -> None:
    ev = sub.add_parser(
        "evaluate",
        help="offline evaluation of every scorer and each config's fusion on one split",
        description="Ranking metrics of every scorer and each config's fusion on one split, then popularity "
        "slices per row: NDCG@10 on head / torso / tail items (head: the most popular items holding 20%% of "
        "training interactions; tail: the least popular holding at most 20%%), IPS- and SNIPS-NDCG@10 beside "
        "naive NDCG@10 (propensity p_i = max((n_i / max n) ** 0.5, 0.01) from training counts n_i, so no "
        "weight exceeds 100; SNIPS divides by the mean inverse propensity of the test items), coverage@10 and "
        "the Gini index of exposure in the top-10 lists.",
    )
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
    add_ray_arguments(ev)
    ev.set_defaults(handler=_evaluate)


def _evaluate(args: argparse.Namespace) -> int:
    from genre.config import load_config
    from genre.data import simulated_label
    from genre.evaluation.harness import evaluate
    from genre.evaluation.intent_accuracy import IntentAccuracy

    if args.users is not None and args.users <= 0:
        raise InputError(f"--users must be a positive number; got {args.users}")
    ray = ray_options(args)
    if ray is not None and args.explanations:
        raise InputError("--ray shards the ranking evaluation; --explanations runs in one process, without --ray")
    configs = [load_config(p) for p in args.config]
    if args.explanations:
        import dataclasses

        from genre.evaluation.explanations import evaluate_explanations

        for cfg in configs:
            explained = evaluate_explanations(cfg, args.generators, users=args.users or 20)
            if args.format == "json":
                print(json.dumps(dataclasses.asdict(explained), indent=2))
            else:
                print(f"{cfg.name} · explanations for the top-{explained.k} of {explained.users} users")
                print(explained.to_markdown())
        return 0

    def progress(message: str, fraction: float) -> None:
        print(f"[{fraction:4.0%}] {message}", file=sys.stderr)

    if ray is None:
        report = evaluate(
            configs,
            args.protocol,
            args.split_dir,
            args.users,
            progress=progress,
            train_progress=True,
            intent_head=args.intent_accuracy,
        )
    else:
        from genre.evaluation.sharded import evaluate_sharded

        report = evaluate_sharded(
            configs,
            args.protocol,
            args.split_dir,
            args.users,
            ray=ray,
            progress=progress,
            train_progress=True,
            intent_head=args.intent_accuracy,
        )
    # Figures from a simulated log always travel with the label (on stderr beside JSON, so it stays parseable).
    simulated = simulated_label(configs[0].data)
    if args.format == "json":
        if simulated:
            print(simulated, file=sys.stderr)
        print(report.to_json())
        return 0
    if simulated:
        print(simulated)
    print(
        f"{report.dataset} · protocol {report.protocol} · {report.users} test users ({report.cold_users} cold) · "
        f"{report.train_interactions:,} train / {report.test_interactions:,} test interactions · {report.seconds:.0f} s"
    )
    print(report.to_markdown())
    prop = report.extras.get("propensity", {})
    print(
        f"\nPopularity slices (head/torso/tail by training popularity; IPS/SNIPS with p_i ∝ n_i^{prop.get('eta')}, "
        f"clipped at {prop.get('clip')}):"
    )
    print(report.slices_markdown())
    for acc in report.extras.get("intent_accuracy", []):
        print(f"{acc['config']}: {IntentAccuracy(**acc).summary()}")
    return 0
