"""Repositories on an open feedback database: runs (with users and sessions) and feedback events.

Each repository works on one :class:`~genre.feedback.store.engine.Database`; the others are
:class:`~genre.feedback.store.review_stats.ReviewStatistics` and
:class:`~genre.feedback.store.profiles.ProfileRepository`, and
:class:`~genre.feedback.store.FeedbackStore` is all of them on one database. Invalid input raises
:class:`~genre.core.errors.FeedbackError` naming what is wrong.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, ValidationError

from genre.core.errors import FeedbackError
from genre.core.types import RunTrace
from genre.feedback.events import EVENT_KINDS, REASON_KINDS, FeedbackEvent, check_event, event_slot, utc
from genre.feedback.store.engine import Database, dialect_insert, insert_ignore
from genre.feedback.store.schema import events, runs, sessions, users

ANONYMOUS = "anonymous"
"""The user key a run is recorded under when neither the caller nor the trace names a user."""
_CHUNK = 100
"""Events per INSERT: bounds the statement size while keeping one transaction per batch."""
MAX_ID_CHARS = 64
"""Longest run or session id (their columns are VARCHAR(64): PostgreSQL enforces it, SQLite would not)."""


def check_ids(where: str, **values: str | None) -> None:
    """FeedbackError when an id is longer than :data:`MAX_ID_CHARS` (run/session ids) or holds a NUL.

    PostgreSQL refuses NUL in text and over-long VARCHARs; checking here gives both backends the
    same answer (SQLite would store them).
    """
    for name, value in values.items():
        if value is None:
            continue
        if "\x00" in value:
            raise FeedbackError(f"{where}: the {name.replace('_', ' ')} {value!r} contains a NUL character")
        if name in ("run_id", "session_id") and len(value) > MAX_ID_CHARS:
            raise FeedbackError(
                f"{where}: the {name.replace('_', ' ')} is {len(value)} characters long; the limit is {MAX_ID_CHARS}"
            )


class EventFilter(BaseModel):
    """Which events :meth:`EventRepository.events` returns; every given field must match."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    user: str | None = None
    run_id: str | None = None
    item_id: str | None = None
    kinds: list[str] | None = None
    """Any of these kinds."""
    generator: str | None = None
    config_name: str | None = None
    since: datetime | None = None
    """Created at or after this time."""
    until: datetime | None = None
    """Created before this time."""
    limit: int | None = None
    """At most this many, the most recent ones (still returned oldest first)."""


# ---- users, sessions, runs -----------------------------------------------------------------


def ensure_user(conn: sa.Connection, user: str) -> None:
    """Create the stored key ``user`` (a pseudonym) unless it exists (inside the caller's transaction)."""
    conn.execute(insert_ignore(conn, users, ["key"]).values(key=user, created_at=datetime.now(UTC)))


