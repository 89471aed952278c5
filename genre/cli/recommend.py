"""``recommend``: rank and explain items for one user, as a table or the full RunTrace as JSON."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genre.cli._shared import FORMATS
from genre.components.reasoners.styles import STYLE_HELP
from genre.core.errors import InputError

if TYPE_CHECKING:
    from genre.cli._shared import Subparsers
    from genre.config import PipelineConfig


def add_recommend(sub: Subparsers) -> None:
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
        help=(
            "override the config's explain component: template, grounded, tuned-local, local-llm, hf-local, "
            "openai-compatible"
        ),
    )
    rec.add_argument(
        "--style",
        help="reason style for the explain component: "
        + "; ".join(f"{name}: {text}" for name, text in STYLE_HELP.items()),
    )
    rec.add_argument(
        "--max-words", type=int, help="length bound of each reason in words (default: the style's own bound)"
    )
    rec.add_argument(
        "--generator-attention",
        action="store_true",
        help="also compute where the generator looked while writing each reason (one extra forward pass per item)",
    )
    rec.add_argument("--format", choices=FORMATS, default="table")
    rec.set_defaults(handler=_recommend)


def _recommend(args: argparse.Namespace) -> int:
    from genre.config import load_config, with_generator
    from genre.core.types import UserContext
    from genre.data import load_catalog, load_profiles
    from genre.data.users import built_profile_context, profile_file_context, user_or_profile_context, with_request
    from genre.pipeline import Pipeline

    config = load_config(args.config)
    if args.reasoner is not None:
        config = with_generator(config, args.reasoner, source=f"{args.config} with --reasoner {args.reasoner}")
    config = with_style_args(config, args)
    if args.k is not None and args.k <= 0:
        raise InputError(f"--k must be a positive number of items; got {args.k}")
    catalog = load_catalog(config.data)
    if args.k is not None and args.k > len(catalog):
        raise InputError(f"--k {args.k} is larger than the {catalog.name} catalog ({len(catalog)} items)")

    if args.user is not None:
        ctx = user_or_profile_context(catalog, load_profiles(config.data), args.user)
    elif args.profile_file is not None:
        ctx = profile_file_context(catalog, Path(args.profile_file))
    elif args.history is not None:
        ctx = built_profile_context(catalog, titles=args.history.split(";"))
    else:
        ctx = UserContext()
    ctx = with_request(
        ctx, profile=args.profile, price_min=args.price_min, price_max=args.price_max, categories=args.category or ()
    )

    trace = Pipeline(config).run(ctx, k=args.k, generator_attention=args.generator_attention)
    if args.format == "json":
        print(trace.to_json())
    else:
        print(format_trace(trace))
    return 0


def with_style_args(config: PipelineConfig, args: argparse.Namespace) -> PipelineConfig:
    """``config`` with ``--style`` / ``--max-words`` set on its explain component (unchanged when neither is given).

    The generator's other options are kept; a style it cannot write fails naming the ones it can.
    """
    from genre.components.reasoners.styles import styled_options
    from genre.config import with_generator

    if args.style is None and args.max_words is None:
        return config
    generator = config.explain.component
    options = styled_options(generator, config.explain.config, args.style, args.max_words)
    flags = " ".join(f"--{k} {v}" for k, v in (("style", args.style), ("max-words", args.max_words)) if v is not None)
    return with_generator(config, generator, source=f"{args.config} with {flags}", options=options)


def _wrapped(text: str, indent: int = 13) -> list[str]:
    # Line by line: a bullets reason keeps one "- " point per line.
    return [" " * indent + w for line in text.splitlines() for w in textwrap.wrap(line, width=100)]


def _verdict_line(reason: Any) -> str:
    """The reason's generator and verdict: verified, or rejected with each problem."""
    verdict = reason.verdict
    if verdict is None:
        return f"[{reason.generator}] not verified"
    if verdict.passed:
        return f"[{reason.generator}] verified"
    return f"[{reason.generator}] REJECTED: " + "; ".join(verdict.problems)


def format_trace(trace: Any) -> str:
    """A RunTrace as a readable table: rank, score, per-scorer contributions, title, reason and its verdict
    (a rejected reason lists its problems, with the template reason beside it)."""
    lines = [f"GENRE · {trace.config_name} · device {trace.device_label()} · run {trace.run_id}"]
    if trace.intent.labels:
        labels = ", ".join(f"{lab.label} ({lab.probability:.0%})" for lab in trace.intent.labels)
        lines.append(f"intent: {labels}")
    lines.extend(f"note: {n}" for n in trace.notices)
    # Every contribution gets a column, so each row's columns add up to its score: the scorers', then any
    # term a fusion or re-ranker adds (a learning-to-rank model's context features and base value).
    scorers = list(dict.fromkeys([*trace.scorers, *(n for item in trace.items for n in item.contributions)]))
    head = f"{'#':>3}  {'score':>6}  " + "  ".join(f"{s[:10]:>10}" for s in scorers) + "  title"
    lines += ["", head, "-" * min(len(head) + 40, 110)]
    for item in trace.items:
        parts = "  ".join(f"{item.contributions.get(s, 0.0):>10.3f}" for s in scorers)
        lines.append(f"{item.rank:>3}  {item.score:>6.3f}  {parts}  {item.title}")
        if item.reason is not None:
            lines += _wrapped(item.reason.text)
            lines += _wrapped(_verdict_line(item.reason), indent=15)
            template = item.template_reason
            if item.reason.faithful is False and template is not None and template.text != item.reason.text:
                lines += _wrapped(f"template reason: {template.text}", indent=15)
    total = sum(t.ms for t in trace.timings)
    stages = ", ".join(f"{t.stage}/{t.component} {t.ms:.0f} ms" for t in trace.timings)
    lines += ["", f"timings ({total:.0f} ms): {stages}"]
    return "\n".join(lines)
