"""Export and import of feedback events as CSV or JSON lines (to back up, move or merge stores).

Both formats carry :data:`EXPORT_FIELDS`; times are ISO 8601 in UTC, an empty CSV cell is None,
and floats are written with ``repr`` so a round trip is exact. Users are their pseudonyms (as
stored). Comments have e-mail addresses and phone numbers replaced by ``[email]``/``[phone]``
(``scrub=False`` keeps them, for a private backup), and a CSV text cell a spreadsheet would run as
a formula gets a leading ``'`` that import removes again (:mod:`~genre.feedback.store.hygiene`).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, TextIO

import sqlalchemy as sa
from pydantic import ValidationError

from genre.core.errors import FeedbackError, StoreUnavailableError
from genre.feedback.events import FeedbackEvent, check_event, event_slot
from genre.feedback.store.hygiene import neutralise_cell, restore_cell, scrub_optional
from genre.feedback.store.repositories import EventFilter, EventRepository, insert_events, row_event
from genre.feedback.store.schema import events

EXPORT_FIELDS: tuple[str, ...] = (
    "id", "user", "run_id", "item_id", "kind", "value", "comment", "generator", "config_name", "created_at",
)  # fmt: skip
NUMERIC_FIELDS: tuple[str, ...] = ("id", "value")
"""Export columns that hold numbers: never prefixed against formulas (``-1.5`` stays a number)."""
EXPORT_SUFFIXES: tuple[str, ...] = (".csv", ".jsonl", ".ndjson")
_ID_BATCH = 500
"""Ids per ``IN (...)`` lookup: stays under SQLite's bound-parameter limit."""


class EventTransfer(EventRepository):
    """The event repository plus export to files and import from them."""

    def export_csv(self, path: str | Path, filters: EventFilter | None = None, *, scrub: bool = True) -> int:
        """Write events (all, or those matching ``filters``) as CSV; returns the number written.

        Columns are :data:`EXPORT_FIELDS`; an empty cell is None; times are ISO 8601 in UTC; text
        cells are neutralised against formulas; comments are scrubbed unless ``scrub`` is False.
        """
        rows = self.events(filters)
        with open_out(Path(path)) as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(EXPORT_FIELDS)
            for e in rows:
                d = _export_dict(e, scrub)
                writer.writerow([csv_cell(d[k], numeric=k in NUMERIC_FIELDS) for k in EXPORT_FIELDS])
        return len(rows)

    def export_jsonl(self, path: str | Path, filters: EventFilter | None = None, *, scrub: bool = True) -> int:
        """Write events as JSON lines (one object per event, keys :data:`EXPORT_FIELDS`); comments scrubbed."""
        rows = self.events(filters)
        with open_out(Path(path)) as fh:
            for e in rows:
                fh.write(json.dumps(_export_dict(e, scrub), ensure_ascii=False) + "\n")
        return len(rows)

    def export_events(
        self,
        path: str | Path,
        fmt: Literal["csv", "jsonl"] = "jsonl",
        filters: EventFilter | None = None,
        *,
        scrub: bool = True,
    ) -> int:
        """:meth:`export_csv` or :meth:`export_jsonl` by name (the pages offer both)."""
        if fmt == "csv":
            return self.export_csv(path, filters, scrub=scrub)
        if fmt == "jsonl":
            return self.export_jsonl(path, filters, scrub=scrub)
        raise FeedbackError(f"unknown export format {fmt!r}; valid formats: csv, jsonl")

    def import_file(self, path: str | Path, *, keep_ids: bool = True) -> int:
        """Import a CSV or JSONL export in one transaction; returns the number of events stored.

        A latest-wins event (every kind but click) replaces the stored one in its slot when it is
        at least as recent, so merging the same export twice never doubles a like or a rating.

        With ``keep_ids`` (the default) each event keeps its id, so an export imported into an
        empty store exports again byte for byte; an event whose id is already stored with the same
        content is skipped (importing twice adds nothing) and one with different content is an
        error. ``keep_ids=False`` appends every event under a new id (to merge stores). Runs named
        by events but not recorded here are added without their shown items.
        """
        p = Path(path)
        # An export carries pseudonyms (kept as they are); an older one clear ids, stored as their pseudonyms.
        parsed = latest_per_slot([e.model_copy(update={"user": self.db.pseudonym(e.user)}) for e in read_export(p)])
        stored: list[FeedbackEvent] = []
        with self.db.write(f"importing {p}") as conn:
            todo = _not_yet_stored(conn, parsed, p) if keep_ids else parsed
            try:
                insert_events(conn, todo, None, stored, keep_ids=keep_ids, pseudonym=self.db.pseudonym, imported=True)
            except FeedbackError as exc:
                raise FeedbackError(f"{p}: {exc}") from None
            if keep_ids and conn.dialect.name == "postgresql" and stored:
                # Rows inserted with explicit ids leave the serial behind; the next add_event would collide.
                conn.execute(
                    sa.text("SELECT setval(pg_get_serial_sequence('events', 'id'), (SELECT max(id) FROM events))")
                )
        return len(stored)


