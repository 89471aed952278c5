"""``python -m genre``: everything the explorer does, from the command line.

One module per command group, each adding its subcommands to the parser built here:
:mod:`~genre.cli.recommend`, :mod:`~genre.cli.components` (components, check-config),
:mod:`~genre.cli.models` (train, prepare, update, versions, rollback), :mod:`~genre.cli.evaluate`,
:mod:`~genre.cli.reasoner` (train-reasoner) and :mod:`~genre.cli.cache`.
"""

from __future__ import annotations

import argparse
import os
import sys

from genre.cli import access, batch, cache, components, evaluate, forget, models, reasoner, recommend, serve
from genre.core.errors import GenreError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m genre", description="GENRE: explained recommendations.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    recommend.add_recommend(sub)
    components.add_components(sub)
    components.add_check_config(sub)
    models.add_train(sub)
    evaluate.add_evaluate(sub)
    reasoner.add_train_reasoner(sub)
    models.add_prepare(sub)
    models.add_update(sub)
    models.add_versions(sub)
    models.add_rollback(sub)
    cache.add_cache(sub)
    access.add_hash_password(sub)
    batch.add_batch_explain(sub)
    forget.add_forget(sub)
    serve.add_serve(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _quiet_libraries()
    try:
        return args.handler(args)
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


__all__ = ["build_parser", "main"]
