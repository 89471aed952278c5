import multiprocessing as mp
import os
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from genre.core.errors import FeedbackError, StoreUnavailableError
from genre.core.types import Intent, RankedItem, ReasonOut, RunTrace, UserContext
from genre.feedback import FeedbackEvent
from genre.feedback.store import SCHEMA_VERSION, EventFilter, FeedbackStore, default_url

T0 = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
FORK = mp.get_context("fork")


def make_trace(run_id: str, shown: list[str], user: str | None = "ann", generator: str = "template") -> RunTrace:
    items = [
        RankedItem(
            rank=n, item_id=i, title=i.upper(), categories=[], score=1.0 / n, scores={}, normalized={},
            contributions={}, evidence={}, reason=ReasonOut(text=f"because {i}", generator=generator),
        )
        for n, i in enumerate(shown, start=1)
    ]  # fmt: skip
    return RunTrace(
        run_id=run_id, created_at=T0, config_name="tiny", config={"explain": {"component": generator}},
        device="cpu", user=UserContext(user_id=user), history=[], intent=Intent(), candidates={},
        scorers=[], items=items, timings=[],
    )  # fmt: skip


@pytest.fixture
def url(store_url) -> str:
    return store_url


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'fb' / 'feedback.sqlite3'}"


def _sqlite(url: str) -> sqlite3.Connection:
    return sqlite3.connect(url.removeprefix("sqlite:///"))


# ---- opening, pragmas, URL -----------------------------------------------------------------


def test_sqlite_store_is_wal_with_foreign_keys_and_current_schema(sqlite_url):
    store = FeedbackStore(sqlite_url)
    assert store.version == SCHEMA_VERSION and store.applied_migrations() == list(range(1, SCHEMA_VERSION + 1))
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
    store.close()


def test_store_opens_with_the_current_schema_on_each_backend(store):
    assert store.version == SCHEMA_VERSION and store.applied_migrations() == list(range(1, SCHEMA_VERSION + 1))
    assert store.is_sqlite == store.url.startswith("sqlite")


def test_default_url_is_in_the_cache_dir_and_env_overrides(cache, monkeypatch, tmp_path):
    monkeypatch.delenv("GENRE_FEEDBACK_URL", raising=False)
    assert default_url() == f"sqlite:///{cache / 'feedback.sqlite3'}"
    other = f"sqlite:///{tmp_path / 'elsewhere.sqlite3'}"
    monkeypatch.setenv("GENRE_FEEDBACK_URL", other)
    with FeedbackStore() as s:
        assert s.url == other and (tmp_path / "elsewhere.sqlite3").exists()


# ---- unusable files ------------------------------------------------------------------------


def test_corrupt_file_gives_a_clear_error(tmp_path):
    path = tmp_path / "feedback.sqlite3"
    path.write_bytes(os.urandom(8192))
    with pytest.raises(StoreUnavailableError, match="not a SQLite database") as err:
        FeedbackStore(f"sqlite:///{path}")
    assert str(path) in str(err.value) and "move it aside" in str(err.value)
    assert "Traceback" not in str(err.value) and "sqlalchemy" not in str(err.value).lower()


