"""The feedback store on SQLite and PostgreSQL: concurrent writers, reads, export, import, forget.

Usage: scripts/pg_test_server.sh .venv/bin/python bench/store_backends.py [--writers 8] [--events 500]

Without ``GENRE_TEST_PG_URL`` (set by scripts/pg_test_server.sh, or any PostgreSQL URL whose
database may be written) only SQLite is measured. For each backend: ``--writers`` processes each
store ``--events`` events (half one transaction per event, half in batches of 25, as the store
tests do) into a fresh database; then one process reads every event, exports them as CSV,
imports that export into a second fresh database, and forgets one writer. Every figure is wall
time on this machine; the event count afterwards is checked (nothing lost).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("GENRE_USER_ID_KEY", "bench-key-0123456789abcdef")

import sqlalchemy as sa

from genre.feedback import FeedbackEvent
from genre.feedback.store import FeedbackStore

FORK = mp.get_context("fork")


def _writer(url: str, user: str, n: int, start) -> None:
    start.wait(60)
    with FeedbackStore(url) as store:
        half = n // 2
        for i in range(half):
            store.add_event(user, f"i{i}", "click")
        for b in range(half, n, 25):
            store.add_events([FeedbackEvent(user=user, item_id=f"i{i}", kind="like") for i in range(b, min(b + 25, n))])


@contextmanager
def database(backend: str, tmp: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp / f'{uuid.uuid4().hex}.sqlite3'}"
        return
    base = sa.engine.make_url(os.environ["GENRE_TEST_PG_URL"])
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def measure(backend: str, writers: int, events: int, tmp: Path) -> dict[str, float]:
    out: dict[str, float] = {}
    with database(backend, tmp) as url, database(backend, tmp) as other:
        FeedbackStore(url).close()
        start = FORK.Event()
        procs = [FORK.Process(target=_writer, args=(url, f"w{p}", events, start)) for p in range(writers)]
        for p in procs:
            p.start()
        t0 = time.perf_counter()
        start.set()
        for p in procs:
            p.join(600)
        out["write_s"] = time.perf_counter() - t0
        if [p.exitcode for p in procs] != [0] * writers:
            raise SystemExit(f"{backend}: a writer failed: exit codes {[p.exitcode for p in procs]}")
        with FeedbackStore(url) as s:
            t0 = time.perf_counter()
            n = len(s.events())
            out["read_all_s"] = time.perf_counter() - t0
            if n != writers * events:
                raise SystemExit(f"{backend}: {n} events stored, expected {writers * events}")
            t0 = time.perf_counter()
            s.export_csv(tmp / f"{backend}.csv")
            out["export_csv_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            deleted = s.forget_user("w0")
            out["forget_s"] = time.perf_counter() - t0
            if deleted["events"] != events:
                raise SystemExit(f"{backend}: forget deleted {deleted['events']} events, expected {events}")
        with FeedbackStore(other) as o:
            t0 = time.perf_counter()
            o.import_file(tmp / f"{backend}.csv")
            out["import_csv_s"] = time.perf_counter() - t0
        out["events"] = float(n)
        out["events_per_s"] = n / out["write_s"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--events", type=int, default=500)
    args = ap.parse_args()
    backends = ["sqlite"] + (["postgresql"] if os.environ.get("GENRE_TEST_PG_URL") else [])
    print(f"{args.writers} writer processes x {args.events} events, {os.cpu_count()} CPUs")
    print(
        f"{'backend':<11} {'events':>7} {'write s':>8} {'ev/s':>7} {'read s':>7} {'export s':>9} {'import s':>9} {'forget s':>9}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            r = measure(backend, args.writers, args.events, Path(tmp))
            print(
                f"{backend:<11} {int(r['events']):>7} {r['write_s']:>8.2f} {r['events_per_s']:>7.0f} "
                f"{r['read_all_s']:>7.2f} {r['export_csv_s']:>9.2f} {r['import_csv_s']:>9.2f} {r['forget_s']:>9.3f}"
            )
    if "postgresql" not in backends:
        print("PostgreSQL not measured: run through scripts/pg_test_server.sh (sets GENRE_TEST_PG_URL)")


if __name__ == "__main__":
    main()
