"""``cache list`` and ``cache clear``: what the artifact store holds, and removing it.

The store is ``<cache>/artifacts`` (``$GENRE_CACHE_DIR`` or ``~/.cache/genre``): trained state and item
embeddings. A model version's own state (``<cache>/versions``) is not listed here: ``versions`` and
``rollback`` manage it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING

from genre.cli._shared import FORMATS
from genre.core.errors import InputError

if TYPE_CHECKING:
    from genre.cli._shared import Subparsers
    from genre.core.artifacts import ArtifactInfo, ArtifactStore

KNOWN_COMPONENTS = (
    "bpr",
    "ease",
    "embeddings",
    "itemknn",
    "learned-fusion",
    "ltr-fusion",
    "pda",
    "sasrec",
    "sasrec-crossmodal",
    "sasrec-multitask",
    "trained-head",
)
"""What the built-in components save under (``cache clear --component`` accepts these and any name listed)."""


def add_cache(sub: Subparsers) -> None:
    cache = sub.add_parser("cache", help="list or clear saved trained state and embeddings")
    actions = cache.add_subparsers(dest="cache_command", required=True, metavar="ACTION")
    ls = actions.add_parser("list", help="every artifact: component, version, status, size, age, key")
    ls.add_argument("--component", help="only this component's artifacts (e.g. bpr, sasrec, embeddings)")
    ls.add_argument("--format", choices=FORMATS, default="table")
    ls.set_defaults(handler=_list)
    clear = actions.add_parser("clear", help="delete artifacts: all, one component's, or old ones")
    clear.add_argument("--all", action="store_true", help="every artifact")
    clear.add_argument("--component", help="this component's artifacts (e.g. bpr, sasrec, embeddings)")
    clear.add_argument("--older-than", type=float, metavar="DAYS", help="artifacts made more than DAYS days ago")
    clear.add_argument("--yes", action="store_true", help="delete without asking (for scripts)")
    clear.set_defaults(handler=_clear)


def _store() -> ArtifactStore:
    from genre.core.artifacts import ArtifactStore

    return ArtifactStore()


def _matching(entries: list[ArtifactInfo], component: str | None) -> list[ArtifactInfo]:
    if component is None:
        return entries
    found = sorted({e.component for e in entries})
    if component not in found and component not in KNOWN_COMPONENTS:
        choices = ", ".join(sorted({*KNOWN_COMPONENTS, *found}))
        raise InputError(f"unknown component {component!r}; components that save state: {choices}")
    return [e for e in entries if e.component == component]


def _list(args: argparse.Namespace) -> int:
    store = _store()
    entries = _matching(store.entries(), args.component)
    now = time.time()
    if args.format == "json":
        rows = [
            {
                "component": e.component,
                "version": e.version,
                "key": e.key,
                "path": str(e.folder),
                "bytes": e.size,
                "age_days": round(e.age_days(now), 3),
                "status": e.status,
                "reason": e.reason,
            }
            for e in entries
        ]
        print(json.dumps({"root": str(store.root), "artifacts": rows}, indent=2))
        return 0
    bad = sum(e.status != "valid" for e in entries)
    which = f" of {args.component}" if args.component else ""
    noun = "artifact" if len(entries) == 1 else "artifacts"
    summary = f"{len(entries)} {noun}{which}, {_size(sum(e.size for e in entries))}"
    print(f"{store.root}: {summary}" + (f", {bad} not usable (retrained on next use)" if bad else ""))
    if not entries:
        return 0
    print(f"  {'component':<16} {'ver':>4}  {'status':<10} {'size':>9} {'age':>8}  key")
    for e in entries:
        version = f"v{e.version}" if e.version is not None else "-"
        age = _age(e.age_days(now))
        print(f"  {e.component:<16} {version:>4}  {e.status:<10} {_size(e.size):>9} {age:>8}  {e.key}")
        if e.reason:
            print(f"  {'':<16} {'':>4}  {e.reason}")
    return 0


def _clear(args: argparse.Namespace) -> int:
    if args.all and (args.component is not None or args.older_than is not None):
        raise InputError("--all deletes every artifact; leave out --component and --older-than, or drop --all")
    if not (args.all or args.component is not None or args.older_than is not None):
        raise InputError("say what to clear: --all, --component NAME, or --older-than DAYS (they combine)")
    if args.older_than is not None and args.older_than < 0:
        raise InputError(f"--older-than must be a number of days >= 0; got {args.older_than:g}")
    store = _store()
    entries = _matching(store.entries(), args.component)
    if args.older_than is not None:
        now = time.time()
        entries = [e for e in entries if e.age_days(now) > args.older_than]
    if not entries:
        print(f"nothing to clear: no {_describe(args, 2)} in {store.root}")
        return 0
    what = f"{len(entries)} {_describe(args, len(entries))} ({_size(sum(e.size for e in entries))})"
    if not args.yes:
        if not sys.stdin.isatty():
            raise InputError(f"would delete {what}; pass --yes to delete without asking")
        answer = input(f"Delete {what} from {store.root}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing deleted")
            return 1
    for e in entries:
        store.remove(e)
    print(f"deleted {what} from {store.root}; they are retrained or recomputed when next used")
    return 0


def _describe(args: argparse.Namespace, count: int) -> str:
    what = "artifact" if count == 1 else "artifacts"
    if args.component:
        what += f" of {args.component}"
    if args.older_than is not None:
        what += f" older than {args.older_than:g} days"
    return what


def _size(n: float) -> str:
    if n < 1024:
        return f"{n:.0f} B"
    for unit in ("KB", "MB"):
        n /= 1024
        if n < 1024:
            return f"{n:.1f} {unit}"
    return f"{n / 1024:.1f} GB"


def _age(days: float) -> str:
    seconds = days * 86400
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if days < 2:
        return f"{seconds / 3600:.1f} h"
    return f"{days:.1f} d"
