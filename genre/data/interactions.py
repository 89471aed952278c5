"""Behaviour logs for catalogs that are not MovieLens: a CSV or Parquet file of events.

Columns: ``user_id,item_id,timestamp`` and optionally ``rating`` and ``event`` (``view``, ``click``,
``cart`` or ``purchase``). A timestamp is epoch seconds or an ISO-8601 datetime (naive ones read as UTC),
one format per file. How a log becomes :class:`~genre.core.types.Interactions`:

- **Strength.** A row's value is its ``rating`` when it has one, else its event's weight from
  ``[data] event_weights`` (1-5, the rating scale), else unrated (NaN). An event kind weighted 0 is dropped.
- **One interaction per (user, item).** A user's events on one item (a view, then a cart, then a
  purchase) collapse into one interaction at the *first* event's time, with the *strongest* value. The
  collaborative scorers read interactions as implicit positives; the value is what ``rating`` holds for
  everything that reads ratings (the context stage's ``min_rating``, histories shown in the explorer).
- **Duplicate rows** (the same user, item, time, event and rating twice) are dropped and counted in a notice.
- **Bad lines** (wrong field count, empty user, unknown item, unreadable or negative rating, unknown event,
  a timestamp that is unreadable or in another format than the file's first) are errors naming the file,
  line and reason, unless ``[data] max_bad_fraction`` tolerates them: then they are skipped and counted in
  a notice. A missing column is always an error.

The MIND and Amazon Reviews 2023 readers feed their rows through the same :class:`EventLog`.
"""

from __future__ import annotations

import csv
import importlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from genre.config.data import EVENT_KINDS, DataConfig, EventWeights
from genre.core.errors import DataError
from genre.core.types import Catalog, Interactions
from genre.data.splits import parse_timestamp

REQUIRED_COLUMNS = ("user_id", "item_id", "timestamp")
OPTIONAL_COLUMNS = ("rating", "event")
_SHOWN_BAD_LINES = 5


def nonblank_lines(path: Path, what: str) -> Iterator[tuple[int, str]]:
    """(1-based line number, line) for every non-blank line of a text file; ``what`` names the file in the
    error raised at once when it does not exist."""
    if not path.is_file():
        raise DataError(f"{what} {path} does not exist")
    return _nonblank(path)


def _nonblank(path: Path) -> Iterator[tuple[int, str]]:
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if line.strip():
                yield lineno, line


