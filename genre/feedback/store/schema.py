"""The feedback store's tables (the current layout, which queries use) and the migrations that build it.

The schema is versioned: ``schema_version`` holds one row per applied migration and
:data:`MIGRATIONS` lists them in order; :func:`migrate` applies the missing ones in one
transaction (idempotent). A database written by a newer GENRE is refused, not modified. On
PostgreSQL migrations run under a transaction-scoped advisory lock, so several processes may
open a new database at once.

v4 pseudonymises what earlier versions stored in clear (user keys, reviewer names) with the key
the store is opened with (:mod:`~genre.feedback.store.pseudonyms`): set ``GENRE_USER_ID_KEY``
before opening an older store, and keep it; the clear ids cannot be recovered afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from genre.core.errors import StoreUnavailableError
from genre.feedback.events import FeedbackEvent, event_slot, utc
from genre.feedback.store.engine import ENV_URL, Database
from genre.feedback.store.pseudonyms import ENV_KEY, Pseudonyms

MIGRATION_LOCK_ID = 7306412
"""PostgreSQL advisory lock key held while migrating (any constant works; it only has to be the same everywhere)."""


class UTCDateTime(sa.types.TypeDecorator[datetime]):
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
    sa.Column("slot", sa.Text),  # what a latest-wins event replaces (events.event_slot); NULL for clicks
)  # fmt: skip
sa.Index("ux_events_slot", events.c.slot, unique=True)
judgements = sa.Table(
    "judgements", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("reviewer", sa.Text, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("item_id", sa.Text, nullable=False),
    sa.Column("arm_a_key", sa.Text, nullable=False),  # Arm.key: canonical JSON, parsed back into the Arm
    sa.Column("arm_b_key", sa.Text, nullable=False),
    sa.Column("config_a", sa.Text, nullable=False),  # copied out of the keys so queries can filter on them
    sa.Column("config_b", sa.Text, nullable=False),
    sa.Column("run_id", sa.String(64)),  # no foreign key: a judgement may come from an unrecorded run
    sa.Column("shown_left", sa.String(1), nullable=False),
    sa.Column("choice", sa.String(3), nullable=False),
    sa.Column("faithful_a", sa.Boolean),
    sa.Column("faithful_b", sa.Boolean),
    sa.Column("comment", sa.Text),
    sa.Column("reason_a", sa.Text, nullable=False),
    sa.Column("reason_b", sa.Text, nullable=False),
    sa.Column("context", sa.JSON),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("reviewer", "subject", "item_id", "arm_a_key", "arm_b_key", name="uq_judgements_identity"),
)  # fmt: skip
pseudonym_key = sa.Table(
    "pseudonym_key", metadata,
    sa.Column("fingerprint", sa.String(16), primary_key=True),  # Pseudonyms.fingerprint of the store's key
    sa.Column("created_at", UTCDateTime, nullable=False),
)  # fmt: skip
reasons = sa.Table(
    "reasons", metadata,
    sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.run_id"), primary_key=True),
    sa.Column("item_id", sa.Text, primary_key=True),
    sa.Column("generator", sa.Text, primary_key=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("options", sa.JSON),
    sa.Column("context", sa.JSON),
    sa.Column("created_at", UTCDateTime, nullable=False),
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


_V3_LATEST_WINS = ("like", "dislike", "not_interested", "rating", "reason_rating", "reason_faithful")


def _v3(conn: sa.Connection) -> None:
    """Latest-wins events (a slot per event, older duplicates removed), pairwise judgements, reason texts."""
    md = sa.MetaData()
    sa.Table(
        "judgements", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("reviewer", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("item_id", sa.Text, nullable=False),
        sa.Column("arm_a_key", sa.Text, nullable=False),
        sa.Column("arm_b_key", sa.Text, nullable=False),
        sa.Column("config_a", sa.Text, nullable=False),
        sa.Column("config_b", sa.Text, nullable=False),
        sa.Column("run_id", sa.String(64)),
        sa.Column("shown_left", sa.String(1), nullable=False),
        sa.Column("choice", sa.String(3), nullable=False),
        sa.Column("faithful_a", sa.Boolean),
        sa.Column("faithful_b", sa.Boolean),
        sa.Column("comment", sa.Text),
        sa.Column("reason_a", sa.Text, nullable=False),
        sa.Column("reason_b", sa.Text, nullable=False),
        sa.Column("context", sa.JSON),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("reviewer", "subject", "item_id", "arm_a_key", "arm_b_key", name="uq_judgements_identity"),
    )  # fmt: skip
    sa.Table("runs", md, sa.Column("run_id", sa.String(64), primary_key=True))
    sa.Table(
        "reasons", md,
        sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.run_id"), primary_key=True),
        sa.Column("item_id", sa.Text, primary_key=True),
        sa.Column("generator", sa.Text, primary_key=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("options", sa.JSON),
        sa.Column("context", sa.JSON),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )  # fmt: skip
    md.create_all(conn, tables=[md.tables["judgements"], md.tables["reasons"]])
    conn.exec_driver_sql("ALTER TABLE events ADD COLUMN slot TEXT")
    conn.exec_driver_sql("CREATE INDEX ix_judgements_arms ON judgements (arm_a_key, arm_b_key)")
    # Before v3 every click of Like or Save reviews appended a row; the latest per slot is what the
    # person meant last, so the earlier duplicates go (they skewed every average) and the rest get slots.
    ev = sa.table(
        "events", sa.column("id"), sa.column("user_key"), sa.column("run_id"), sa.column("item_id"),
        sa.column("kind"), sa.column("generator"), sa.column("created_at", UTCDateTime), sa.column("slot"),
    )  # fmt: skip
    latest: dict[str, tuple[datetime, int]] = {}
    drop: list[int] = []
    for r in conn.execute(sa.select(ev).where(ev.c.kind.in_(_V3_LATEST_WINS)).order_by(ev.c.created_at, ev.c.id)):
        slot = event_slot(
            FeedbackEvent(user=r.user_key, run_id=r.run_id, item_id=r.item_id, kind=r.kind, generator=r.generator)
        )
        assert slot is not None
        if slot in latest:
            drop.append(latest[slot][1])
        latest[slot] = (r.created_at, r.id)
    for start in range(0, len(drop), 500):
        conn.execute(sa.delete(ev).where(ev.c.id.in_(drop[start : start + 500])))
    for slot, (_, row_id) in latest.items():
        conn.execute(sa.update(ev).where(ev.c.id == row_id).values(slot=slot))
    conn.exec_driver_sql("CREATE UNIQUE INDEX ux_events_slot ON events (slot)")


PSEUDONYM_INFO = "genre_pseudonym"
"""Key in ``Connection.info`` under which :func:`migrate` hands the migrations the database's :class:`Pseudonyms`."""


