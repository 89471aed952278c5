"""``train-reasoner``: LoRA-tune the generator for the ``tuned-local`` explain component."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from genre.cli._shared import Subparsers


def add_train_reasoner(sub: Subparsers) -> None:
    tr = sub.add_parser(
        "train-reasoner",
        help="LoRA-tune SmolLM2 to write slotted sentences from delexicalised reference and template reasons "
        "(for tuned-local)",
    )
    tr.add_argument("--config", required=True, type=Path, help="pipeline whose catalog supplies template reasons")
    tr.add_argument("--steps", type=int, help="optimizer steps of 8 examples (default 150, about 10 min on 2 cores)")
    tr.add_argument("--out", type=Path, help="adapter directory (default: <cache>/adapters/<config name>)")
    tr.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    tr.add_argument("--seed", type=int, help="seed for data order, user sample and torch (default 0)")
    tr.add_argument("--eval-pairs", type=int, help="held-out reference pairs scored for the card (default 40)")
    tr.add_argument(
        "--threads",
        type=int,
        help="torch CPU threads (default: torch's choice); on a machine shared with other jobs 1 is far faster, "
        "as waiting threads spin",
    )
    tr.set_defaults(handler=_train_reasoner)


def _train_reasoner(args: argparse.Namespace) -> int:
    from genre.config import load_config
    from genre.training.reasoner import settings_from, train_reasoner

    if args.threads is not None:
        if args.threads < 1:
            from genre.core.errors import InputError

            raise InputError(f"invalid threads: {args.threads} (at least 1)")
        import torch

        torch.set_num_threads(args.threads)
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
    for source, outcomes in sorted(data.get("survival", {}).items()):
        total = sum(outcomes.values())
        dropped = ", ".join(f"{n} {why}" for why, n in sorted(outcomes.items(), key=lambda kv: -kv[1]) if why != "kept")
        print(
            f"{source}: {outcomes.get('kept', 0)} of {total} pairs kept as slotted sentences"
            + (f" ({dropped})" if dropped else "")
        )
    losses = card["loss_curve"]
    if losses:
        print(f"loss: {losses[0][1]:.3f} at step {losses[0][0]} -> {losses[-1][1]:.3f} at step {losses[-1][0]}")
    held = card.get("held_out")
    if held:
        print(
            f"held-out reference pairs ({held['pairs']}): verified {held['passed']:.1%}, invented titles "
            f"{held['invented']:.1%}, wrong titles {held['wrong_title']:.1%}, "
            f"evidence coverage {held['evidence_coverage']:.1%}, "
            f"BLEU-4 {held['bleu4'] or 0:.3f}, ROUGE-L {held['rouge_l'] or 0:.3f}, distinct-2 {held['distinct_2']:.3f}"
        )
    print(f"adapter: {result.out} (use explain component tuned-local with adapter_path = {str(result.out)!r})")
    if data["movielens"]:
        print("note: trained on MovieLens-100K data; keep this adapter in the cache and never commit or share it")
    return 0