def test_file_in_place_of_the_folder_gives_a_clear_error(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(StoreUnavailableError, match="permissions") as err:
        FeedbackStore(f"sqlite:///{blocker / 'feedback.sqlite3'}")
    assert str(blocker / "feedback.sqlite3") in str(err.value)


def test_folder_in_place_of_the_file_gives_a_clear_error(tmp_path):
    with pytest.raises(StoreUnavailableError, match=r"cannot write the feedback store .*fix the permissions") as err:
        FeedbackStore(f"sqlite:///{tmp_path}")
    assert str(tmp_path) in str(err.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_unwritable_folder_gives_a_clear_error(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(StoreUnavailableError, match="fix the permissions"):
            FeedbackStore(f"sqlite:///{folder / 'feedback.sqlite3'}")
    finally:
        folder.chmod(0o700)


# ---- validation ----------------------------------------------------------------------------

CATALOG = {"a", "b", "c", "d"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "lik"}, r"unknown feedback kind 'lik'.*valid kinds: like, dislike, rating, click, not_interested"),
        ({"kind": "rating", "value": 6}, r"rating 6 is out of range; ratings go from 1 to 5"),
        ({"kind": "rating", "value": 0}, r"rating 0 is out of range"),
        ({"kind": "rating"}, r"a rating needs a value between 1 and 5"),
        ({"kind": "reason_rating", "value": 9, "generator": "t"}, r"rating 9 is out of range"),
        ({"kind": "reason_faithful", "value": 0.5, "generator": "t"}, r"reason_faithful takes 1 .* or 0"),
        ({"kind": "like", "value": 3}, r"a like takes no value"),
        ({"kind": "reason_rating", "value": 4}, r"must name the generator"),
        ({"kind": "like", "run_id": "nope"}, r"unknown run id 'nope'"),
        ({"kind": "like", "run_id": "r1", "item_id": "d"}, r"item 'd' was not shown in run 'r1' \(shown: a, b, c\)"),
        ({"kind": "like", "item_id": "zz"}, r"item 'zz' is not in the catalog"),
        ({"kind": "like", "run_id": "r1", "user": "bob"}, r"run 'r1' belongs to another user"),
        ({"kind": "like", "user": " "}, r"user key is empty"),
    ],
)
def test_invalid_events_are_rejected_naming_the_problem(store, kwargs, message):
    store.record_run(make_trace("r1", ["a", "b", "c"]))
    args = {"user": "ann", "item_id": "a", **kwargs}
    with pytest.raises(FeedbackError, match=message):
        store.add_event(args.pop("user"), args.pop("item_id"), args.pop("kind"), catalog_ids=CATALOG, **args)
    assert store.count_events() == 0


def test_values_postgresql_cannot_hold_are_refused_alike_on_both_backends(store):
    # PostgreSQL refuses NUL in text and enforces VARCHAR(64) ids; SQLite would store both. Either way
    # the caller gets a FeedbackError (a 4xx), never "the store is unavailable".
    with pytest.raises(FeedbackError, match="the run id is 65 characters long; the limit is 64"):
        store.record_run(make_trace("r" * 65, ["a"]))
    with pytest.raises(FeedbackError, match=r"the item id 'a\\x00' contains a NUL character"):
        store.add_events(
            [
                FeedbackEvent(user="ann", item_id="b", kind="like"),
                FeedbackEvent(user="ann", item_id="a\x00", kind="like"),
            ]
        )
    with pytest.raises(FeedbackError, match="run id is 70 characters long"):
        store.add_event("ann", "a", "like", run_id="x" * 70)
    with pytest.raises(FeedbackError, match=r"the profile name 'p\\x00' contains a NUL"):
        store.save_profile("ann", "p\x00", {})
    assert store.count_events() == 0 and store.list_profiles("ann") == []


def test_data_errors_from_the_database_are_the_callers_errors(store):
    from genre.feedback.store.schema import runs

    # Past the store's own checks, straight into the database: PostgreSQL raises a DataError for the
    # over-long id (SQLite, which stores it, gets a NULL id instead: an IntegrityError).
    run_id = None if store.is_sqlite else "r" * 65
    refused = pytest.raises(FeedbackError, match="writing a run: the store refused the data")
    with refused, store.db.write("writing a run") as conn:
        conn.execute(runs.insert().values(run_id=run_id, user_key="x", created_at=T0))


def test_one_bad_event_rejects_its_whole_batch(store):
    good = [FeedbackEvent(user="ann", item_id=i, kind="like") for i in "ab"]
    bad = FeedbackEvent(user="ann", item_id="c", kind="rating", value=11)
    with pytest.raises(FeedbackError, match="event 3: rating event on item 'c': rating 11"):
        store.add_events([*good, bad])
    assert store.count_events() == 0


def test_event_on_a_run_takes_config_and_generator_from_it(store):
    store.record_run(make_trace("r1", ["a", "b"], generator="smollm2"))
    store.record_run(make_trace("r1", ["a", "b"], generator="smollm2"))  # recording twice is a no-op
    e = store.add_event("ann", "b", "reason_rating", 2, run_id="r1")
    assert (e.generator, e.config_name, e.id) == ("smollm2", "tiny", 1)
    assert store.run_items("r1") == ["a", "b"]
    anon = make_trace("r2", ["c"], user=None)
    store.record_run(anon)
    assert store.add_event("anonymous", "c", "click", run_id="r2").run_id == "r2"