def _v4(conn: sa.Connection) -> None:
    """Pseudonymised user ids: every user key and reviewer name replaced by its keyed hash, slots recomputed."""
    pseudonym: Pseudonyms = conn.info[PSEUDONYM_INFO]
    now = datetime.now(UTC)
    pseudonym_key.create(conn)
    conn.execute(pseudonym_key.insert().values(fingerprint=pseudonym.fingerprint(), created_at=now))
    u = sa.table("users", sa.column("key"), sa.column("created_at", UTCDateTime))
    children = [sa.table(name, sa.column("user_key")) for name in ("sessions", "profiles", "runs", "events")]
    for key, created_at in list(conn.execute(sa.select(u.c.key, u.c.created_at))):
        new = pseudonym(key)
        if new == key:
            continue
        # The new parent row first, then the children, then the old row: foreign keys hold at every step.
        if conn.execute(sa.select(u.c.key).where(u.c.key == new)).first() is None:
            conn.execute(sa.insert(u).values(key=new, created_at=created_at or now))
        for child in children:
            conn.execute(sa.update(child).where(child.c.user_key == key).values(user_key=new))
        conn.execute(sa.delete(u).where(u.c.key == key))
    # A slot names its user: recompute every slot (cleared first, so no two rows collide midway).
    ev = sa.table(
        "events", sa.column("id"), sa.column("user_key"), sa.column("run_id"), sa.column("item_id"),
        sa.column("kind"), sa.column("generator"), sa.column("created_at", UTCDateTime), sa.column("slot"),
    )  # fmt: skip
    rows = list(conn.execute(sa.select(ev).where(ev.c.slot.is_not(None)).order_by(ev.c.created_at, ev.c.id)))
    conn.execute(sa.update(ev).where(ev.c.slot.is_not(None)).values(slot=None))
    latest: dict[str, int] = {}
    drop: list[int] = []
    for r in rows:
        slot = event_slot(
            FeedbackEvent(user=r.user_key, run_id=r.run_id, item_id=r.item_id, kind=r.kind, generator=r.generator)
        )
        assert slot is not None
        if slot in latest:  # only when a store held one person under both the clear id and the pseudonym
            drop.append(latest[slot])
        latest[slot] = r.id
    for start in range(0, len(drop), 500):
        conn.execute(sa.delete(ev).where(ev.c.id.in_(drop[start : start + 500])))
    for slot, row_id in latest.items():
        conn.execute(sa.update(ev).where(ev.c.id == row_id).values(slot=slot))
    j = sa.table("judgements", sa.column("id"), sa.column("reviewer"))
    for row_id, reviewer in list(conn.execute(sa.select(j.c.id, j.c.reviewer))):
        if pseudonym(reviewer) != reviewer:
            conn.execute(sa.update(j).where(j.c.id == row_id).values(reviewer=pseudonym(reviewer)))