def latest_per_slot(parsed: list[FeedbackEvent]) -> list[FeedbackEvent]:
    """``parsed`` with only the latest event of each slot (an export written before v3 may repeat one).

    Dropping the superseded ones before inserting keeps an import idempotent: otherwise the later
    event would overwrite the earlier one's row, and importing again would find that id changed.
    """
    latest: dict[str, int] = {}
    for n, e in enumerate(parsed):
        slot = event_slot(e)
        if slot is not None and (slot not in latest or parsed[latest[slot]].created_at <= e.created_at):
            latest[slot] = n
    keep = set(latest.values())
    return [e for n, e in enumerate(parsed) if event_slot(e) is None or n in keep]


def _not_yet_stored(conn: sa.Connection, parsed: list[FeedbackEvent], p: Path) -> list[FeedbackEvent]:
    """``parsed`` without the events already stored under their id; a different event under it is an error."""
    ids = [e.id for e in parsed if e.id is not None]
    existing: dict[int, FeedbackEvent] = {}
    for start in range(0, len(ids), _ID_BATCH):
        q = sa.select(events).where(events.c.id.in_(ids[start : start + _ID_BATCH]))
        existing.update({r.id: row_event(r) for r in conn.execute(q)})
    todo = []
    for e in parsed:
        if e.id in existing:
            stored = existing[e.id]
            # A scrubbed export of this very store holds the stored comment with its contacts replaced.
            if stored != e and stored.model_copy(update={"comment": scrub_optional(stored.comment)}) != e:
                raise FeedbackError(
                    f"{p}: event id {e.id} is already stored with different content; "
                    "import with keep_ids=False to append the file's events under new ids"
                )
            continue
        todo.append(e)
    return todo


def _export_dict(e: FeedbackEvent, scrub: bool) -> dict[str, Any]:
    d = e.model_dump(mode="python")
    d["created_at"] = e.created_at.isoformat()
    if scrub:
        d["comment"] = scrub_optional(e.comment)
    return {k: d[k] for k in EXPORT_FIELDS}


def csv_text(v: Any) -> str:
    """A CSV cell for ``v``: floats by ``repr`` so a round trip is exact."""
    return repr(v) if isinstance(v, float) else str(v)


def csv_cell(v: Any, numeric: bool = False) -> str:
    """The CSV cell for ``v``: empty for None; a text cell neutralised against formulas, a ``numeric`` one not."""
    if v is None:
        return ""
    text = csv_text(v)
    return text if numeric else neutralise_cell(text)


@contextmanager
def open_out(p: Path) -> Iterator[TextIO]:
    """``p`` opened for writing UTF-8 text (its folder created); StoreUnavailableError when it cannot be."""
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fh = p.open("w", encoding="utf-8", newline="")
    except OSError as exc:
        raise StoreUnavailableError(f"cannot write {p}: {exc.strerror or exc}") from None
    with fh:
        yield fh


def read_export(p: Path) -> list[FeedbackEvent]:
    """The events of a CSV or JSONL export, each valid on its own; FeedbackError names the file and line."""
    suffix = p.suffix.lower()
    if suffix not in EXPORT_SUFFIXES:
        raise FeedbackError(f"cannot import {p}: use a .csv or .jsonl export (got {suffix or 'no suffix'})")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FeedbackError(f"cannot read {p}: {exc}") from None
    records = _csv_records(p, text) if suffix == ".csv" else _jsonl_records(p, text)
    out = []
    for line_no, rec in records:
        try:
            event = FeedbackEvent.model_validate(rec)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(map(str, err["loc"]))
            raise FeedbackError(f"{p}, line {line_no}: {field}: {err['msg']}") from None
        try:
            out.append(check_event(event, require_generator=False))
        except FeedbackError as exc:
            raise FeedbackError(f"{p}, line {line_no}: {exc}") from None
    return out


def _csv_records(p: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(text.splitlines(keepends=True))
    header = list(reader.fieldnames or [])
    if set(header) != set(EXPORT_FIELDS):
        missing = [f for f in EXPORT_FIELDS if f not in header]
        extra = [f for f in header if f not in EXPORT_FIELDS]
        raise FeedbackError(
            f"{p}: not a feedback export; missing columns: {', '.join(missing) or 'none'}; "
            f"unknown columns: {', '.join(extra) or 'none'}"
        )
    return [
        (reader.line_num, {k: _read_cell(v, numeric=k in NUMERIC_FIELDS) for k, v in row.items()}) for row in reader
    ]


def _read_cell(v: str | None, numeric: bool) -> str | None:
    if v is None or v == "":
        return None
    return v if numeric else restore_cell(v)


def _jsonl_records(p: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    records: list[tuple[int, dict[str, Any]]] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise FeedbackError(f"{p}, line {line_no}: not JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise FeedbackError(f"{p}, line {line_no}: expected a JSON object")
        records.append((line_no, obj))
    return records
