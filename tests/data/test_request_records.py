"""A reason request as a JSON record and back (what a review stores as the context of a reason)."""

from __future__ import annotations

import json

import pytest

from genre.core.errors import DataError
from genre.core.types import Catalog, Evidence
from genre.data.request_records import request_from_record, request_record
from tests.explain.test_generators import ALADDIN, EMPIRE, FARGO, LION, STAR_WARS, TOY, three_requests


@pytest.mark.parametrize("n", [0, 1, 2])
def test_round_trip_with_items_needs_no_catalog(n):
    req = three_requests()[n]
    record = json.loads(json.dumps(request_record(req)))  # what a store keeps: plain JSON
    assert request_from_record(record) == req.__class__(
        item=req.item, contributions=req.contributions, evidence=req.evidence, history=req.history,
        intent=req.intent.model_copy(update={"source": "review", "summary": None}), cold_start=req.cold_start,
    )  # fmt: skip


def test_without_items_titles_come_from_the_catalog():
    req = three_requests()[0]
    req.evidence["itemknn"] = [Evidence("history_item", ALADDIN.title, 0.5, ALADDIN.item_id, count=7)]
    record = request_record(req, with_items=False)
    assert "items" not in record and ALADDIN.title not in json.dumps(record)  # no catalog text at all
    catalog = Catalog("movies", [TOY, ALADDIN, LION, STAR_WARS, EMPIRE, FARGO])
    back = request_from_record(record, catalog)
    assert back.item == TOY and back.history == req.history
    assert back.evidence["itemknn"] == [Evidence("history_item", ALADDIN.title, 0.5, ALADDIN.item_id, 7)]
    with pytest.raises(DataError, match="item '95' is not in the record's items nor in the catalog tiny"):
        request_from_record(record, Catalog("tiny", [TOY]))
    with pytest.raises(DataError, match=r"item '1' is not in the record's items$"):
        request_from_record(record)


def test_a_malformed_record_is_a_data_error_naming_the_field():
    record = request_record(three_requests()[0])
    record["intent"] = [{"label": "x", "probability": 3}]
    with pytest.raises(DataError, match=r"not a request record: intent\.0\.probability"):
        request_from_record(record)
    with pytest.raises(DataError, match="JSON object, not list"):
        request_from_record([])  # type: ignore[arg-type]
