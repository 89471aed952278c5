"""Privacy in the store: pseudonymised user ids, migrating clear ids, forgetting a user (store and CLI)."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
import warnings
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from genre.core.errors import FeedbackError, GenreWarning, StoreUnavailableError
from genre.feedback import FeedbackEvent
from genre.feedback.pairwise import Arm, Judgement
from genre.feedback.store import MIGRATIONS, SCHEMA_VERSION, FeedbackStore
from genre.feedback.store.engine import Database
from genre.feedback.store.erasure import ERASED_TABLES
from genre.feedback.store.pseudonyms import ENV_KEY, KEY_FILE, Pseudonyms, is_pseudonym
from genre.feedback.store.schema import PSEUDONYM_INFO, events, judgements, profiles, runs, schema_version, users
from tests.conftest import ROOT
from tests.feedback.test_store import T0, make_trace

CLEAR = ("ann@example.com", "bob", "Ann Reviewer")
"""The clear ids the tests store; none of them may appear in any table."""
TUNED = Arm(generator="tuned-local", config_name="movies")
TEMPLATE = Arm(generator="template", config_name="movies")


def judge(reviewer: str, item: str = "1", comment: str | None = None) -> Judgement:
    return Judgement.from_screen(
        reviewer=reviewer, item_id=item, left_arm=TUNED, right_arm=TEMPLATE, left_reason="l", right_reason="r",
        pick="left", created_at=T0, comment=comment,
    )  # fmt: skip


def every_cell(url: str) -> list[str]:
    """Every text cell of every table, read past the store (JSON columns as their text)."""
    engine = sa.create_engine(url)
    cells: list[str] = []
    try:
        with engine.connect() as conn:
            for table in sa.inspect(conn).get_table_names():
                for row in conn.execute(sa.text(f"SELECT * FROM {table}")):
                    cells += [json.dumps(v) if isinstance(v, dict | list) else str(v) for v in row]
    finally:
        engine.dispose()
    return cells


def fill(store: FeedbackStore) -> None:
    """One of everything a user leaves behind, for ann@example.com, bob and a reviewer."""
    session = store.start_session("ann@example.com")
    store.record_run(make_trace("r1", ["a", "b"], user="ann@example.com"), session_id=session)
    store.record_reasons("r1", [("a", "template", "because a", None)])
    store.add_events(
        [
            FeedbackEvent(user="ann@example.com", item_id="a", kind="like", run_id="r1"),
            FeedbackEvent(user="ann@example.com", item_id="b", kind="reason_rating", value=4, run_id="r1"),
            FeedbackEvent(user="ann@example.com", item_id="c", kind="click"),
            FeedbackEvent(user="bob", item_id="a", kind="dislike"),
        ]
    )
    store.save_profile("ann@example.com", "weekend", {"profile": "I like camping"})
    store.save_judgement(judge("Ann Reviewer"))
    store.save_judgement(judge("bob", item="2"))


# ---- pseudonyms ----------------------------------------------------------------------------


def test_no_clear_user_id_reaches_the_database_and_callers_keep_using_them(store_url):
    with FeedbackStore(store_url) as store:
        fill(store)
        assert all(cell not in CLEAR for cell in every_cell(store_url))
        assert not any(name in cell for cell in every_cell(store_url) for name in ("ann@example.com", "Ann Reviewer"))
        ann = store.user_key("ann@example.com")
        assert is_pseudonym(ann) and ann != store.user_key("bob")
        assert [e.kind for e in store.events_for_user("ann@example.com")] == ["like", "reason_rating", "click"]
        assert {e.user for e in store.events_for_user("ann@example.com")} == {ann}
        assert store.list_profiles("ann@example.com") == ["weekend"]
        assert store.load_profile("ann@example.com", "weekend") == {"profile": "I like camping"}
        assert [j.item_id for j in store.judgements(reviewer="Ann Reviewer")] == ["1"]
        assert store.user_key(ann) == ann  # a pseudonym passed back in is kept: exports import unchanged
        # the run belongs to ann: bob may not give feedback on it, and the error does not name her
        with pytest.raises(FeedbackError, match="belongs to another user") as err:
            store.add_event("bob", "a", "like", run_id="r1")
        assert "ann" not in str(err.value)


def test_sql_logging_at_debug_shows_neither_bound_values_nor_rows(store_url, caplog):
    # An operator chasing a slow query turns SQLAlchemy's logger up; users' free text must not follow.
    caplog.set_level(logging.DEBUG, logger="sqlalchemy.engine")
    with FeedbackStore(store_url) as store:
        fill(store)
        store.add_event("bob", "a", "reason_rating", value=2, comment="Lemur-wombat 9120 says no", generator="template")
        assert any(e.comment for e in store.events_for_user("bob"))
        store.load_profile("ann@example.com", "weekend")
    logged = caplog.text
    assert "SELECT" in logged and "INSERT" in logged  # the statements are there, only the values are not
    assert "Lemur-wombat" not in logged and "I like camping" not in logged


def test_the_same_key_gives_the_same_pseudonym_and_another_key_another(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'a.sqlite3'}"
    with FeedbackStore(url) as s:
        s.add_event("ann", "a", "like")
        first = s.user_key("ann")
    with FeedbackStore(url) as s:  # reopened with the same key ($GENRE_USER_ID_KEY)
        assert s.user_key("ann") == first and len(s.events_for_user("ann")) == 1
    other = Pseudonyms("another-key-0123456789")
    assert other("ann") != first  # another key, another pseudonym: so the store refuses to open with it
    with pytest.raises(StoreUnavailableError, match=r"pseudonymised with another key .*set GENRE_USER_ID_KEY") as err:
        FeedbackStore(url, user_id_key="another-key-0123456789")
    assert "another-key" not in str(err.value) and other.fingerprint() in str(err.value)
    monkeypatch.setenv(ENV_KEY, "too-short")
    with pytest.raises(StoreUnavailableError, match=f"{ENV_KEY} is 9 characters long; use at least 16"):
        FeedbackStore(url)


def test_without_the_variable_a_key_file_is_created_once_with_mode_0600(cache, monkeypatch, tmp_path):
    monkeypatch.delenv(ENV_KEY)
    url = f"sqlite:///{tmp_path / 'k.sqlite3'}"
    with pytest.warns(GenreWarning, match=f"created a random key .*{KEY_FILE}.* or set {ENV_KEY}"):
        first = FeedbackStore(url)
    key_file = cache / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and len(key_file.read_text().strip()) == 64
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the second opening finds the key: no warning
        second = FeedbackStore(url)
    assert first.user_key("ann") == second.user_key("ann") == Pseudonyms(key_file.read_text().strip())("ann")
    first.close()
    second.close()
    assert not [p for p in cache.iterdir() if p.name.endswith(".partial")]


# ---- migrating a store that holds clear ids ------------------------------------------------


def store_at(url: str, version: int) -> None:
    """A database that stopped at schema ``version``, filled with clear ids as that version stored them."""
    db = Database(url)
    with db.write("building an old store") as conn:
        schema_version.create(conn)
        conn.info[PSEUDONYM_INFO] = db.pseudonym
        for m in MIGRATIONS[:version]:
            m.apply(conn)
            conn.execute(schema_version.insert().values(version=m.version, description="old", applied_at=T0))
            if m.version == 1:
                conn.execute(users.insert(), [{"key": u, "created_at": T0} for u in ("ann@example.com", "bob")])
                conn.execute(
                    runs.insert().values(
                        run_id="old", user_key="ann@example.com", config_name="tiny", created_at=T0, shown=["a", "b"]
                    )
                )
                rows = [
                    ("ann@example.com", "old", "a", "like", None, None),
                    ("ann@example.com", "old", "b", "rating", 5.0, "loved it"),
                    ("bob", None, "c", "click", None, None),
                ]
                keys = ("user_key", "run_id", "item_id", "kind", "value", "comment")
                conn.execute(events.insert(), [{**dict(zip(keys, r, strict=True)), "created_at": T0} for r in rows])
            if m.version == 2:
                conn.execute(
                    profiles.insert().values(user_key="bob", name="p", payload={"profile": "x"}, updated_at=T0)
                )
            if m.version == 3:
                row = {
                    "reviewer": "Ann Reviewer", "subject": "", "item_id": "1", "arm_a_key": TEMPLATE.key,
                    "arm_b_key": TUNED.key, "config_a": "movies", "config_b": "movies", "shown_left": "b",
                    "choice": "b", "reason_a": "r", "reason_b": "l", "created_at": T0,
                }  # fmt: skip
                conn.execute(judgements.insert().values(**row))
    db.close()


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION))
def test_every_older_schema_migrates_to_the_latest_with_ids_pseudonymised(store_url, version):
    store_at(store_url, version)
    assert "ann@example.com" in every_cell(store_url)
    with FeedbackStore(store_url) as s:
        assert s.applied_migrations() == list(range(1, SCHEMA_VERSION + 1))
        assert all(cell not in CLEAR for cell in every_cell(store_url))
        ann = s.events_for_user("ann@example.com")
        assert [(e.item_id, e.kind, e.value, e.comment) for e in ann] == [
            ("a", "like", None, None), ("b", "rating", 5.0, "loved it"),
        ]  # fmt: skip
        assert [e.kind for e in s.events_for_user("bob")] == ["click"]
        # the migrated rows' slots name the pseudonym: a new like replaces the old one, feedback on the run works
        s.add_event("ann@example.com", "a", "dislike", run_id="old", created_at=datetime.now(UTC))
        assert [e.kind for e in s.events_for_user("ann@example.com")] == ["rating", "dislike"]
        assert s.run_items("old") == ["a", "b"]
        if version >= 2:
            assert s.list_profiles("bob") == ["p"]
        if version >= 3:
            assert [j.item_id for j in s.judgements(reviewer="Ann Reviewer")] == ["1"]
    if store_url.startswith("sqlite"):
        engine = sa.create_engine(store_url)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
        engine.dispose()


# ---- forget ----------------------------------------------------------------------------------


def test_forget_user_erases_everything_of_that_user_and_nothing_else(store_url):
    with FeedbackStore(store_url) as s:
        fill(s)
        bob_before = (s.events_for_user("bob"), s.judgements(reviewer="bob"))
        counts = s.forget_user("ann@example.com")
        assert tuple(counts) == ERASED_TABLES
        assert counts == {
            "events": 3, "judgements": 0, "reasons": 1, "runs": 1, "profiles": 1, "sessions": 1, "users": 1,
        }  # fmt: skip
        assert s.events_for_user("ann@example.com") == [] and s.list_profiles("ann@example.com") == []
        assert s.reasons("r1") == [] and s.count_judgements() == 2
        assert (s.events_for_user("bob"), s.judgements(reviewer="bob")) == bob_before
        assert s.forget_user(["Ann Reviewer"])["judgements"] == 1
        again = s.forget_user("ann@example.com")  # forgetting twice is fine: nothing is left
        assert again == dict.fromkeys(ERASED_TABLES, 0)
        with pytest.raises(FeedbackError, match="user key is empty"):
            s.forget_user(" ")
    cells = every_cell(store_url)
    ann = Pseudonyms(os.environ[ENV_KEY])("ann@example.com")
    assert ann not in cells and Pseudonyms(os.environ[ENV_KEY])("bob") in cells


def _genre(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "genre", *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120
    )


def test_genre_forget_prints_counts_per_table_and_handles_unknown_and_empty_users(store_url, tmp_path):
    with FeedbackStore(store_url) as s:
        fill(s)
        s.add_event("tiny:bob", "b", "like")  # the explorer's key for dataset user bob of catalog "tiny"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GENRE_CACHE_DIR": str(tmp_path / "cache")}
    config = tmp_path / "tiny.toml"
    config.write_text(
        'name = "tiny"\n[data]\nloader = "jsonl"\npath = "unused.jsonl"\nname = "tiny"\n'
        '[scorers.pop]\ncomponent = "popularity"\n[fusion]\ncomponent = "weighted"\n'
    )
    done = _genre("forget", "--user", "bob", "--config", str(config), "--store", store_url, "--format", "json", env=env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["keys"][:2] == ["bob", "tiny:bob"] and "tiny:reviewer:bob" in report["keys"]
    assert report["deleted"]["events"] == 2 and report["deleted"]["judgements"] == 1
    assert report["deleted"]["users"] == 2 and report["total"] == sum(report["deleted"].values())

    done = _genre("forget", "--user", "ann@example.com", "--store", store_url, env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "forgot 'ann@example.com'" in lines[0] and "rows deleted" in lines[0]
    assert [line.split()[0] for line in lines[1:]] == list(ERASED_TABLES)
    assert lines[1].split() == ["events", "3"]

    done = _genre("forget", "--user", "nobody", "--store", store_url, env=env)
    assert done.returncode == 0 and "nothing stored for 'nobody'" in done.stdout and "nothing deleted" in done.stdout
    done = _genre("forget", "--user", " ", "--store", store_url, env=env)
    assert done.returncode == 2 and "--user is empty" in done.stderr and "Traceback" not in done.stderr
    with FeedbackStore(store_url) as s:
        assert s.count_events() == 0 and s.count_judgements() == 1  # Ann Reviewer's judgement stays
