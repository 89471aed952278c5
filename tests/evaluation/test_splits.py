"""Splits on small hand-made interactions, CSV split directories, and a property test of the temporal split."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genre.core.errors import DataError
from genre.core.types import Catalog, Interactions, Item
from genre.evaluation import Split, random_split, read_split_dir, temporal_split


def make(rows: list[tuple[str, int, float]]) -> Interactions:
    """Interactions whose rating is the event's input position, so every event can be identified."""
    return Interactions(
        user_ids=np.array([r[0] for r in rows], dtype=str),
        item_index=np.array([r[1] for r in rows], dtype=np.int64),
        timestamps=np.array([r[2] for r in rows], dtype=np.float64),
        ratings=np.arange(len(rows), dtype=np.float64),
    )


def ids(inter: Interactions) -> set[int]:
    return {int(r) for r in inter.ratings}


def pairs(inter: Interactions) -> set[tuple[str, int]]:
    return set(zip(inter.user_ids.tolist(), inter.item_index.tolist(), strict=True))


# ---- temporal_split --------------------------------------------------------------------------

EVENTS = [
    ("a", 3, 4.0),  # 0
    ("a", 0, 1.0),  # 1
    ("b", 9, 7.0),  # 2  b's only event -> train
    ("a", 4, 5.0),  # 3  a's latest: n=5 -> max(1, round(0.2 * 5)) = 1 test event
    ("a", 1, 2.0),  # 4
    ("c", 0, 10.0),  # 5  c: three events at one time; ties keep input order
    ("a", 2, 3.0),  # 6
    ("c", 1, 10.0),  # 7
    ("c", 2, 10.0),  # 8  c's last in input order -> test (round(0.2 * 3) = 1)
    ("d", 7, 1.0),  # 9  d: item 7 first seen at t=1
    ("d", 8, 2.0),  # 10 d has 2 distinct items -> 1 test event, the later one
    ("d", 7, 3.0),  # 11 later repeat of (d, 7): dropped
    ("e", 5, 9.0),  # 12 (e, 5) seen again below at an earlier time: this one is dropped
    ("e", 6, 5.0),  # 13 e's latest kept event -> test
    ("e", 5, 2.0),  # 14 the earliest (e, 5): kept in train
]


def test_temporal_split_membership():
    split = temporal_split(make(EVENTS), test_fraction=0.2)
    assert split.name == "temporal"
    assert ids(split.test) == {3, 8, 10, 13}
    assert ids(split.train) == {0, 1, 2, 4, 5, 6, 7, 9, 14}
    # events keep their input order
    assert split.train.ratings.tolist() == sorted(split.train.ratings.tolist())
    assert not pairs(split.train) & pairs(split.test)


def test_temporal_split_larger_fraction():
    # a: n=5 -> round(0.5 * 5) = round(2.5) = 2 (half to even) -> items 3 and 4 are test
    split = temporal_split(make(EVENTS), test_fraction=0.5)
    a_test = split.test.for_user("a").item_index.tolist()
    assert a_test == [3, 4]


def test_temporal_split_keeps_a_train_event_per_user():
    # n=2, round(0.9 * 2) = 2 would empty train; capped at n - 1 = 1
    split = temporal_split(make([("u", 0, 1.0), ("u", 1, 2.0)]), test_fraction=0.9)
    assert ids(split.train) == {0}
    assert ids(split.test) == {1}


def test_temporal_split_helpers():
    split = temporal_split(make(EVENTS), test_fraction=0.2)
    by_user = split.test_items_by_user()
    assert {u: v.tolist() for u, v in by_user.items()} == {"a": [4], "c": [2], "d": [8], "e": [6]}
    assert split.train_counts_by_user() == {"a": 4, "b": 1, "c": 2, "d": 1, "e": 1}
    assert split.cold_test_users() == []


def test_temporal_split_rejects_bad_input():
    with pytest.raises(ValueError, match="test_fraction"):
        temporal_split(make(EVENTS), test_fraction=1.0)
    inter = make([("u", 0, 1.0), ("u", 1, float("nan"))])
    with pytest.raises(DataError, match="1 events have none"):
        temporal_split(inter)


def test_splits_of_empty_interactions():
    empty = make([])
    for split in (temporal_split(empty), random_split(empty)):
        assert len(split.train) == 0 and len(split.test) == 0


# ---- random_split ----------------------------------------------------------------------------


def sized_users(sizes: dict[str, int]) -> Interactions:
    rows = [(u, i, float(i)) for u, n in sizes.items() for i in range(n)]
    return make(rows)


