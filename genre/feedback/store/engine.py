"""Opening the feedback database: URL, SQLAlchemy engine, SQLite pragmas, busy timeout, error translation.

SQLite runs in WAL mode with a busy timeout and foreign keys on; every write is one
``BEGIN IMMEDIATE`` transaction, so concurrent writer processes queue for the lock instead of
failing, and a writer killed mid-transaction leaves nothing of its batch behind.
``synchronous = NORMAL``: a commit survives the process dying at any moment; only an
operating-system crash or power loss can lose the last commits.

Every SQLAlchemy or file-system error leaves :meth:`Database.read` and :meth:`Database.write` as
:class:`~genre.core.errors.StoreUnavailableError` naming the database and what to do; an integrity
error or a value the database cannot hold (the data, not the database, is wrong) as
:class:`~genre.core.errors.FeedbackError`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event

from genre.core.errors import FeedbackError, StoreUnavailableError
from genre.core.paths import cache_dir
from genre.feedback.store.pseudonyms import Pseudonyms

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite

ENV_URL = "GENRE_FEEDBACK_URL"
BUSY_TIMEOUT_MS = 30_000
PG_CONNECT_TIMEOUT_S = 10
"""How long a PostgreSQL connection attempt may take (libpq waits forever by default), unless the URL sets
``connect_timeout``: an unreachable server is an error within seconds, not a hung request."""
BACKENDS: tuple[str, ...] = ("sqlite", "postgresql")


class _NoRowLogs(logging.Filter):
    """Drops SQLAlchemy's DEBUG records of result rows: they hold comments and profile texts in clear.

    Bound parameters are hidden by ``hide_parameters`` on the engine; rows have no such switch, and an
    operator who turns on DEBUG logging to chase a slow query must not get users' free text with it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno <= logging.DEBUG and str(record.msg).startswith(("Row ", "Col ")))


logging.getLogger("sqlalchemy.engine.Engine").addFilter(_NoRowLogs())


def default_url() -> str:
    """``$GENRE_FEEDBACK_URL`` if set, else a SQLite file in the cache dir."""
    env = os.environ.get(ENV_URL)
    if env:
        return env
    return f"sqlite:///{cache_dir() / 'feedback.sqlite3'}"


class Database:
    """One feedback database: where it is, its engine, the read and write transactions on it, and the
    pseudonyms its user ids are stored under (``user_id_key``, else :func:`~.pseudonyms.user_id_key`)."""

    def __init__(self, url: str | None = None, user_id_key: bytes | str | None = None) -> None:
        self.url = url or default_url()
        self.pseudonym = Pseudonyms(user_id_key)
        try:
            parsed = sa.engine.make_url(self.url)
        except sa.exc.ArgumentError as exc:
            raise StoreUnavailableError(
                f"feedback store URL {self.url!r} is not a database URL ({exc}); "
                f"fix {ENV_URL} or pass e.g. sqlite:///path/feedback.sqlite3"
            ) from None
        backend = parsed.get_backend_name()
        if backend not in BACKENDS:
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

    def _engine_args(self) -> dict[str, Any]:
        # hide_parameters: with SQL logging on (an INFO root logger is enough), SQLAlchemy would log every
        # bound value, comments and profile texts included, and would put them into error messages too.
        if self.is_sqlite:
            return {"connect_args": {"timeout": BUSY_TIMEOUT_MS / 1000}, "hide_parameters": True}
        connect_args = {} if "connect_timeout" in self.url else {"connect_timeout": PG_CONNECT_TIMEOUT_S}
        # pre_ping: a connection the server dropped (restart, failover) is replaced, not handed out.
        return {"pool_pre_ping": True, "connect_args": connect_args, "hide_parameters": True}

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
    def errors(self, doing: str) -> Iterator[None]:
        """Turn driver and file-system errors into one StoreUnavailableError line."""
        try:
            yield
        except (FeedbackError, StoreUnavailableError):
            raise
        except (sa.exc.IntegrityError, sa.exc.DataError) as exc:
            # DataError: a value the server cannot hold (PostgreSQL: a NUL byte, an over-long id); the
            # data is wrong, not the database, so it is the caller's error, not "store unavailable".
            raise FeedbackError(f"{doing}: the store refused the data ({first_line(exc)})") from None
        except (sa.exc.SQLAlchemyError, OSError) as exc:
            raise StoreUnavailableError(self._explain(exc, doing)) from None

    def _explain(self, exc: BaseException, doing: str) -> str:
        text = first_line(exc)
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
        if not self.is_sqlite and ("connection" in low or "could not translate host" in low or "timeout" in low):
            return (
                f"cannot reach the PostgreSQL feedback store {self.where} while {doing} ({text}); check that the "
                f"server is running and reachable and that {ENV_URL} names it"
            )
        if "locked" in low or "busy" in low:
            return (
                f"the feedback store {self.where} stayed locked by another process for "
                f"{BUSY_TIMEOUT_MS // 1000} s while {doing}; try again, or stop the process holding it"
            )
        return f"the feedback store {self.where} failed while {doing}: {text}"

    @contextmanager
    def write(self, doing: str) -> Iterator[sa.Connection]:
        """One write transaction (SQLite: BEGIN IMMEDIATE, so writers queue on the busy timeout)."""
        with self.errors(doing), self.engine.connect() as conn:
            conn = conn.execution_options(genre_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def read(self, doing: str) -> Iterator[sa.Connection]:
        """One read transaction; ``doing`` completes "failed while ..." in an error."""
        with self.errors(doing), self.engine.connect() as conn, conn.begin():
            yield conn

    def close(self) -> None:
        self.engine.dispose()


def first_line(exc: BaseException) -> str:
    """The first line of the driver's message (SQLAlchemy appends SQL and a docs link below it)."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def dialect_insert(conn: sa.Connection, table: sa.Table) -> sqlite.Insert | postgresql.Insert:
    """An INSERT with the dialect's ON CONFLICT clauses (SQLite and PostgreSQL spell them alike)."""
    # Imported here: only the dialect in use is loaded (the PostgreSQL one is never needed for SQLite).
    name = conn.dialect.name
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(table)
    raise StoreUnavailableError(f"the feedback store supports SQLite and PostgreSQL, not {name}")


def insert_ignore(conn: sa.Connection, table: sa.Table, keys: list[str]) -> sa.Insert:
    """INSERT that does nothing when a row with the same ``keys`` exists (race-free upsert)."""
    return dialect_insert(conn, table).on_conflict_do_nothing(index_elements=keys)


def upsert(conn: sa.Connection, table: sa.Table, keys: list[str], update: dict[str, Any]) -> sa.Insert:
    """INSERT that updates the ``update`` columns when a row with the same ``keys`` exists."""
    return dialect_insert(conn, table).on_conflict_do_update(index_elements=keys, set_=update)
