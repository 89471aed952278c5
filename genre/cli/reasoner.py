"""``train-reasoner``: LoRA-tune the generator for the ``tuned-local`` explain component."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from genre.cli._shared import Subparsers
    from genre.config import PipelineConfig
    from genre.training.lora import TuneSettings
    from genre.training.reasoner import TrainResult

DPO_MIN_PAIRS = 200
"""Mirrors genre.training.review_data.DPO_MIN_PAIRS (not imported: building the parser loads no torch)."""


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
    rv = tr.add_argument_group(
        "training from reviews",
        "--from-reviews adds the reasons reviewers accepted on the Review page: reasons rated 4+ and marked "
        "faithful, and the winners of blind side-by-side judgements that were marked faithful (ties are "
        "skipped). They are delexicalised and checked like the reference reasons, and never include a "
        "held-out labelled request, which instead score the adapter before and after. Each faithful win is also "
        f"a preference pair; a DPO step would need {DPO_MIN_PAIRS}+ of them and the trl package, and is not run.",
    )
    rv.add_argument("--from-reviews", action="store_true", help="add reviewed reasons from the feedback store")
    rv.add_argument("--store", help="feedback store URL (default: $GENRE_FEEDBACK_URL or the cache's SQLite file)")
    rv.add_argument(
        "--heldout-limit",
        type=int,
        default=12,
        help="held-out labelled requests the old and the new adapter write for (default 12; 0 skips)",
    )
    rv.add_argument(
        "--before",
        type=Path,
        help="adapter to compare the new one with (default: the one in --out, else tuned-local's default adapter)",
    )
    rv.add_argument(
        "--review-repeat", type=int, default=4, help="times each reviewed pair is used (default 4; they are few)"
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
    if not args.from_reviews and (args.store or args.before or args.heldout_limit != 12 or args.review_repeat != 4):
        from genre.core.errors import InputError

        raise InputError("--store, --before, --heldout-limit and --review-repeat go with --from-reviews")
    try:
        if args.from_reviews:
            return _from_reviews(args, config, settings)
        result = train_reasoner(config, settings, out=args.out, resume=args.resume, progress=True)
    except KeyboardInterrupt:
        print("interrupted: a checkpoint was saved; rerun with --resume to continue", file=sys.stderr)
        return 130
    _report(result)
    return 0


def _from_reviews(args: argparse.Namespace, config: PipelineConfig, settings: TuneSettings) -> int:
    from genre.core.errors import InputError
    from genre.feedback.store import FeedbackStore
    from genre.training.review_eval import train_from_reviews

    if args.heldout_limit < 0 or args.review_repeat < 1:
        raise InputError(
            f"invalid --heldout-limit {args.heldout_limit} or --review-repeat {args.review_repeat}: "
            "the limit is 0 or more, the repeat 1 or more"
        )
    with FeedbackStore(args.store) as store:
        run = train_from_reviews(
            config,
            store,
            settings,
            out=args.out,
            heldout_limit=args.heldout_limit,
            repeat=args.review_repeat,
            before=args.before,
            progress=True,
            resume=args.resume,
        )
    _report(run.result)
    for note in run.notes:
        print(f"reviews: {note}")
    print(f"reviews: each reviewed pair kept above is used {args.review_repeat} times")
    if run.before is not None and run.after is not None:
        print(f"held-out labelled requests ({run.after.reasons}), before and after:")
        print(f"  before: {run.before.line()}")
        print(f"  after:  {run.after.line()}")
    elif run.after is not None:
        print(f"held-out labelled requests: {run.after.line()}")
    return 0


def _report(result: TrainResult) -> None:
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