@dataclass(frozen=True)
class Migration:
    """One schema step; ``apply`` runs inside the opening transaction."""

    version: int
    description: str
    apply: Callable[[sa.Connection], None]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "users, runs and item feedback events", _v1),
    Migration(2, "reason feedback, sessions, saved profiles, indexes", _v2),
    Migration(3, "latest-wins feedback events, pairwise judgements, reason texts", _v3),
    Migration(4, "pseudonymised user ids and reviewer names, the key's fingerprint", _v4),
)
SCHEMA_VERSION = MIGRATIONS[-1].version


def migrate(db: Database) -> int:
    """Apply the migrations ``db`` lacks, in one transaction; returns the schema version it now has."""
    with db.write("opening it") as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_ID})"))
        if not sa.inspect(conn).has_table("schema_version"):
            schema_version.create(conn)
        current = conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar() or 0
        if current > SCHEMA_VERSION:
            raise StoreUnavailableError(
                f"the feedback store {db.where} has schema v{current}, written by a newer GENRE; this "
                f"version knows up to v{SCHEMA_VERSION}: upgrade GENRE or point {ENV_URL} elsewhere"
            )
        conn.info[PSEUDONYM_INFO] = db.pseudonym
        for m in MIGRATIONS:
            if m.version > current:
                m.apply(conn)
                conn.execute(
                    schema_version.insert().values(
                        version=m.version, description=m.description, applied_at=datetime.now(UTC)
                    )
                )
        _check_key(db, conn)
    return SCHEMA_VERSION


def _check_key(db: Database, conn: sa.Connection) -> None:
    """Refuse a key other than the one the store's pseudonyms were made with."""
    stored = conn.execute(sa.select(pseudonym_key.c.fingerprint)).scalars().first()
    mine = db.pseudonym.fingerprint()
    if stored is not None and stored != mine:
        raise StoreUnavailableError(
            f"the feedback store {db.where} holds user ids pseudonymised with another key (fingerprint "
            f"{stored}; this process has {mine}): set {ENV_KEY} to the key it was made with (or restore the "
            "cache dir's user_id_key file); with another key no user would find their feedback"
        )


def applied_versions(db: Database) -> list[int]:
    """Versions recorded in ``schema_version``, ascending."""
    with db.read("reading the schema version") as conn:
        return list(conn.execute(sa.select(schema_version.c.version).order_by(schema_version.c.version)).scalars())
