"""The store under concurrent writers, killed writers and a PostgreSQL server that is unreachable or drops connections.

Each test runs on SQLite and on PostgreSQL (``store_url``) unless it is about the server itself.
"""

import multiprocessing as mp
import os
import signal
import socket
import sqlite3
import time

import pytest
import sqlalchemy as sa

from genre.core.errors import StoreUnavailableError
from genre.feedback import FeedbackEvent
from genre.feedback.store import SCHEMA_VERSION, EventFilter, FeedbackStore
from tests.feedback.test_store import _sqlite

FORK = mp.get_context("fork")


@pytest.fixture
def url(store_url) -> str:
    return store_url


# ---- concurrency and crashes ---------------------------------------------------------------


def _all_at_once(target, args: list[tuple]) -> list[int | None]:
    """Fork one process per argument tuple, release them together (``start`` is their last argument), and
    return their exit codes."""
    start = FORK.Event()
    procs = [FORK.Process(target=target, args=(*a, start)) for a in args]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(60)
    return [p.exitcode for p in procs]


def _writer(url: str, user: str, n: int, start) -> None:
    start.wait(30)
    store = FeedbackStore(url)
    half = n // 2
    for i in range(half):  # one transaction per event ...
        store.add_event(user, f"i{i}", "click")
    for b in range(half, n, 25):  # ... and batches
        store.add_events([FeedbackEvent(user=user, item_id=f"i{i}", kind="like") for i in range(b, min(b + 25, n))])
    store.close()


def test_concurrent_writer_processes_lose_nothing(store, url):
    store.close()  # no open connection crosses the fork
    assert _all_at_once(_writer, [(url, f"w{p}", 500) for p in range(8)]) == [0] * 8
    with FeedbackStore(url) as s:
        assert s.count_events() == 4000
        for p in range(8):
            evs = s.events_for_user(f"w{p}")
            assert sorted(e.item_id for e in evs) == sorted(f"i{i}" for i in range(500))
        assert len({e.id for e in s.events()}) == 4000


def _opener(url: str, start) -> None:
    start.wait(30)
    with FeedbackStore(url) as s:
        s.add_event("ann", "a", "click")


def test_processes_opening_a_new_database_at_once_all_migrate_it_once(url):
    # No store has opened the database yet: every process finds it empty and migrates (PostgreSQL under
    # an advisory lock, SQLite under BEGIN IMMEDIATE); exactly one creates the tables.
    assert _all_at_once(_opener, [(url,)] * 8) == [0] * 8
    with FeedbackStore(url) as s:
        assert s.count_events() == 8 and s.applied_migrations() == list(range(1, SCHEMA_VERSION + 1))


def _killed_writer(url: str, pipe) -> None:
    store = FeedbackStore(url)

    def slow_batch():
        for i in range(250):
            yield FeedbackEvent(user="victim", item_id=f"v{i}", kind="click")
        pipe.send("inside the transaction")  # 200 rows are written, uncommitted
        time.sleep(60)

    store.add_events(slow_batch())


def _looping_writer(url: str) -> None:
    store = FeedbackStore(url)
    for b in range(10_000):
        store.add_events([FeedbackEvent(user="looper", item_id=f"l{b}-{i}", kind="click") for i in range(100)])


def _visible_events(url: str) -> int:
    """Committed events, counted through a connection of its own (not the store's)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.exec_driver_sql("SELECT count(*) FROM events").scalar_one())
    finally:
        engine.dispose()


def _assert_writer_holds_its_lock(url: str) -> None:
    if url.startswith("sqlite"):
        with _sqlite(url) as raw:
            raw.execute("PRAGMA busy_timeout = 50")
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                raw.execute("BEGIN IMMEDIATE")
    else:
        engine = sa.create_engine(url)
        with engine.connect() as conn:  # the victim's backend sits inside its open transaction
            states = conn.exec_driver_sql(
                "SELECT state FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).scalars()
            assert "idle in transaction" in list(states)
        engine.dispose()


def _assert_intact(url: str) -> None:
    if url.startswith("sqlite"):
        with _sqlite(url) as raw:
            assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            raw.execute("PRAGMA busy_timeout = 0")  # a lock still held would fail here at once, not wait
            raw.execute("BEGIN IMMEDIATE")  # the killed writer's lock is gone
            raw.execute("ROLLBACK")


def test_writer_killed_mid_transaction_leaves_the_store_consistent(store, url):
    before = store.add_events([FeedbackEvent(user="ann", item_id=f"k{i}", kind="like") for i in range(50)])
    store.close()
    parent, child = FORK.Pipe()
    proc = FORK.Process(target=_killed_writer, args=(url, child))
    proc.start()
    assert parent.poll(30), "the writer never reached the middle of its transaction"
    assert parent.recv() == "inside the transaction"
    assert _visible_events(url) == 50  # the batch is written but not committed: readers do not see it ...
    _assert_writer_holds_its_lock(url)  # ... and the writer is inside its transaction
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(10)
    assert proc.exitcode == -signal.SIGKILL

    _assert_intact(url)
    with FeedbackStore(url) as s:
        assert s.events() == before  # no partial batch; the other rows intact
        after = s.add_event("ann", "after", "like")
        assert s.events() == [*before, after] and s.count_events() == 51  # nothing lost, nothing written twice
        assert s.events(EventFilter(user="victim")) == []
        if s.is_sqlite:
            assert after.id == 51


def test_writer_killed_at_a_random_moment_commits_whole_batches_only(store, url):
    store.close()
    proc = FORK.Process(target=_looping_writer, args=(url,))
    proc.start()
    with FeedbackStore(url) as s:
        deadline = time.monotonic() + 30
        while s.count_events() < 300 and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(10)
        n = s.count_events()
        assert n >= 300 and n % 100 == 0
    _assert_intact(url)


# ---- the PostgreSQL server ------------------------------------------------------------------


def test_an_unreachable_postgresql_server_is_a_clear_error_without_the_password():
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(StoreUnavailableError, match="cannot reach the PostgreSQL feedback store") as err:
        FeedbackStore(f"postgresql+psycopg://genre:s3cret@127.0.0.1:{port}/feedback")
    assert "genre:***@127.0.0.1" in str(err.value) and "s3cret" not in str(err.value)
    assert "GENRE_FEEDBACK_URL" in str(err.value)


def test_a_connection_the_server_dropped_is_replaced_and_nothing_is_lost(pg_url):
    store = FeedbackStore(pg_url)
    first = store.add_event("ann", "a", "like")
    admin = sa.create_engine(pg_url)
    with admin.connect() as conn:  # as a server restart or a failover would
        killed = conn.exec_driver_sql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).scalar_one()
    admin.dispose()
    assert killed >= 1  # the store's pooled connection was among them
    second = store.add_event("ann", "b", "like")
    assert store.events() == [first, second]
    store.close()
