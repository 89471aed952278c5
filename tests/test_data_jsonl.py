import pytest

from genre.core.errors import DataError
from genre.data.jsonl import load_jsonl_catalog


def test_bad_lines_are_reported_with_line_numbers(tmp_path):
    p = tmp_path / "items.jsonl"
    p.write_text('{"item_id": "a", "title": "A"}\n{"item_id": "b"}\n')
    with pytest.raises(DataError, match=r"items.jsonl:2: title: Field required"):
        load_jsonl_catalog(p, "t")
    p.write_text('{"item_id": "a", "title": "A"}\nnot json\n')
    with pytest.raises(DataError, match=r":2: not valid JSON"):
        load_jsonl_catalog(p, "t")


def test_duplicate_ids_and_missing_popularity_field(tmp_path):
    p = tmp_path / "items.jsonl"
    p.write_text('{"item_id": "a", "title": "A"}\n{"item_id": "a", "title": "B"}\n')
    with pytest.raises(DataError, match="duplicate item ids: a"):
        load_jsonl_catalog(p, "t")
    p.write_text('{"item_id": "a", "title": "A", "attributes": {"price": 3}}\n')
    with pytest.raises(DataError, match="popularity_field 'reviews'"):
        load_jsonl_catalog(p, "t", popularity_field="reviews")


def test_item_fields_and_text(tiny_catalog):
    item = tiny_catalog.items[0]
    assert item.categories == ("Outdoor",) and item.price == 300.0
    assert item.text().startswith("Alpine Tent. Categories: Outdoor. Tags: tent, camping. A light tent")
    assert len(tiny_catalog.fingerprint) == 16
