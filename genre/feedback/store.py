"""The durable feedback store: users, sessions, saved profiles, runs and feedback events.

``FeedbackStore(url)`` opens (and creates or migrates) a database through SQLAlchemy Core, no
ORM. The URL is, in order: the ``url`` argument, ``$GENRE_FEEDBACK_URL``, or
``sqlite:///<cache_dir()>/feedback.sqlite3``.

SQLite (the default, and what the tests use) runs in WAL mode with a busy timeout and
foreign keys on; every write is one ``BEGIN IMMEDIATE`` transaction, so concurrent writer
processes queue for the lock instead of failing, and a writer killed mid-transaction leaves
nothing of its batch behind. ``synchronous = NORMAL``: a commit survives the process dying at
any moment; only an operating-system crash or power loss can lose the last commits.

PostgreSQL works through the same Core schema: ``GENRE_FEEDBACK_URL=postgresql+psycopg://user:pw@host/db``
(install the driver, e.g. ``pip install "psycopg[binary]"``). Migrations then run under a
transaction-scoped advisory lock, so several processes may open a new database at once.

The schema is versioned: ``schema_version`` holds one row per applied migration and
:data:`MIGRATIONS` lists them in order; opening a store applies the missing ones in one
transaction (idempotent). A database written by a newer GENRE is refused, not modified.

Every SQLAlchemy or file-system error surfaces as :class:`~genre.core.errors.StoreUnavailableError`
naming the database and what to do, and every invalid event as
:class:`~genre.core.errors.FeedbackError`; no raw driver traceback reaches a caller.
"""

from __future__ import annotations

import csv
import json
import os
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import event as sa_event

from genre.core.errors import FeedbackError, StoreUnavailableError
from genre.core.paths import cache_dir
from genre.core.types import RunTrace
from genre.feedback.events import EVENT_KINDS, REASON_KINDS, FeedbackEvent, check_event, utc

ENV_URL = "GENRE_FEEDBACK_URL"
BUSY_TIMEOUT_MS = 30_000
ANONYMOUS = "anonymous"
"""The user key a run is recorded under when neither the caller nor the trace names a user."""
EXPORT_FIELDS: tuple[str, ...] = (
    "id", "user", "run_id", "item_id", "kind", "value", "comment", "generator", "config_name", "created_at",
)  # fmt: skip
_CHUNK = 100


def default_url() -> str:
    """``$GENRE_FEEDBACK_URL`` if set, else a SQLite file in the cache dir."""
    env = os.environ.get(ENV_URL)
    if env:
        return env
    return f"sqlite:///{cache_dir() / 'feedback.sqlite3'}"