def test_random_split_sizes_follow_round():
    # train = round(0.75 * n), Python rounding (half to even): 1->1, 2->round(1.5)=2, 4->3, 6->round(4.5)=4, 10->round(7.5)=8
    sizes = {"n1": 1, "n2": 2, "n4": 4, "n6": 6, "n10": 10}
    split = random_split(sized_users(sizes), test_fraction=0.25, seed=1)
    assert split.name == "random"
    assert split.train_counts_by_user() == {"n1": 1, "n2": 2, "n4": 3, "n6": 4, "n10": 8}
    test_counts = {u: len(v) for u, v in split.test_items_by_user().items()}
    assert test_counts == {"n4": 1, "n6": 2, "n10": 2}


def test_random_split_is_deterministic_for_a_seed():
    inter = sized_users({f"u{i}": 12 for i in range(20)})
    first, again = random_split(inter, seed=5), random_split(inter, seed=5)
    assert ids(first.test) == ids(again.test)
    assert ids(first.train) == ids(again.train)
    others = [ids(random_split(inter, seed=s).test) for s in (6, 7, 8)]
    assert any(o != ids(first.test) for o in others)


def test_random_split_shuffles_within_user():
    # Over many users, test events must not all be the latest ones (that would be a temporal split).
    inter = sized_users({f"u{i}": 8 for i in range(30)})
    split = random_split(inter, seed=0)
    assert set(split.test.item_index.tolist()) != {6, 7}


def test_random_split_dedups_and_never_overlaps():
    rows = [("u", i % 5, float(i)) for i in range(15)] + [("v", 1, 0.0), ("v", 1, 1.0)]
    split = random_split(make(rows), seed=3)
    # u keeps its first 5 events (items 0..4), v its first
    assert ids(split.train) | ids(split.test) == {0, 1, 2, 3, 4, 15}
    assert not pairs(split.train) & pairs(split.test)
    assert len(split.train) + len(split.test) == 6


def test_cold_test_users():
    train = make([("a", 0, 1.0)])
    test = make([("a", 1, 2.0), ("z", 1, 2.0), ("y", 0, 3.0)])
    assert Split(train=train, test=test, name="x").cold_test_users() == ["y", "z"]


# ---- property: temporal_split ----------------------------------------------------------------


def dedup_positions(rows: list[tuple[str, int, float]]) -> set[int]:
    """Reference dedup: per user, walk events by (time, input order) and keep each item's first."""
    order = sorted(range(len(rows)), key=lambda p: (rows[p][0], rows[p][2], p))
    seen: set[tuple[str, int]] = set()
    kept = set()
    for p in order:
        key = (rows[p][0], rows[p][1])
        if key not in seen:
            seen.add(key)
            kept.add(p)
    return kept


event = st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.integers(0, 6), st.integers(0, 6).map(float))


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(event, max_size=40), fraction=st.floats(0.05, 0.95))
def test_temporal_split_property(rows, fraction):
    split = temporal_split(make(rows), test_fraction=fraction)
    train, test = ids(split.train), ids(split.test)
    assert not train & test
    assert train | test == dedup_positions(rows)
    for user in split.test.users():
        train_ts = split.train.timestamps[split.train.user_ids == user]
        test_ts = split.test.timestamps[split.test.user_ids == user]
        assert train_ts.size >= 1  # every test user keeps a train event
        assert test_ts.min() >= train_ts.max()


@settings(max_examples=100, deadline=None)
@given(rows=st.lists(event, max_size=40), seed=st.integers(0, 2**32 - 1))
def test_random_split_property(rows, seed):
    split = random_split(make(rows), seed=seed)
    train, test = ids(split.train), ids(split.test)
    assert not train & test
    assert train | test == dedup_positions(rows)
    assert not pairs(split.train) & pairs(split.test)


# ---- read_split_dir --------------------------------------------------------------------------


@pytest.fixture
def catalog() -> Catalog:
    return Catalog(name="t", items=[Item(item_id=i, title=i.upper()) for i in ("i1", "i2", "i3")])


def write(directory: Path, train: str | None, test: str | None) -> Path:
    if train is not None:
        (directory / "train.csv").write_text(train, encoding="utf-8")
    if test is not None:
        (directory / "test.csv").write_text(test, encoding="utf-8")
    return directory


GOOD_TRAIN = "user_id,item_id,timestamp,rating\nu1,i1,100,4\nu1,i2,2020-01-01T00:00:00Z,\nu2,i3,200.5,3.5\n"
GOOD_TEST = "user_id,item_id,timestamp\nu1,i3,300\nu9,i1,2020-01-01T00:00:00\n"


def test_read_split_dir(tmp_path, catalog):
    split = read_split_dir(write(tmp_path, GOOD_TRAIN, GOOD_TEST), catalog)
    assert split.name == tmp_path.name
    assert split.train.user_ids.tolist() == ["u1", "u1", "u2"]
    assert split.train.item_index.tolist() == [0, 1, 2]
    # 2020-01-01T00:00:00Z = 1577836800 epoch seconds; a naive datetime is read as UTC
    assert split.train.timestamps.tolist() == [100.0, 1577836800.0, 200.5]
    np.testing.assert_array_equal(split.train.ratings, [4.0, np.nan, 3.5])
    assert split.test.timestamps.tolist() == [300.0, 1577836800.0]
    assert np.isnan(split.test.ratings).all()  # no rating column
    assert split.cold_test_users() == ["u9"]
    assert {u: v.tolist() for u, v in split.test_items_by_user().items()} == {"u1": [2], "u9": [0]}