@dataclass
class EventLog:
    """Collects a log's events line by line, then checks, dedupes and collapses them (see the module doc)."""

    path: Path
    catalog: Catalog
    weights: EventWeights
    max_bad_fraction: float = 0.0
    unit: str = "line"
    """What a position in the file is called in messages ("line", or "row" for Parquet)."""
    lines: int = 0
    bad: list[tuple[int, str]] = field(default_factory=list)
    _users: list[str] = field(default_factory=list)
    _items: list[int] = field(default_factory=list)
    _stamps: list[float] = field(default_factory=list)
    _values: list[float] = field(default_factory=list)
    _seen_rows: dict[tuple[Any, ...], int] = field(default_factory=dict)
    _duplicates: list[tuple[int, int]] = field(default_factory=list)
    _dropped: dict[str, int] = field(default_factory=dict)
    _ts_format: tuple[str, int] | None = None

    @classmethod
    def for_config(cls, cfg: DataConfig, catalog: Catalog, what: str) -> EventLog:
        """An empty log for ``cfg.interactions``; ``what`` names the file in the error when it is missing."""
        assert cfg.interactions is not None
        path = cfg.resolve(cfg.interactions)
        if not path.is_file():
            raise DataError(f"{what} {path} does not exist")
        return cls(path, catalog, cfg.event_weights, cfg.max_bad_fraction)

    def text_lines(self) -> Iterator[tuple[int, str]]:
        """The file's non-blank lines with their 1-based numbers, each counted towards ``lines``."""
        for lineno, line in _nonblank(self.path):
            self.lines += 1
            yield lineno, line

    def reject(self, line: int, reason: str) -> None:
        self.bad.append((line, reason))

    def timestamp(self, line: int, raw: object) -> float | None:
        """Epoch seconds of a raw timestamp (None after rejecting the line); one format per file."""
        if isinstance(raw, datetime):
            dt = raw if raw.tzinfo is not None else raw.replace(tzinfo=UTC)
            parsed: tuple[float, str] | None = (dt.timestamp(), "datetime")
        elif isinstance(raw, int | float) and not isinstance(raw, bool):
            parsed = (float(raw), "epoch seconds") if math.isfinite(raw) else None
        else:
            parsed = parse_timestamp(str(raw).strip()) if raw is not None else None
        if parsed is None:
            self.reject(line, f"timestamp {raw!r} is not epoch seconds or an ISO-8601 datetime")
            return None
        stamp, fmt = parsed
        if self._ts_format is None:
            self._ts_format = (fmt, line)
        elif fmt != self._ts_format[0]:
            first_fmt, first_line = self._ts_format
            self.reject(
                line,
                f"timestamp {raw!r} is {fmt} but {self.unit} {first_line} uses {first_fmt}; "
                "use one timestamp format per file",
            )
            return None
        return stamp

    def add(
        self, line: int, user: str, item_id: str, stamp: float, rating: float = math.nan, event: str | None = None
    ) -> None:
        """One checked event; a bad value rejects the line instead."""
        if not user:
            self.reject(line, "user_id is empty")
            return
        index = self.catalog.index_of(item_id)
        if index is None:
            self.reject(line, f"unknown item id {item_id!r} (not in catalog {self.catalog.name!r})")
            return
        if not math.isnan(rating) and (not math.isfinite(rating) or rating < 0):
            self.reject(line, f"rating {rating:g} is negative or not finite; ratings must be 0 or more")
            return
        value = rating
        if event is not None:
            if event not in EVENT_KINDS:
                self.reject(line, f"unknown event {event!r}; events are {', '.join(EVENT_KINDS)}")
                return
            weight = self.weights.of(event)
            if weight == 0:
                self._dropped[event] = self._dropped.get(event, 0) + 1
                return
            if math.isnan(value):
                value = weight
        key = (user, index, stamp, event, None if math.isnan(rating) else rating)
        first = self._seen_rows.get(key)
        if first is not None:
            self._duplicates.append((line, first))
            return
        self._seen_rows[key] = line
        self._users.append(user)
        self._items.append(index)
        self._stamps.append(stamp)
        self._values.append(value)

    def finish(self) -> tuple[Interactions, list[str]]:
        """The collapsed interactions and the notices about what was skipped or merged."""
        notices: list[str] = []
        if self.bad:
            shown = "; ".join(f"{self.path}:{n}: {why}" for n, why in self.bad[:_SHOWN_BAD_LINES])
            more = f" (and {len(self.bad) - _SHOWN_BAD_LINES} more)" if len(self.bad) > _SHOWN_BAD_LINES else ""
            share = len(self.bad) / max(self.lines, 1)
            if share > self.max_bad_fraction:
                tolerance = (
                    "set [data] max_bad_fraction (0-0.2) to skip a share of bad lines"
                    if self.max_bad_fraction == 0
                    else f"that is {share:.1%} of {self.lines} {self.unit}s, over max_bad_fraction = "
                    f"{self.max_bad_fraction:g}"
                )
                raise DataError(f"{len(self.bad)} bad {self.unit}(s) in {self.path}: {shown}{more}; {tolerance}")
            notices.append(
                f"Skipped {len(self.bad)} of {self.lines} {self.unit}s of {self.path.name} ({share:.1%}, "
                f"within max_bad_fraction = {self.max_bad_fraction:g}): {shown}{more}"
            )
        if self._duplicates:
            line, first = self._duplicates[0]
            notices.append(
                f"Dropped {len(self._duplicates)} duplicate {self.unit}(s) of {self.path.name} "
                f"(first: {self.unit} {line} repeats {self.unit} {first})"
            )
        for event, n in sorted(self._dropped.items()):
            notices.append(f"Dropped {n} {event} event(s) of {self.path.name}: event_weights.{event} = 0")
        if not self._users:
            raise DataError(f"{self.path}: no usable events ({self.lines} {self.unit}s read)")
        return _collapse(self._users, self._items, self._stamps, self._values), notices


