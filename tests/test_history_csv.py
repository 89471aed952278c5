"""The strict history CSV reader behind the Recommend page's upload."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from genre.core.errors import InputError
from genre.data.history_csv import MAX_HISTORY_ROWS, parse_history_csv


def test_titles_with_times_and_ratings_in_file_order(tiny_catalog):
    events = parse_history_csv(
        "Title,timestamp,rating\nalpine tent,2026-03-01,5\nChef Knife,1700000000,\n", tiny_catalog
    )
    assert [e.item_id for e in events] == ["a", "d"]
    assert events[0].timestamp == datetime(2026, 3, 1, tzinfo=UTC) and events[0].rating == 5.0
    assert events[1].timestamp == datetime.fromtimestamp(1_700_000_000, tz=UTC) and events[1].rating is None


def test_item_ids_and_a_bom_are_accepted(tiny_catalog):
    assert [e.item_id for e in parse_history_csv("\ufeffitem_id\nb\nc\n", tiny_catalog)] == ["b", "c"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("name\nAlpine Tent\n", "line 1: unknown column(s) 'name'"),
        ("title,item_id\nx,a\n", "exactly one of the columns"),
        ("title\n", "no rows"),
        (
            "title\nAlpine Tent\nAlpine Tnet\n",
            "line 3: no item titled 'Alpine Tnet' in tiny (did you mean: Alpine Tent",
        ),
        ("item_id\na\nzz\n", "line 3: unknown item_id 'zz'"),
        ("title,timestamp\nChef Knife,last tuesday\n", "line 2: timestamp 'last tuesday'"),
        ("title,rating\nChef Knife,11\n", "line 2: rating 11 is outside 0..10"),
        ("title,rating\nChef Knife,great\n", "line 2: rating 'great' is not a number"),
        ("title,rating\nChef Knife,4,extra\n", "line 2: expected 2 fields, found 3"),
    ],
)
def test_bad_files_name_the_line_and_the_problem(tiny_catalog, text, message):
    with pytest.raises(InputError) as err:
        parse_history_csv(text, tiny_catalog)
    assert message in str(err.value)


def test_every_bad_line_is_reported_at_once(tiny_catalog):
    with pytest.raises(InputError) as err:
        parse_history_csv("item_id\nx1\na\nx2\n", tiny_catalog)
    assert "line 2" in str(err.value) and "line 4" in str(err.value)


def test_binary_and_oversized_files_are_refused(tiny_catalog):
    with pytest.raises(InputError, match="not UTF-8"):
        parse_history_csv(b"title\n\xff\xfe\x00", tiny_catalog)
    rows = "item_id\n" + "a\n" * (MAX_HISTORY_ROWS + 1)
    with pytest.raises(InputError, match="more than 2,000 rows"):
        parse_history_csv(rows, tiny_catalog)


def test_cr_only_line_endings_read_like_any_other(tiny_catalog):
    events = parse_history_csv("title,rating\rChef Knife,4\rAlpine Tent,5\r", tiny_catalog)
    assert [(e.item_id, e.rating) for e in events] == [("d", 4.0), ("a", 5.0)]


@pytest.mark.parametrize("field", ["x" * 140_000, '"' + "x" * 140_000 + '"'])
def test_a_field_over_the_csv_limit_is_an_input_error_naming_the_line(tiny_catalog, field):
    with pytest.raises(InputError) as err:
        parse_history_csv(f"title\nChef Knife\n{field}\n", tiny_catalog)
    assert "line 3: a field is longer than 131,072 characters" in str(err.value)