def test_read_split_dir_accepts_reordered_columns_and_bom(tmp_path, catalog):
    train = "\ufefftimestamp,item_id,user_id\n5,i1,u1\n"
    split = read_split_dir(write(tmp_path, train, "user_id,item_id,timestamp\nu1,i2,6\n"), catalog)
    assert split.train.item_index.tolist() == [0]
    assert split.train.user_ids.tolist() == ["u1"]


def expect(tmp_path: Path, catalog: Catalog, message: str) -> None:
    with pytest.raises(DataError) as info:
        read_split_dir(tmp_path, catalog)
    text = str(info.value)
    assert "\n" not in text
    assert text == message


def test_rejects_missing_file(tmp_path, catalog):
    write(tmp_path, GOOD_TRAIN, None)
    expect(tmp_path, catalog, f"{tmp_path / 'test.csv'}: file not found")


def test_rejects_missing_columns(tmp_path, catalog):
    write(tmp_path, "user,item_id,ts\nu1,i1,1\n", GOOD_TEST)
    expect(
        tmp_path,
        catalog,
        f"{tmp_path / 'train.csv'}:1: missing required column(s) user_id, timestamp; found user, item_id, ts",
    )


def test_rejects_unknown_item(tmp_path, catalog):
    write(tmp_path, GOOD_TRAIN, "user_id,item_id,timestamp\nu1,i3,1\nu1,nope,2\n")
    expect(tmp_path, catalog, f"{tmp_path / 'test.csv'}:3: unknown item id 'nope' (not in catalog 't')")


@pytest.mark.parametrize("value", ["yesterday", "", "nan", "2020-13-01"])
def test_rejects_bad_timestamp(tmp_path, catalog, value):
    write(tmp_path, f"user_id,item_id,timestamp\nu1,i1,{value}\n", GOOD_TEST)
    expect(
        tmp_path,
        catalog,
        f"{tmp_path / 'train.csv'}:2: timestamp {value!r} is not a number of epoch seconds or an ISO-8601 datetime",
    )


@pytest.mark.parametrize("value", ["five", "inf"])
def test_rejects_bad_rating(tmp_path, catalog, value):
    write(tmp_path, f"user_id,item_id,timestamp,rating\nu1,i1,1,4\nu1,i2,2,{value}\n", GOOD_TEST)
    expect(tmp_path, catalog, f"{tmp_path / 'train.csv'}:3: rating {value!r} is not a number")


def test_rejects_empty_file(tmp_path, catalog):
    write(tmp_path, "", GOOD_TEST)
    expect(
        tmp_path,
        catalog,
        f"{tmp_path / 'train.csv'}:1: empty file (expected a header user_id,item_id,timestamp[,rating])",
    )


def test_rejects_header_only_file(tmp_path, catalog):
    write(tmp_path, GOOD_TRAIN, "user_id,item_id,timestamp\n")
    expect(tmp_path, catalog, f"{tmp_path / 'test.csv'}:2: empty file (a header but no events)")


def test_rejects_pair_in_train_and_test(tmp_path, catalog):
    write(tmp_path, GOOD_TRAIN, "user_id,item_id,timestamp\nu2,i1,5\nu1,i2,9\n")
    expect(
        tmp_path,
        catalog,
        f"{tmp_path / 'test.csv'}:3: user 'u1' item 'i2' is also in train.csv (line 3); a test item must be new to the user",
    )


def test_rejects_wrong_field_count(tmp_path, catalog):
    write(tmp_path, "user_id,item_id,timestamp\nu1,i1\n", GOOD_TEST)
    expect(tmp_path, catalog, f"{tmp_path / 'train.csv'}:2: expected 3 fields, found 2")


def test_rejects_empty_user(tmp_path, catalog):
    write(tmp_path, "user_id,item_id,timestamp\n ,i1,1\n", GOOD_TEST)
    expect(tmp_path, catalog, f"{tmp_path / 'train.csv'}:2: user_id is empty")


def test_rejects_non_utf8(tmp_path, catalog):
    (tmp_path / "train.csv").write_bytes(b"user_id,item_id,timestamp\nu\xff,i1,1\n")
    write(tmp_path, None, GOOD_TEST)
    with pytest.raises(DataError, match=re.escape(f"{tmp_path / 'train.csv'}: not UTF-8 text")):
        read_split_dir(tmp_path, catalog)
