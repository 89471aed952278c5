"""Strict reading of an uploaded history CSV: one row per item the user interacted with.

Columns (header required, case-insensitive): ``title`` or ``item_id`` (exactly one of them),
optional ``timestamp`` (ISO date/time or Unix seconds) and ``rating``. Every problem is
reported with its line number, all at once, so a person can fix the file in one pass; a file
the ``csv`` module cannot read at all (a field over its size limit, a stray quote) is refused
with the line and the problem. Line endings may be LF, CRLF or CR alone.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime

from genre.core.errors import InputError
from genre.core.types import Catalog, HistoryEvent
from genre.data.profiles import TitleIndex

__all__ = ["MAX_HISTORY_BYTES", "MAX_HISTORY_ROWS", "parse_history_csv"]

MAX_HISTORY_ROWS = 2000
MAX_HISTORY_BYTES = 1_000_000
_ALLOWED = {"title", "item_id", "timestamp", "rating"}
_MAX_REPORTED = 8


def _timestamp(value: str) -> datetime:
    text = value.strip()
    try:
        return datetime.fromtimestamp(float(text), tz=UTC)
    except ValueError:
        pass
    parsed = datetime.fromisoformat(text)  # ValueError names nothing useful; the caller words it
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) per record; InputError naming the line when the text is not readable CSV."""
    # Universal newlines: a file saved with CR-only line endings (old Mac tools) reads like any other.
    reader = csv.reader(io.StringIO(text, newline=None))
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line = reader.line_num
            if "field larger than field limit" in str(exc):
                problem = f"a field is longer than {csv.field_size_limit():,} characters"
            else:
                problem = f"not readable as CSV ({exc})"
            raise InputError(f"line {line}: {problem}") from None
        yield reader.line_num, row


def parse_history_csv(data: bytes | str, catalog: Catalog) -> list[HistoryEvent]:
    """History events in file order; InputError listing every bad line (up to 8) otherwise."""
    raw = data.encode() if isinstance(data, str) else data
    if len(raw) > MAX_HISTORY_BYTES:
        raise InputError(f"the history CSV is {len(raw):,} bytes; the limit is {MAX_HISTORY_BYTES:,}")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"the history CSV is not UTF-8 text (byte {exc.start} cannot be decoded)") from None
    if not text.strip():
        raise InputError("the history CSV is empty; expected a header line such as 'title,timestamp,rating'")
    rows = _rows(text)
    header = [h.strip().lower() for h in next(rows)[1]]
    unknown = [h for h in header if h not in _ALLOWED]
    if unknown:
        raise InputError(
            f"line 1: unknown column(s) {', '.join(map(repr, unknown))}; allowed columns: title or item_id, "
            "timestamp, rating"
        )
    if ("title" in header) == ("item_id" in header):
        raise InputError("line 1: the header needs exactly one of the columns 'title' or 'item_id'")
    if len(set(header)) != len(header):
        raise InputError("line 1: a column name appears twice")
    key = "title" if "title" in header else "item_id"
    index = TitleIndex(catalog)
    events: list[HistoryEvent] = []
    problems: list[str] = []
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        if len(events) >= MAX_HISTORY_ROWS:
            raise InputError(f"the history CSV has more than {MAX_HISTORY_ROWS:,} rows; keep the most recent ones")
        if len(row) != len(header):
            problems.append(f"line {line}: expected {len(header)} fields, found {len(row)}")
            continue
        cells = dict(zip(header, (c.strip() for c in row), strict=True))
        name = cells[key]
        if key == "title":
            found = index.find(name) if name else None
            if found is None:
                hint = f" (did you mean: {'; '.join(index.suggest(name))}?)" if name else ""
                problems.append(f"line {line}: no item titled {name!r} in {catalog.name}{hint}")
                continue
            item_id = catalog.items[found].item_id
        else:
            if catalog.index_of(name) is None:
                problems.append(f"line {line}: unknown item_id {name!r} in {catalog.name}")
                continue
            item_id = name
        stamp = None
        if cells.get("timestamp"):
            try:
                stamp = _timestamp(cells["timestamp"])
            except (ValueError, OverflowError, OSError):
                problems.append(
                    f"line {line}: timestamp {cells['timestamp']!r} is neither an ISO date nor Unix seconds"
                )
                continue
        rating = None
        if cells.get("rating"):
            try:
                rating = float(cells["rating"])
            except ValueError:
                problems.append(f"line {line}: rating {cells['rating']!r} is not a number")
                continue
            if not 0 <= rating <= 10:
                problems.append(f"line {line}: rating {rating:g} is outside 0..10")
                continue
        events.append(HistoryEvent(item_id=item_id, timestamp=stamp, rating=rating))
    if problems:
        more = f" (and {len(problems) - _MAX_REPORTED} more)" if len(problems) > _MAX_REPORTED else ""
        raise InputError("; ".join(problems[:_MAX_REPORTED]) + more)
    if not events:
        raise InputError("the history CSV has a header but no rows")
    return events
