"""Train/test splits of interactions: temporal (protocol T), random per user (protocol R), or read from CSV.

Both in-memory protocols first drop repeated (user, item) events, keeping each pair's earliest
event (ties broken by input order), so an item a user has in train can never be in that user's
test set and no test item is counted twice.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from genre.core.errors import DataError
from genre.core.types import Catalog, Interactions

_REQUIRED = ("user_id", "item_id", "timestamp")


@dataclass
class Split:
    """One train/test split of a catalog's interactions."""

    train: Interactions
    test: Interactions
    name: str

    def test_items_by_user(self) -> dict[str, np.ndarray]:
        """Each test user's distinct test item indices, oldest first (the ``relevant`` of the metrics)."""
        kept, codes = _dedup_order(self.test)
        users = np.unique(self.test.user_ids)
        bounds = np.searchsorted(codes, np.arange(users.size + 1))
        items = self.test.item_index[kept]
        return {str(u): items[bounds[i] : bounds[i + 1]] for i, u in enumerate(users)}

    def train_counts_by_user(self) -> dict[str, int]:
        """Number of train events per train user."""
        users, counts = np.unique(self.train.user_ids, return_counts=True)
        return {str(u): int(c) for u, c in zip(users, counts, strict=True)}

    def cold_test_users(self) -> list[str]:
        """Test users with no train events (sorted)."""
        cold = np.setdiff1d(self.test.users(), self.train.users())
        return [str(u) for u in cold]


def _check_fraction(test_fraction: float) -> None:
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be between 0 and 1 (exclusive), got {test_fraction}")


def _dedup_order(inter: Interactions) -> tuple[np.ndarray, np.ndarray]:
    """Positions of each user's first event per item, sorted by (user, timestamp, input order).

    Returns ``(positions, user_codes)`` where ``user_codes`` numbers the user of each position.
    """
    n = len(inter)
    _, user_code = np.unique(inter.user_ids, return_inverse=True)
    user_code = user_code.astype(np.int64)
    order = np.lexsort((np.arange(n), inter.timestamps, user_code))
    if n == 0:
        return order, user_code[order]
    low = int(inter.item_index.min())
    width = int(inter.item_index.max()) - low + 1
    pair = user_code[order] * width + (inter.item_index[order] - low)
    # np.unique reports each pair's first index in `order`, i.e. its earliest event.
    _, first = np.unique(pair, return_index=True)
    kept = order[np.sort(first)]
    return kept, user_code[kept]