def _collapse(users: list[str], items: list[int], stamps: list[float], values: list[float]) -> Interactions:
    """One interaction per (user, item): the first event's time and the strongest value, ordered by time."""
    user_arr = np.array(users, dtype=str)
    item_arr = np.array(items, dtype=np.int64)
    stamp_arr = np.array(stamps, dtype=np.float64)
    value_arr = np.array(values, dtype=np.float64)
    _, user_code = np.unique(user_arr, return_inverse=True)
    pair = user_code.astype(np.int64) * (int(item_arr.max()) + 1) + item_arr
    order = np.lexsort((np.arange(pair.size), stamp_arr, pair))
    pair_sorted = pair[order]
    starts = np.flatnonzero(np.r_[True, pair_sorted[1:] != pair_sorted[:-1]])
    first = order[starts]
    # fmax ignores NaN: an unrated event never hides a rated one; all-unrated stays NaN.
    strongest = np.fmax.reduceat(value_arr[order], starts)
    keep = np.lexsort((np.arange(first.size), stamp_arr[first]))
    first, strongest = first[keep], strongest[keep]
    return Interactions(user_arr[first], item_arr[first], stamp_arr[first], strongest)


def _csv_rows(path: Path, log: EventLog) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None or not any(h.strip() for h in header):
                expected = ",".join(REQUIRED_COLUMNS) + "[,rating][,event]"
                raise DataError(f"{path}:1: empty file (expected a header {expected})")
            columns = _check_columns(path, [h.strip() for h in header])
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    log.lines += 1
                    log.reject(reader.line_num, f"not valid CSV ({exc})")
                    continue
                if not row or not any(v.strip() for v in row):
                    continue
                log.lines += 1
                if len(row) != len(columns):
                    log.reject(reader.line_num, f"expected {len(columns)} fields, found {len(row)}")
                    continue
                yield reader.line_num, {c: v.strip() for c, v in zip(columns, row, strict=True)}
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason})") from exc


def _check_columns(path: Path, columns: list[str]) -> list[str]:
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise DataError(f"{path}:1: missing required column(s) {', '.join(missing)}; found {', '.join(columns)}")
    unknown = [c for c in columns if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if unknown:
        raise DataError(
            f"{path}:1: unknown column(s) {', '.join(unknown)}; allowed: "
            f"{', '.join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)}"
        )
    if len(set(columns)) != len(columns):
        raise DataError(f"{path}:1: a column name appears twice ({', '.join(columns)})")
    return columns


def _parquet_rows(path: Path, log: EventLog) -> Iterator[tuple[int, dict[str, Any]]]:
    # Imported by name, only for Parquet logs: pyarrow ships no type information (its names are Any anyway).
    pq: Any = importlib.import_module("pyarrow.parquet")

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a damaged file
        raise DataError(f"{path}: not a readable Parquet file ({exc})") from exc
    _check_columns(path, list(table.column_names))
    for n, row in enumerate(table.to_pylist(), start=1):
        log.lines += 1
        yield n, row


def _rating(log: EventLog, line: int, raw: object) -> float | None:
    """The row's rating (NaN when empty); None after rejecting the line."""
    if raw is None or raw == "":
        return math.nan
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        log.reject(line, f"rating {raw!r} is not a number")
        return None
    if math.isnan(value):
        return math.nan
    return value


def _text(value: object) -> str:
    """An id cell as text: Parquet ids may be numbers (user 0 is a user, not an empty cell)."""
    return "" if value is None else str(value).strip()


def read_interactions(cfg: DataConfig, catalog: Catalog) -> tuple[Interactions, list[str]]:
    """A JSONL catalog's behaviour log (``[data] interactions``) and the notices about skipped lines."""
    assert cfg.interactions is not None
    path = cfg.resolve(cfg.interactions)
    if not path.is_file():
        raise DataError(f"interactions file {path} does not exist")
    parquet = path.suffix.lower() == ".parquet"
    log = EventLog(path, catalog, cfg.event_weights, cfg.max_bad_fraction, unit="row" if parquet else "line")
    rows = _parquet_rows(path, log) if parquet else _csv_rows(path, log)
    for line, row in rows:
        stamp = log.timestamp(line, row["timestamp"])
        if stamp is None:
            continue
        rating = _rating(log, line, row.get("rating"))
        if rating is None:
            continue
        event = row.get("event")
        event = str(event).strip().lower() if event not in (None, "") else None
        log.add(line, _text(row["user_id"]), _text(row["item_id"]), stamp, rating, event)
    return log.finish()