class UTCDateTime(sa.types.TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite (naive text) and PostgreSQL alike."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        value = utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return None if value is None else utc(value)


# ---- Schema: the current layout (what queries use) -----------------------------------------

metadata = sa.MetaData()

schema_version = sa.Table(
    "schema_version", metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("applied_at", UTCDateTime, nullable=False),
)  # fmt: skip
users = sa.Table(
    "users", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("key", sa.Text, nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
)  # fmt: skip
sessions = sa.Table(
    "sessions", metadata,
    sa.Column("session_id", sa.String(64), primary_key=True),
    sa.Column("user_key", sa.Text, sa.ForeignKey("users.key"), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
)  # fmt: skip
profiles = sa.Table(
    "profiles", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_key", sa.Text, sa.ForeignKey("users.key"), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("user_key", "name", name="uq_profiles_user_name"),
)  # fmt: skip
runs = sa.Table(
    "runs", metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("user_key", sa.Text, sa.ForeignKey("users.key"), nullable=False),
    sa.Column("config_name", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("shown", sa.JSON),  # item ids in rank order; NULL for a run known only from an imported event
    sa.Column("generator", sa.Text),
    sa.Column("session_id", sa.String(64), sa.ForeignKey("sessions.session_id")),
)  # fmt: skip
events = sa.Table(
    "events", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_key", sa.Text, sa.ForeignKey("users.key"), nullable=False),
    sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.run_id")),
    sa.Column("item_id", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("value", sa.Double),
    sa.Column("comment", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("generator", sa.Text),
    sa.Column("config_name", sa.Text),
)  # fmt: skip


# ---- Migrations: append only; never edit one that has shipped -----------------------------


def _v1(conn: sa.Connection) -> None:
    """Users, runs and item feedback events (the first layout)."""
    md = sa.MetaData()
    sa.Table(
        "users", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.Text, nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )  # fmt: skip
    sa.Table(
        "runs", md,
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("user_key", sa.Text, sa.ForeignKey("users.key"), nullable=False),
        sa.Column("config_name", sa.Text),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("shown", sa.JSON),
    )  # fmt: skip
    sa.Table(
        "events", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_key", sa.Text, sa.ForeignKey("users.key"), nullable=False),
        sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.run_id")),
        sa.Column("item_id", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("value", sa.Double),
        sa.Column("comment", sa.Text),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )  # fmt: skip
    md.create_all(conn)


def _v2(conn: sa.Connection) -> None:
    """Feedback on reasons (generator and config per event and run), sessions, saved profiles, indexes."""
    sessions.create(conn)
    profiles.create(conn)
    for stmt in (
        "ALTER TABLE events ADD COLUMN generator TEXT",
        "ALTER TABLE events ADD COLUMN config_name TEXT",
        "ALTER TABLE runs ADD COLUMN generator TEXT",
        "ALTER TABLE runs ADD COLUMN session_id VARCHAR(64) REFERENCES sessions (session_id)",
        "CREATE INDEX ix_events_user_time ON events (user_key, created_at)",
        "CREATE INDEX ix_events_run ON events (run_id)",
        "CREATE INDEX ix_events_generator ON events (generator, kind)",
    ):
        conn.exec_driver_sql(stmt)


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[sa.Connection], None]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "users, runs and item feedback events", _v1),
    Migration(2, "reason feedback, sessions, saved profiles, indexes", _v2),
)
SCHEMA_VERSION = MIGRATIONS[-1].version


# ---- Results -------------------------------------------------------------------------------


class GeneratorAcceptance(BaseModel):
    """How users judged one reason generator's reasons."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    n: int
    """Reason feedback events for this generator (ratings and faithfulness verdicts)."""
    n_ratings: int
    mean_rating: float | None
    """Mean reason_rating (1-5); None without ratings."""
    n_verdicts: int
    faithful_rate: float | None
    """Share of reason_faithful verdicts that said faithful; None without verdicts."""


class EventFilter(BaseModel):
    """Which events :meth:`FeedbackStore.events` returns; every given field must match."""

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


# ---- The store -----------------------------------------------------------------------------


class FeedbackStore:
    """Durable feedback: open once per process (or per explorer session) and share."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or default_url()
        try:
            parsed = sa.engine.make_url(self.url)
        except sa.exc.ArgumentError as exc:
            raise StoreUnavailableError(
                f"feedback store URL {self.url!r} is not a database URL ({exc}); "
                f"fix {ENV_URL} or pass e.g. sqlite:///path/feedback.sqlite3"
            ) from None
        backend = parsed.get_backend_name()
        if backend not in ("sqlite", "postgresql"):
            raise StoreUnavailableError(
                f"the feedback store supports SQLite and PostgreSQL URLs, not {backend!r} ({ENV_URL} or url=)"
            )
        self.is_sqlite = backend == "sqlite"
        self.path: Path | None = None
        if self.is_sqlite and parsed.database and parsed.database != ":memory:":
            self.path = Path(parsed.database).expanduser()
        self.where = str(self.path) if self.path else parsed.render_as_string(hide_password=True)
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreUnavailableError(
                    f"cannot create the folder for the feedback store {self.path}: {exc.strerror or exc}; "
                    f"fix the permissions or point {ENV_URL} elsewhere"
                ) from None
        try:
            self.engine = sa.create_engine(parsed, **self._engine_args())
        except (sa.exc.ArgumentError, ImportError) as exc:
            raise StoreUnavailableError(f"cannot open the feedback store {self.where}: {exc}") from None
        if self.is_sqlite:
            self._sqlite_setup()
        self.version = self._migrate()

    # -- connection management --

    def _engine_args(self) -> dict[str, Any]:
        if self.is_sqlite:
            return {"connect_args": {"timeout": BUSY_TIMEOUT_MS / 1000}}
        return {"pool_pre_ping": True}

    def _sqlite_setup(self) -> None:
        @sa_event.listens_for(self.engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # SQLAlchemy's begin event below emits BEGIN itself
            cur = dbapi_conn.cursor()
            try:
                cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                cur.execute("PRAGMA foreign_keys = ON")
                if self.path is not None:
                    cur.execute("PRAGMA journal_mode = WAL")
                cur.execute("PRAGMA synchronous = NORMAL")
            finally:
                cur.close()

        @sa_event.listens_for(self.engine, "begin")
        def _on_begin(conn: sa.Connection) -> None:
            write = conn.get_execution_options().get("genre_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Turn driver and file-system errors into one StoreUnavailableError line."""
        try:
            yield
        except (FeedbackError, StoreUnavailableError):
            raise
        except sa.exc.IntegrityError as exc:
            raise FeedbackError(f"{doing}: the store refused the data ({_first_line(exc)})") from None
        except (sa.exc.SQLAlchemyError, OSError) as exc:
            raise StoreUnavailableError(self._explain(exc, doing)) from None

    def _explain(self, exc: BaseException, doing: str) -> str:
        text = _first_line(exc)
        low = text.lower()
        if "not a database" in low or "malformed" in low or "corrupt" in low:
            return (
                f"the feedback store {self.where} is damaged or not a SQLite database ({text}); "
                f"move it aside (e.g. `mv {self.where} {self.where}.broken`) and a new empty store will be "
                f"created, or point {ENV_URL} at another database"
            )
        if "readonly" in low or "read-only" in low or "unable to open" in low or "permission" in low:
            return (
                f"cannot write the feedback store {self.where} ({text}); fix the permissions of the file "
                f"and its folder, or point {ENV_URL} (or GENRE_CACHE_DIR) at a writable place"
            )
        if "locked" in low or "busy" in low:
            return (
                f"the feedback store {self.where} stayed locked by another process for "
                f"{BUSY_TIMEOUT_MS // 1000} s while {doing}; try again, or stop the process holding it"
            )
        return f"the feedback store {self.where} failed while {doing}: {text}"

    @contextmanager
    def _write(self, doing: str) -> Iterator[sa.Connection]:
        """One write transaction (SQLite: BEGIN IMMEDIATE, so writers queue on the busy timeout)."""
        with self._errors(doing), self.engine.connect() as conn:
            conn = conn.execution_options(genre_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def _read(self, doing: str) -> Iterator[sa.Connection]:
        with self._errors(doing), self.engine.connect() as conn, conn.begin():
            yield conn

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> FeedbackStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FeedbackStore({self.where!r}, schema v{self.version})"

    # -- schema --

    def _migrate(self) -> int:
        with self._write("opening it") as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(7306412)"))
            if not sa.inspect(conn).has_table("schema_version"):
                schema_version.create(conn)
            current = conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar() or 0
            if current > SCHEMA_VERSION:
                raise StoreUnavailableError(
                    f"the feedback store {self.where} has schema v{current}, written by a newer GENRE; this "
                    f"version knows up to v{SCHEMA_VERSION}: upgrade GENRE or point {ENV_URL} elsewhere"
                )
            for m in MIGRATIONS:
                if m.version > current:
                    m.apply(conn)
                    conn.execute(
                        schema_version.insert().values(
                            version=m.version, description=m.description, applied_at=datetime.now(UTC)
                        )
                    )
        return SCHEMA_VERSION

    def applied_migrations(self) -> list[int]:
        with self._read("reading the schema version") as conn:
            return list(conn.execute(sa.select(schema_version.c.version).order_by(schema_version.c.version)).scalars())

    # -- users, sessions, runs --

    def _ensure_user(self, conn: sa.Connection, user: str) -> None:
        if not user or not user.strip():
            raise FeedbackError("the user key is empty")
        conn.execute(_insert_ignore(conn, users, ["key"]).values(key=user, created_at=datetime.now(UTC)))

    def start_session(self, user: str) -> str:
        """A new session id for ``user`` (pass it to :meth:`record_run`)."""
        session_id = uuid.uuid4().hex
        with self._write("starting a session") as conn:
            self._ensure_user(conn, user)
            conn.execute(sessions.insert().values(session_id=session_id, user_key=user, started_at=datetime.now(UTC)))
        return session_id

    def record_run(self, trace: RunTrace, *, user: str | None = None, session_id: str | None = None) -> None:
        """Remember which items a run showed, so feedback can refer to it (recording twice is a no-op).

        The user is ``user``, else the trace's ``user.user_id``, else :data:`ANONYMOUS`.
        """
        key = user or trace.user.user_id or ANONYMOUS
        generator = next((i.reason.generator for i in trace.items if i.reason is not None), None)
        if generator is None:
            generator = (trace.config.get("explain") or {}).get("component")
        with self._write(f"recording run {trace.run_id}") as conn:
            self._ensure_user(conn, key)
            if (
                session_id is not None
                and conn.execute(sa.select(sessions.c.user_key).where(sessions.c.session_id == session_id)).first()
                is None
            ):
                raise FeedbackError(f"unknown session id {session_id!r}: start it with start_session(user)")
            conn.execute(
                _insert_ignore(conn, runs, ["run_id"]).values(
                    run_id=trace.run_id,
                    user_key=key,
                    config_name=trace.config_name,
                    created_at=trace.created_at,
                    shown=[i.item_id for i in trace.items],
                    generator=generator,
                    session_id=session_id,
                )
            )

    def run_items(self, run_id: str) -> list[str] | None:
        """Item ids a recorded run showed, in rank order (None for a run known only from an import)."""
        with self._read("reading a run") as conn:
            row = conn.execute(sa.select(runs.c.shown).where(runs.c.run_id == run_id)).first()
        if row is None:
            raise FeedbackError(f"unknown run id {run_id!r}")
        return row.shown

    # -- events --

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
        with self._write("storing feedback") as conn:
            self._store(conn, [event], catalog_ids, stored, keep_ids=False, numbered=False)
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
        with self._write("storing feedback") as conn:
            self._store(conn, events_in, catalog_ids, stored, keep_ids=False)
        return stored

    def _store(
        self,
        conn: sa.Connection,
        events_in: Iterable[FeedbackEvent],
        catalog_ids: Collection[str] | None,
        stored: list[FeedbackEvent],
        keep_ids: bool,
        imported: bool = False,
        numbered: bool = True,
    ) -> None:
        catalog = catalog_ids
        if catalog is not None and not isinstance(catalog, set | frozenset | dict):
            catalog = set(catalog)
        run_cache: dict[str, Any] = {}
        known_users: set[str] = set()
        pending: list[FeedbackEvent] = []

        def flush() -> None:
            if not pending:
                return
            rows = [_row(e, keep_ids) for e in pending]
            if keep_ids:
                conn.execute(events.insert(), rows)
                stored.extend(pending)
            else:
                ids = conn.execute(events.insert().returning(events.c.id, sort_by_parameter_order=True), rows)
                stored.extend(e.model_copy(update={"id": int(i)}) for e, i in zip(pending, ids.scalars(), strict=True))
            pending.clear()

        for n, raw in enumerate(events_in):
            event = raw if isinstance(raw, FeedbackEvent) else FeedbackEvent.model_validate(raw)
            try:
                check_event(event, require_generator=False)
                if event.user not in known_users:
                    self._ensure_user(conn, event.user)
                    known_users.add(event.user)
                event = check_event(self._check_in_context(conn, event, catalog, run_cache, imported))
            except FeedbackError as exc:
                raise FeedbackError(f"event {n + 1}: {exc}" if numbered else str(exc)) from None
            pending.append(event)
            if len(pending) >= _CHUNK:
                flush()
        flush()

    def _check_in_context(
        self,
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
            raise FeedbackError(
                f"{where}: unknown run id {event.run_id!r}; record the run first with record_run(trace)"
            )
        if run.user_key != event.user:
            raise FeedbackError(f"{where}: run {event.run_id!r} belongs to user {run.user_key!r}, not {event.user!r}")
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
        for col, val in (
            (events.c.user_key, f.user), (events.c.run_id, f.run_id), (events.c.item_id, f.item_id),
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
            with self._read("reading feedback") as conn:
                rows = list(conn.execute(q))
            return [_event(r) for r in reversed(rows)]
        q = q.order_by(events.c.created_at, events.c.id)
        with self._read("reading feedback") as conn:
            return [_event(r) for r in conn.execute(q)]

    def events_for_user(self, user: str) -> list[FeedbackEvent]:
        """Every event of ``user``, oldest first: what :func:`genre.feedback.apply_feedback` takes."""
        return self.events(EventFilter(user=user))

    def count_events(self) -> int:
        with self._read("counting feedback") as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one())

    def generator_acceptance(self, config_name: str | None = None) -> dict[str, GeneratorAcceptance]:
        """Per reason generator: how many reason events, the mean reason rating and the faithful rate."""
        is_rating = events.c.kind == "reason_rating"
        is_verdict = events.c.kind == "reason_faithful"
        q = (
            sa.select(
                events.c.generator,
                sa.func.count().label("n"),
                sa.func.count(sa.case((is_rating, events.c.value))).label("n_ratings"),
                sa.func.avg(sa.case((is_rating, events.c.value))).label("mean_rating"),
                sa.func.count(sa.case((is_verdict, events.c.value))).label("n_verdicts"),
                sa.func.avg(sa.case((is_verdict, events.c.value))).label("faithful_rate"),
            )
            .where(events.c.kind.in_(REASON_KINDS), events.c.generator.is_not(None))
            .group_by(events.c.generator)
            .order_by(events.c.generator)
        )
        if config_name is not None:
            q = q.where(events.c.config_name == config_name)
        with self._read("summarizing reason feedback") as conn:
            rows = list(conn.execute(q))
        return {
            r.generator: GeneratorAcceptance(
                n=r.n,
                n_ratings=r.n_ratings,
                mean_rating=None if r.mean_rating is None else float(r.mean_rating),
                n_verdicts=r.n_verdicts,
                faithful_rate=None if r.faithful_rate is None else float(r.faithful_rate),
            )
            for r in rows
        }

    # -- saved profiles --

    def save_profile(self, user: str, name: str, payload: dict[str, Any] | BaseModel) -> None:
        """Save (or overwrite) ``user``'s profile ``name``; a pydantic model is stored as its JSON dump."""
        if not name or not name.strip():
            raise FeedbackError("a saved profile needs a non-empty name")
        data = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload
        try:
            json.dumps(data, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise FeedbackError(f"profile {name!r} is not JSON-serializable: {exc}") from None
        now = datetime.now(UTC)
        with self._write(f"saving profile {name!r}") as conn:
            self._ensure_user(conn, user)
            stmt = _upsert(conn, profiles, ["user_key", "name"], {"payload": data, "updated_at": now})
            conn.execute(stmt.values(user_key=user, name=name, payload=data, updated_at=now))

    def load_profile(self, user: str, name: str) -> dict[str, Any]:
        """The payload saved as ``name``; FeedbackError naming the saved ones when there is none."""
        with self._read(f"loading profile {name!r}") as conn:
            row = conn.execute(
                sa.select(profiles.c.payload).where(profiles.c.user_key == user, profiles.c.name == name)
            ).first()
        if row is None:
            saved = self.list_profiles(user)
            raise FeedbackError(
                f"user {user!r} has no saved profile {name!r}; saved: {', '.join(saved) if saved else 'none'}"
            )
        return row.payload

    def list_profiles(self, user: str) -> list[str]:
        """Names of ``user``'s saved profiles, sorted."""
        with self._read("listing profiles") as conn:
            q = sa.select(profiles.c.name).where(profiles.c.user_key == user).order_by(profiles.c.name)
            return list(conn.execute(q).scalars())

    def delete_profile(self, user: str, name: str) -> bool:
        """Remove a saved profile; False when there was none."""
        with self._write(f"deleting profile {name!r}") as conn:
            res = conn.execute(profiles.delete().where(profiles.c.user_key == user, profiles.c.name == name))
        return bool(res.rowcount)

    # -- export / import --

    def export_csv(self, path: str | Path, filters: EventFilter | None = None) -> int:
        """Write events (all, or those matching ``filters``) as CSV; returns the number written.

        Columns are :data:`EXPORT_FIELDS`; an empty cell is None; times are ISO 8601 in UTC.
        """
        rows = self.events(filters)
        p = Path(path)
        with _open_out(p) as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(EXPORT_FIELDS)
            for e in rows:
                d = _export_dict(e)
                writer.writerow(["" if d[k] is None else _csv_text(d[k]) for k in EXPORT_FIELDS])
        return len(rows)

    def export_jsonl(self, path: str | Path, filters: EventFilter | None = None) -> int:
        """Write events as JSON lines (one object per event, keys :data:`EXPORT_FIELDS`)."""
        rows = self.events(filters)
        with _open_out(Path(path)) as fh:
            for e in rows:
                fh.write(json.dumps(_export_dict(e), ensure_ascii=False) + "\n")
        return len(rows)

    def import_file(self, path: str | Path, *, keep_ids: bool = True) -> int:
        """Import a CSV or JSONL export in one transaction; returns the number of events added.

        With ``keep_ids`` (the default) each event keeps its id, so an export imported into an
        empty store exports again byte for byte; an event whose id is already stored with the same
        content is skipped (importing twice adds nothing) and one with different content is an
        error. ``keep_ids=False`` appends every event under a new id (to merge stores). Runs named
        by events but not recorded here are added without their shown items.
        """
        p = Path(path)
        parsed = _read_export(p)
        stored: list[FeedbackEvent] = []
        with self._write(f"importing {p}") as conn:
            todo = parsed
            if keep_ids:
                ids = [e.id for e in parsed if e.id is not None]
                existing: dict[int, FeedbackEvent] = {}
                for start in range(0, len(ids), 500):
                    q = sa.select(events).where(events.c.id.in_(ids[start : start + 500]))
                    existing.update({r.id: _event(r) for r in conn.execute(q)})
                todo = []
                for e in parsed:
                    if e.id in existing:
                        if existing[e.id] != e:
                            raise FeedbackError(
                                f"{p}: event id {e.id} is already stored with different content; "
                                "import with keep_ids=False to append the file's events under new ids"
                            )
                        continue
                    todo.append(e)
            try:
                self._store(conn, todo, None, stored, keep_ids=keep_ids, imported=True)
            except FeedbackError as exc:
                raise FeedbackError(f"{p}: {exc}") from None
            if keep_ids and conn.dialect.name == "postgresql" and stored:
                conn.execute(
                    sa.text("SELECT setval(pg_get_serial_sequence('events', 'id'), (SELECT max(id) FROM events))")
                )
        return len(stored)


# ---- helpers -------------------------------------------------------------------------------


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def _insert_ignore(conn: sa.Connection, table: sa.Table, keys: list[str]) -> Any:
    """INSERT that does nothing when a row with the same ``keys`` exists (race-free upsert)."""
    name = conn.dialect.name
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        raise StoreUnavailableError(f"the feedback store supports SQLite and PostgreSQL, not {name}")
    return insert(table).on_conflict_do_nothing(index_elements=keys)


def _upsert(conn: sa.Connection, table: sa.Table, keys: list[str], update: dict[str, Any]) -> Any:
    name = conn.dialect.name
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        raise StoreUnavailableError(f"the feedback store supports SQLite and PostgreSQL, not {name}")
    return insert(table).on_conflict_do_update(index_elements=keys, set_=update)


def _row(e: FeedbackEvent, keep_id: bool) -> dict[str, Any]:
    row = {
        "user_key": e.user, "run_id": e.run_id, "item_id": e.item_id, "kind": e.kind, "value": e.value,
        "comment": e.comment, "generator": e.generator, "config_name": e.config_name, "created_at": e.created_at,
    }  # fmt: skip
    if keep_id and e.id is not None:
        row["id"] = e.id
    return row


def _event(r: Any) -> FeedbackEvent:
    return FeedbackEvent(
        id=r.id, user=r.user_key, run_id=r.run_id, item_id=r.item_id, kind=r.kind, value=r.value,
        comment=r.comment, generator=r.generator, config_name=r.config_name, created_at=r.created_at,
    )  # fmt: skip


def _export_dict(e: FeedbackEvent) -> dict[str, Any]:
    d = e.model_dump(mode="python")
    d["created_at"] = e.created_at.isoformat()
    return {k: d[k] for k in EXPORT_FIELDS}


def _csv_text(v: Any) -> str:
    return repr(v) if isinstance(v, float) else str(v)


@contextmanager
def _open_out(p: Path) -> Iterator[Any]:
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fh = p.open("w", encoding="utf-8", newline="")
    except OSError as exc:
        raise StoreUnavailableError(f"cannot write {p}: {exc.strerror or exc}") from None
    with fh:
        yield fh


def _read_export(p: Path) -> list[FeedbackEvent]:
    suffix = p.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".ndjson"):
        raise FeedbackError(f"cannot import {p}: use a .csv or .jsonl export (got {suffix or 'no suffix'})")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FeedbackError(f"cannot read {p}: {exc}") from None
    records: list[tuple[int, dict[str, Any]]] = []
    if suffix == ".csv":
        reader = csv.DictReader(text.splitlines(keepends=True))
        header = list(reader.fieldnames or [])
        if set(header) != set(EXPORT_FIELDS):
            missing = [f for f in EXPORT_FIELDS if f not in header]
            extra = [f for f in header if f not in EXPORT_FIELDS]
            raise FeedbackError(
                f"{p}: not a feedback export; missing columns: {', '.join(missing) or 'none'}; "
                f"unknown columns: {', '.join(extra) or 'none'}"
            )
        for row in reader:
            records.append((reader.line_num, {k: (v if v != "" else None) for k, v in row.items()}))
    else:
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