def _group_ranks(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For codes sorted into runs: each element's rank within its run and its run's length."""
    n = codes.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    lengths = np.diff(np.r_[starts, n])
    run = np.repeat(np.arange(starts.size), lengths)
    return np.arange(n) - starts[run], lengths[run]


def _masks(n: int, train_pos: np.ndarray, test_pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    train = np.zeros(n, dtype=bool)
    test = np.zeros(n, dtype=bool)
    train[train_pos] = True
    test[test_pos] = True
    return train, test


def temporal_split(inter: Interactions, test_fraction: float = 0.2) -> Split:
    """Protocol T: each user's latest events are test.

    Per user with n >= 2 deduplicated events, the last ``max(1, round(test_fraction * n))``
    by timestamp (ties in input order) are test, capped at n - 1 so the user keeps a train
    event; users with a single event keep it in train. Events keep their input order.
    """
    _check_fraction(test_fraction)
    if not np.all(np.isfinite(inter.timestamps)):
        bad = int((~np.isfinite(inter.timestamps)).sum())
        raise DataError(f"a temporal split needs a timestamp on every event; {bad} events have none")
    kept, codes = _dedup_order(inter)
    rank, size = _group_ranks(codes)
    n_test = np.where(size >= 2, np.minimum(np.maximum(1, np.round(test_fraction * size)), size - 1), 0)
    is_test = rank >= size - n_test
    train, test = _masks(len(inter), kept[~is_test], kept[is_test])
    return Split(train=inter.subset(train), test=inter.subset(test), name="temporal")


def random_split(inter: Interactions, test_fraction: float = 0.25, seed: int = 42) -> Split:
    """Protocol R, like Microsoft Recommenders' ``python_stratified_split``: a random share per user.

    Each user's deduplicated events are shuffled with ``np.random.default_rng(seed)``; the first
    ``round((1 - test_fraction) * n)`` are train and the rest test. Deterministic for a seed and
    input; events keep their input order.
    """
    _check_fraction(test_fraction)
    kept, codes = _dedup_order(inter)
    # Sorting by (user, random key) shuffles every user's events at once.
    keys = np.random.default_rng(seed).random(kept.shape[0])
    shuffle = np.lexsort((np.asarray(keys), codes))
    kept, codes = kept[shuffle], codes[shuffle]
    rank, size = _group_ranks(codes)
    # np.round rounds halves to even, as Python's round() in the reference implementation does.
    is_test = rank >= np.round((1.0 - test_fraction) * size)
    train, test = _masks(len(inter), kept[~is_test], kept[is_test])
    return Split(train=inter.subset(train), test=inter.subset(test), name="random")


def parse_timestamp(raw: str) -> tuple[float, str] | None:
    """(epoch seconds, format name) from epoch seconds or an ISO-8601 datetime (naive ones are read as
    UTC); None if neither. The format name lets a reader insist on one format per file."""
    try:
        value = float(raw)
    except ValueError:
        pass
    else:
        return (value, "epoch seconds") if math.isfinite(value) else None
    try:
        dt = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp(), "ISO-8601"


@dataclass
class _Table:
    inter: Interactions
    lines: np.ndarray  # 1-based line number of each event, for messages


def _read_events(path: Path, catalog: Catalog) -> _Table:
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    users: list[str] = []
    items: list[int] = []
    stamps: list[float] = []
    ratings: list[float] = []
    lines: list[int] = []
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None or not any(h.strip() for h in header):
                raise DataError(f"{path}:1: empty file (expected a header {','.join(_REQUIRED)}[,rating])")
            columns = [h.strip() for h in header]
            missing = [c for c in _REQUIRED if c not in columns]
            if missing:
                raise DataError(
                    f"{path}:1: missing required column(s) {', '.join(missing)}; found {', '.join(columns)}"
                )
            col = {name: columns.index(name) for name in (*_REQUIRED, "rating") if name in columns}
            for row in reader:
                lineno = reader.line_num
                if not row or not any(v.strip() for v in row):
                    continue
                if len(row) != len(columns):
                    raise DataError(f"{path}:{lineno}: expected {len(columns)} fields, found {len(row)}")
                user = row[col["user_id"]].strip()
                if not user:
                    raise DataError(f"{path}:{lineno}: user_id is empty")
                item_id = row[col["item_id"]].strip()
                index = catalog.index_of(item_id)
                if index is None:
                    raise DataError(f"{path}:{lineno}: unknown item id {item_id!r} (not in catalog {catalog.name!r})")
                raw_ts = row[col["timestamp"]].strip()
                parsed = parse_timestamp(raw_ts)
                if parsed is None:
                    raise DataError(
                        f"{path}:{lineno}: timestamp {raw_ts!r} is not a number of epoch seconds "
                        "or an ISO-8601 datetime"
                    )
                stamp = parsed[0]
                rating = math.nan
                if "rating" in col:
                    raw_rating = row[col["rating"]].strip()
                    if raw_rating:
                        try:
                            rating = float(raw_rating)
                        except ValueError:
                            rating = math.nan
                        if not math.isfinite(rating):
                            raise DataError(f"{path}:{lineno}: rating {raw_rating!r} is not a number")
                users.append(user)
                items.append(index)
                stamps.append(stamp)
                ratings.append(rating)
                lines.append(lineno)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    except csv.Error as exc:
        raise DataError(f"{path}:{reader.line_num}: not valid CSV ({exc})") from exc
    if not users:
        raise DataError(f"{path}:2: empty file (a header but no events)")
    inter = Interactions(
        user_ids=np.array(users, dtype=str),
        item_index=np.array(items, dtype=np.int64),
        timestamps=np.array(stamps, dtype=np.float64),
        ratings=np.array(ratings, dtype=np.float64),
    )
    return _Table(inter=inter, lines=np.array(lines, dtype=np.int64))


def read_split_dir(directory: Path, catalog: Catalog) -> Split:
    """Read a fixed split from ``directory/train.csv`` and ``directory/test.csv``.

    Both files have the header columns ``user_id,item_id,timestamp`` and optionally ``rating``;
    ``item_id`` is the catalog's item id and ``timestamp`` is epoch seconds or an ISO-8601 datetime.
    Anything unreadable, and any (user, item) pair present in both files, raises :class:`DataError`
    naming the file and line. Test users missing from train are allowed (see ``cold_test_users``).
    """
    directory = Path(directory)
    train_path, test_path = directory / "train.csv", directory / "test.csv"
    train = _read_events(train_path, catalog)
    test = _read_events(test_path, catalog)
    train_lines: dict[tuple[str, int], int] = {}
    for user, item, line in zip(
        train.inter.user_ids.tolist(), train.inter.item_index.tolist(), train.lines.tolist(), strict=True
    ):
        train_lines.setdefault((user, item), line)
    for user, item, line in zip(
        test.inter.user_ids.tolist(), test.inter.item_index.tolist(), test.lines.tolist(), strict=True
    ):
        seen = train_lines.get((user, item))
        if seen is not None:
            item_id = catalog.items[item].item_id
            raise DataError(
                f"{test_path}:{line}: user {user!r} item {item_id!r} is also in train.csv (line {seen}); "
                "a test item must be new to the user"
            )
    return Split(train=train.inter, test=test.inter, name=directory.name)