class Repository:
    """Base of the repositories: they share one open database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def user_key(self, user: str) -> str:
        """The stored key of the clear user id ``user`` (its pseudonym); FeedbackError when it is empty."""
        if not isinstance(user, str) or not user.strip():
            raise FeedbackError("the user key is empty")
        return self.db.pseudonym(user)


class RunRepository(Repository):
    """Users, sessions and the runs feedback refers to."""

    def start_session(self, user: str) -> str:
        """A new session id for ``user`` (pass it to :meth:`record_run`)."""
        session_id = uuid.uuid4().hex
        key = self.user_key(user)
        with self.db.write("starting a session") as conn:
            ensure_user(conn, key)
            conn.execute(sessions.insert().values(session_id=session_id, user_key=key, started_at=datetime.now(UTC)))
        return session_id

    def record_run(self, trace: RunTrace, *, user: str | None = None, session_id: str | None = None) -> None:
        """Remember which items a run showed, so feedback can refer to it.

        The user is ``user``, else the trace's ``user.user_id``, else :data:`ANONYMOUS`. Recording a
        run again changes nothing, except that once the trace holds reasons the run's generator
        becomes the one that wrote them: a page records its run before the reasons are written (so
        feedback can refer to it at once) and again after.
        """
        key = self.user_key(user or trace.user.user_id or ANONYMOUS)
        generator = next((i.reason.generator for i in trace.items if i.reason is not None), None)
        from_reasons = generator is not None
        if generator is None:
            generator = (trace.config.get("explain") or {}).get("component")
        check_ids(
            f"recording run {trace.run_id!r}", run_id=trace.run_id, session_id=session_id,
            config_name=trace.config_name, generator=generator,
        )  # fmt: skip
        for item in trace.items:
            check_ids(f"recording run {trace.run_id!r}", item_id=item.item_id)
        with self.db.write(f"recording run {trace.run_id}") as conn:
            ensure_user(conn, key)
            if (
                session_id is not None
                and conn.execute(sa.select(sessions.c.user_key).where(sessions.c.session_id == session_id)).first()
                is None
            ):
                raise FeedbackError(f"unknown session id {session_id!r}: start it with start_session(user)")
            row = {
                "run_id": trace.run_id, "user_key": key, "config_name": trace.config_name,
                "created_at": trace.created_at, "shown": [i.item_id for i in trace.items],
                "generator": generator, "session_id": session_id,
            }  # fmt: skip
            stmt = dialect_insert(conn, runs).values(**row)
            if from_reasons:
                stmt = stmt.on_conflict_do_update(index_elements=["run_id"], set_={"generator": generator})
            else:
                stmt = stmt.on_conflict_do_nothing(index_elements=["run_id"])
            conn.execute(stmt)

    def run_items(self, run_id: str) -> list[str] | None:
        """Item ids a recorded run showed, in rank order (None for a run known only from an import)."""
        with self.db.read("reading a run") as conn:
            row = conn.execute(sa.select(runs.c.shown).where(runs.c.run_id == run_id)).first()
        if row is None:
            raise FeedbackError(f"unknown run id {run_id!r}")
        shown: list[str] | None = row.shown
        return shown


# ---- events --------------------------------------------------------------------------------


def event_row(e: FeedbackEvent, keep_id: bool) -> dict[str, Any]:
    """The ``events`` row for ``e``; its id only with ``keep_id`` (else the database numbers it)."""
    row = {
        "user_key": e.user, "run_id": e.run_id, "item_id": e.item_id, "kind": e.kind, "value": e.value,
        "comment": e.comment, "generator": e.generator, "config_name": e.config_name, "created_at": e.created_at,
    }  # fmt: skip
    if keep_id and e.id is not None:
        row["id"] = e.id
    return row


def row_event(r: Any) -> FeedbackEvent:
    """The event an ``events`` row holds."""
    return FeedbackEvent(
        id=r.id, user=r.user_key, run_id=r.run_id, item_id=r.item_id, kind=r.kind, value=r.value,
        comment=r.comment, generator=r.generator, config_name=r.config_name, created_at=r.created_at,
    )  # fmt: skip


def replace_event(conn: sa.Connection, e: FeedbackEvent, keep_id: bool) -> FeedbackEvent:
    """Store a latest-wins event in its slot; returns what the slot holds afterwards.

    One upsert, so two concurrent writers (two browser tabs) still leave one row. The stored row
    keeps its id; an event older than the stored one changes nothing (the stored one is returned).
    """
    row = event_row(e, keep_id) | {"slot": event_slot(e)}
    stmt = dialect_insert(conn, events).values(**row)
    content = {k: stmt.excluded[k] for k in row if k not in ("id", "slot")}
    stmt = stmt.on_conflict_do_update(
        index_elements=["slot"], set_=content, where=events.c.created_at <= stmt.excluded.created_at
    )
    new_id = conn.execute(stmt.returning(events.c.id)).scalar()
    if new_id is not None:
        return e.model_copy(update={"id": int(new_id)})
    return row_event(conn.execute(sa.select(events).where(events.c.slot == row["slot"])).one())


def insert_events(
    conn: sa.Connection,
    events_in: Iterable[FeedbackEvent],
    catalog_ids: Collection[str] | None,
    stored: list[FeedbackEvent],
    keep_ids: bool,
    pseudonym: Callable[[str], str],
    imported: bool = False,
    numbered: bool = True,
) -> None:
    """Check and insert events inside the caller's transaction, appending each stored one to ``stored``.

    Each event's user is stored (and returned) as ``pseudonym(user)``. ``imported`` events may name
    runs not recorded here (they are added without shown items) and keep their own generator and
    config; ``numbered`` prefixes errors with the event's position.
    """
    catalog = catalog_ids
    if catalog is not None and not isinstance(catalog, set | frozenset | dict):
        catalog = set(catalog)
    run_cache: dict[str, Any] = {}
    known_users: set[str] = set()
    pending: list[FeedbackEvent] = []

    def insert_appended(batch: list[FeedbackEvent]) -> None:
        rows = [event_row(e, keep_ids) for e in batch]
        if keep_ids:
            conn.execute(events.insert(), rows)
            stored.extend(batch)
        else:
            ids = conn.execute(events.insert().returning(events.c.id, sort_by_parameter_order=True), rows)
            stored.extend(e.model_copy(update={"id": int(i)}) for e, i in zip(batch, ids.scalars(), strict=True))

    def flush() -> None:
        # In input order: runs of append-only events go in one INSERT, each latest-wins one by upsert.
        batch: list[FeedbackEvent] = []
        for e in pending:
            if event_slot(e) is None:
                batch.append(e)
                continue
            if batch:
                insert_appended(batch)
                batch = []
            stored.append(replace_event(conn, e, keep_ids))
        if batch:
            insert_appended(batch)
        pending.clear()

    for n, raw in enumerate(events_in):
        event = raw if isinstance(raw, FeedbackEvent) else FeedbackEvent.model_validate(raw)
        try:
            check_event(event, require_generator=False)
            check_ids(
                f"{event.kind} event on item {event.item_id!r}", user=event.user, item_id=event.item_id,
                run_id=event.run_id, generator=event.generator, config_name=event.config_name,
            )  # fmt: skip
            event = event.model_copy(update={"user": pseudonym(event.user)})
            if event.user not in known_users:
                ensure_user(conn, event.user)
                known_users.add(event.user)
            event = check_event(_check_in_context(conn, event, catalog, run_cache, imported))
        except FeedbackError as exc:
            raise FeedbackError(f"event {n + 1}: {exc}" if numbered else str(exc)) from None
        pending.append(event)
        if len(pending) >= _CHUNK:
            flush()
    flush()


def _check_in_context(
    conn: sa.Connection,
    event: FeedbackEvent,
    catalog: Collection[str] | None,
    run_cache: dict[str, Any],
    imported: bool,
) -> FeedbackEvent:
    where = f"{event.kind} event on item {event.item_id!r}"
    if event.run_id is None:
        if catalog is not None and event.item_id not in catalog:
            raise FeedbackError(f"{where}: item {event.item_id!r} is not in the catalog")
        return event
    if event.run_id not in run_cache:
        run_cache[event.run_id] = conn.execute(sa.select(runs).where(runs.c.run_id == event.run_id)).first()
    run = run_cache[event.run_id]
    if run is None and imported:
        conn.execute(
            runs.insert().values(
                run_id=event.run_id, user_key=event.user, config_name=event.config_name,
                created_at=event.created_at, shown=None, generator=None,
            )
        )  # fmt: skip
        run = run_cache[event.run_id] = conn.execute(sa.select(runs).where(runs.c.run_id == event.run_id)).first()
    if run is None:
        raise FeedbackError(f"{where}: unknown run id {event.run_id!r}; record the run first with record_run(trace)")
    if run.user_key != event.user:
        raise FeedbackError(f"{where}: run {event.run_id!r} belongs to another user")
    if run.shown is not None and event.item_id not in run.shown:
        shown = ", ".join(run.shown[:10]) + (" ..." if len(run.shown) > 10 else "")
        raise FeedbackError(
            f"{where}: item {event.item_id!r} was not shown in run {event.run_id!r} (shown: {shown or 'nothing'})"
        )
    update: dict[str, Any] = {}
    if event.config_name is None and run.config_name is not None and not imported:
        update["config_name"] = run.config_name
    if event.kind in REASON_KINDS and event.generator is None and run.generator is not None and not imported:
        update["generator"] = run.generator
    return event.model_copy(update=update) if update else event


class EventRepository(Repository):
    """Feedback events: stored all-or-nothing per batch, read back by filter."""

    def add_event(
        self,
        user: str,
        item_id: str,
        kind: str,
        value: float | None = None,
        *,
        run_id: str | None = None,
        comment: str | None = None,
        generator: str | None = None,
        config_name: str | None = None,
        created_at: datetime | None = None,
        catalog_ids: Collection[str] | None = None,
    ) -> FeedbackEvent:
        """Store one event and return it with its id; FeedbackError names what is wrong with it."""
        fields: dict[str, Any] = {
            "user": user, "item_id": item_id, "kind": kind, "value": value, "run_id": run_id,
            "comment": comment, "generator": generator, "config_name": config_name,
        }  # fmt: skip
        if created_at is not None:
            fields["created_at"] = created_at
        try:
            event = FeedbackEvent(**fields)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(map(str, err["loc"]))
            raise FeedbackError(f"{kind} event on item {item_id!r}: {field}: {err['msg']}") from None
        stored: list[FeedbackEvent] = []
        with self.db.write("storing feedback") as conn:
            insert_events(
                conn, [event], catalog_ids, stored, keep_ids=False, pseudonym=self.db.pseudonym, numbered=False
            )
        return stored[0]

    def add_events(
        self, events_in: Iterable[FeedbackEvent], *, catalog_ids: Collection[str] | None = None
    ) -> list[FeedbackEvent]:
        """Store events in one transaction: all of them, or none when any is invalid.

        ``events_in`` is consumed inside the transaction. An event naming a ``run_id`` must refer
        to a recorded run of the same user that showed the item; without a run, ``catalog_ids``
        (when given) must contain the item. Missing ``generator``/``config_name`` are taken from the run.
        """
        stored: list[FeedbackEvent] = []
        with self.db.write("storing feedback") as conn:
            insert_events(conn, events_in, catalog_ids, stored, keep_ids=False, pseudonym=self.db.pseudonym)
        return stored

    def events(self, filters: EventFilter | None = None) -> list[FeedbackEvent]:
        """Stored events matching ``filters``, oldest first (ties in insertion order)."""
        f = filters or EventFilter()
        if f.kinds:
            unknown = [k for k in f.kinds if k not in EVENT_KINDS]
            if unknown:
                raise FeedbackError(
                    f"unknown feedback kinds {', '.join(unknown)}; valid kinds: {', '.join(EVENT_KINDS)}"
                )
        q = sa.select(events)
        user = None if f.user is None else self.user_key(f.user)
        for col, val in (
            (events.c.user_key, user), (events.c.run_id, f.run_id), (events.c.item_id, f.item_id),
            (events.c.generator, f.generator), (events.c.config_name, f.config_name),
        ):  # fmt: skip
            if val is not None:
                q = q.where(col == val)
        if f.kinds:
            q = q.where(events.c.kind.in_(f.kinds))
        if f.since is not None:
            q = q.where(events.c.created_at >= utc(f.since))
        if f.until is not None:
            q = q.where(events.c.created_at < utc(f.until))
        if f.limit is not None:
            q = q.order_by(events.c.created_at.desc(), events.c.id.desc()).limit(f.limit)
            with self.db.read("reading feedback") as conn:
                rows = list(conn.execute(q))
            return [row_event(r) for r in reversed(rows)]
        q = q.order_by(events.c.created_at, events.c.id)
        with self.db.read("reading feedback") as conn:
            return [row_event(r) for r in conn.execute(q)]

    def events_for_user(self, user: str) -> list[FeedbackEvent]:
        """Every event of ``user`` (a clear id), oldest first: what :func:`genre.feedback.apply_feedback` takes.

        The events carry the user's pseudonym, as every event read from the store does."""
        return self.events(EventFilter(user=user))

    def count_events(self) -> int:
        """How many events are stored, all users together."""
        with self.db.read("counting feedback") as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one())