def test_filters_and_generator_acceptance(store):
    store.record_run(make_trace("r1", ["a", "b", "c"], generator="smollm2"))
    store.add_events(
        [
            FeedbackEvent(user="ann", item_id="a", kind="reason_rating", value=5, run_id="r1", created_at=T0),
            FeedbackEvent(user="ann", item_id="b", kind="reason_rating", value=2, run_id="r1", created_at=T0),
            FeedbackEvent(user="ann", item_id="a", kind="reason_faithful", value=1, run_id="r1", created_at=T0),
            FeedbackEvent(user="ann", item_id="c", kind="reason_faithful", value=0, generator="template",
                          created_at=T0 + timedelta(days=1)),
            FeedbackEvent(user="bob", item_id="c", kind="dislike", created_at=T0 + timedelta(days=2)),
        ]
    )  # fmt: skip
    acc = store.generator_acceptance()
    assert set(acc) == {"smollm2", "template"}
    assert (acc["smollm2"].n, acc["smollm2"].mean_rating, acc["smollm2"].faithful_rate) == (3, 3.5, 1.0)
    assert (acc["template"].n, acc["template"].mean_rating, acc["template"].faithful_rate) == (1, None, 0.0)
    assert [e.item_id for e in store.events(EventFilter(kinds=["reason_rating"]))] == ["a", "b"]
    # events carry the stored pseudonyms; a filter takes the clear id
    assert [e.user for e in store.events(EventFilter(since=T0 + timedelta(hours=1)))] == [
        store.user_key("ann"), store.user_key("bob"),
    ]  # fmt: skip
    assert [e.item_id for e in store.events(EventFilter(user="bob"))] == ["c"]
    assert [e.kind for e in store.events(EventFilter(limit=1))] == ["dislike"]
    assert [e.item_id for e in store.events_for_user("bob")] == ["c"]
    with pytest.raises(FeedbackError, match="unknown feedback kinds nope"):
        store.events(EventFilter(kinds=["nope"]))


def test_saved_profiles(store):
    ctx = UserContext(user_id="ann", profile="I like camping")
    store.save_profile("ann", "weekend", ctx)
    store.save_profile("ann", "work", {"profile": "kitchen"})
    store.save_profile("ann", "work", {"profile": "coffee"})  # overwrite
    assert store.list_profiles("ann") == ["weekend", "work"]
    assert UserContext.model_validate(store.load_profile("ann", "weekend")) == ctx
    assert store.load_profile("ann", "work") == {"profile": "coffee"}
    with pytest.raises(FeedbackError, match="no saved profile 'home'; saved: weekend, work"):
        store.load_profile("ann", "home")
    assert store.delete_profile("ann", "work") and store.list_profiles("ann") == ["weekend"]


# ---- export / import -----------------------------------------------------------------------


def _varied_events(store) -> list[FeedbackEvent]:
    store.record_run(make_trace("r1", ["a", "b", "c"]))
    return store.add_events(
        [
            FeedbackEvent(user="ann", item_id="a", kind="like", run_id="r1", created_at=T0),
            FeedbackEvent(user="ann", item_id="b", kind="rating", value=3.3000000000000003, run_id="r1",
                          comment='Great, "really"\nsecond line; ünïcode ✓', created_at=T0 + timedelta(seconds=1)),
            FeedbackEvent(user="ann", item_id="c", kind="reason_faithful", value=0.0, run_id="r1",
                          created_at=datetime(2026, 3, 2, 0, 0, 0, tzinfo=UTC)),
            FeedbackEvent(user="bob, jr", item_id="d", kind="dislike", comment=" ", config_name="other",
                          created_at=datetime(2026, 3, 3, 9, 0, 0, 1)),  # naive: read as UTC
            FeedbackEvent(user="bob, jr", item_id="e", kind="reason_rating", value=5, generator="smollm2"),
        ]
    )  # fmt: skip


@pytest.mark.parametrize("suffix", ["csv", "jsonl"])
def test_export_import_round_trip_is_exact(store, other_url, tmp_path, suffix):
    original = _varied_events(store)
    assert store.events() == original and original[3].comment == " " and original[0].value is None
    first = tmp_path / f"first.{suffix}"
    assert getattr(store, f"export_{suffix}")(first) == 5

    with FeedbackStore(other_url) as other:
        assert other.import_file(first) == 5
        assert other.events() == original
        second = tmp_path / f"second.{suffix}"
        getattr(other, f"export_{suffix}")(second)
        assert second.read_bytes() == first.read_bytes()
        assert other.import_file(first) == 0  # importing again adds nothing
        assert other.run_items("r1") is None  # the run is known, its shown items are not
        assert other.import_file(first, keep_ids=False) == 5
        # Every kind here is latest-wins: merging the same export again replaces each event in its slot.
        assert other.count_events() == 5


