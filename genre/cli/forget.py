"""``forget``: erase a person from the feedback store and say how many rows went, per table.

    python -m genre forget --user ID [--user ID ...] [--config FILE] [--store URL] [--format table|json]

``ID`` is the clear id the person's feedback was stored under (the store keeps only its
pseudonym) or a reviewer name. With ``--config`` the explorer's keys for that id in the config's
catalog go too (``<catalog>:<ID>`` for a dataset user, ``<catalog>:named:<ID>``,
``<catalog>:reviewer:<ID>``, ...: :func:`genre.data.users.feedback_key`).

An id the store never saw is not an error: the command says so and exits 0 with every count 0,
so an erasure request can be repeated safely. An empty id or an unusable store exits 2.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from genre.cli._shared import FORMATS
from genre.core.errors import InputError

if TYPE_CHECKING:
    from genre.cli._shared import Subparsers


def add_forget(sub: Subparsers) -> None:
    fg = sub.add_parser(
        "forget", help="erase a user's events, reviews, runs and saved profiles from the feedback store"
    )
    fg.add_argument(
        "--user", action="append", required=True, metavar="ID", help="clear user id or reviewer name (repeatable)"
    )
    fg.add_argument("--config", type=Path, help="also erase the explorer's keys for ID in this config's catalog")
    fg.add_argument("--store", help="feedback store URL (default: $GENRE_FEEDBACK_URL or the cache's SQLite file)")
    fg.add_argument("--format", choices=FORMATS, default="table")
    fg.set_defaults(handler=_forget)


def user_keys(ident: str, catalog: str | None) -> list[str]:
    """``ident`` and, with a catalog name, every explorer key :func:`feedback_key` makes of it there."""
    from genre.data.users import FeedbackKind, feedback_key

    if not ident.strip():
        raise InputError("--user is empty: give the id the feedback was stored under")
    keys = [ident]
    if catalog is not None:
        kinds: tuple[FeedbackKind, ...] = ("dataset", "profile", "named", "session", "reviewer")
        for kind in kinds:
            try:
                key = feedback_key(kind, catalog, ident)
            except InputError:
                continue  # e.g. an id longer than a profile name may be: no such key can exist
            if key not in keys:
                keys.append(key)
    return keys


def _forget(args: argparse.Namespace) -> int:
    from genre.feedback.store import FeedbackStore

    catalog = None
    if args.config is not None:
        from genre.config import load_config
        from genre.data import load_catalog

        config = load_config(args.config)
        catalog = config.data.name or load_catalog(config.data).name
    keys = [k for ident in args.user for k in user_keys(ident, catalog)]
    with FeedbackStore(args.store) as store:
        counts = store.forget_user(keys)
        where = store.where
    total = sum(counts.values())
    if args.format == "json":
        print(json.dumps({"store": where, "keys": keys, "deleted": counts, "total": total}, indent=2))
        return 0
    if total == 0:
        print(f"nothing stored for {', '.join(map(repr, keys))} in {where}; nothing deleted")
    else:
        print(f"forgot {', '.join(map(repr, keys))} in {where}: {total} rows deleted")
    for table, n in counts.items():
        print(f"  {table:<11} {n:>6}")
    return 0