def test_import_rejects_conflicts_and_bad_files(store, other_url, tmp_path):
    _varied_events(store)
    path = tmp_path / "x.csv"
    store.export_csv(path)
    with FeedbackStore(other_url) as other:
        other.add_event("zed", "q", "click")  # takes id 1
        with pytest.raises(FeedbackError, match="event id 1 is already stored with different content"):
            other.import_file(path)
        assert other.count_events() == 1
    bad = tmp_path / "bad.csv"
    bad.write_text("id,who\n1,ann\n")
    with pytest.raises(FeedbackError, match="missing columns: user, run_id"):
        store.import_file(bad)
    rows = path.read_text().splitlines()
    (tmp_path / "bad2.csv").write_text("\n".join([rows[0], rows[1].replace(",like,", ",liek,")]) + "\n")
    with pytest.raises(FeedbackError, match=r"bad2.csv, line 2: unknown feedback kind 'liek'"):
        store.import_file(tmp_path / "bad2.csv")
    with pytest.raises(FeedbackError, match=r"use a \.csv or \.jsonl export"):
        store.import_file(tmp_path / "x.parquet")


# ---- migrations ----------------------------------------------------------------------------

V1_DDL = """
CREATE TABLE schema_version (version INTEGER NOT NULL PRIMARY KEY, description TEXT NOT NULL, applied_at DATETIME NOT NULL);
CREATE TABLE users (id INTEGER NOT NULL PRIMARY KEY, "key" TEXT NOT NULL UNIQUE, created_at DATETIME NOT NULL);
CREATE TABLE runs (run_id VARCHAR(64) NOT NULL PRIMARY KEY, user_key TEXT NOT NULL REFERENCES users ("key"),
    config_name TEXT, created_at DATETIME NOT NULL, shown JSON);
CREATE TABLE events (id INTEGER NOT NULL PRIMARY KEY, user_key TEXT NOT NULL REFERENCES users ("key"),
    run_id VARCHAR(64) REFERENCES runs (run_id), item_id TEXT NOT NULL, kind TEXT NOT NULL, value FLOAT,
    comment TEXT, created_at DATETIME NOT NULL);
INSERT INTO schema_version VALUES (1, 'users, runs and item feedback events', '2025-01-01 00:00:00.000000');
INSERT INTO users VALUES (1, 'ann', '2025-01-01 00:00:00.000000');
INSERT INTO runs VALUES ('old', 'ann', 'tiny', '2025-01-01 00:00:00.000000', '["a", "b"]');
INSERT INTO events VALUES (1, 'ann', 'old', 'a', 'like', NULL, NULL, '2025-01-01 00:00:01.000000');
INSERT INTO events VALUES (2, 'ann', 'old', 'b', 'rating', 5.0, 'loved it', '2025-01-01 00:00:02.500000');
"""


def test_opening_a_v1_database_migrates_it(tmp_path):
    path = tmp_path / "v1.sqlite3"
    with sqlite3.connect(path) as raw:
        raw.executescript(V1_DDL)
    url = f"sqlite:///{path}"
    with FeedbackStore(url) as s:
        assert s.applied_migrations() == list(range(1, SCHEMA_VERSION + 1))
        old = s.events_for_user("ann")
        assert [(e.item_id, e.kind, e.value, e.comment, e.generator) for e in old] == [
            ("a", "like", None, None, None), ("b", "rating", 5.0, "loved it", None),
        ]  # fmt: skip
        assert old[1].created_at == datetime(2025, 1, 1, 0, 0, 2, 500000, tzinfo=UTC)
        new = s.add_event("ann", "b", "reason_rating", 4, run_id="old", generator="template")
        assert (new.id, new.config_name) == (3, "tiny")
        s.save_profile("ann", "p", {"x": 1})
    with FeedbackStore(url) as s:  # opening again changes nothing
        assert s.applied_migrations() == list(range(1, SCHEMA_VERSION + 1)) and s.count_events() == 3
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert raw.execute("PRAGMA foreign_key_check").fetchall() == []


def test_a_database_from_a_newer_version_is_refused(store, url):
    store.close()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO schema_version VALUES (99, 'future', '2030-01-01 00:00:00')")
    engine.dispose()
    with pytest.raises(StoreUnavailableError, match="schema v99, written by a newer GENRE"):
        FeedbackStore(url)
