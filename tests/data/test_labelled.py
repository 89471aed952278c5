"""The labelled quality set: the shipped files load strictly, hold enough labelled reasons in two disjoint
splits, and store no MovieLens catalog text; the loader rejects bad lines by file and line."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from genre.core.errors import DataError
from genre.core.types import Catalog, Item
from genre.data.labelled import (
    DEFAULT_DIR,
    DEV_SHARE,
    DOMAINS,
    ERROR_TYPES,
    GENERATORS,
    LabelledReason,
    assign_splits,
    load_labelled,
)
from genre.data.movielens import load_movielens_100k


@pytest.fixture(scope="module")
def movielens() -> Catalog:
    return load_movielens_100k()


@pytest.fixture(scope="module")
def shipped(movielens: Catalog) -> list[LabelledReason]:
    return load_labelled(DEFAULT_DIR, movielens=movielens)


def _raw_records() -> list[dict[str, Any]]:
    return [json.loads(line) for path in sorted(DEFAULT_DIR.glob("*.jsonl")) for line in path.open() if line.strip()]


@pytest.mark.integration
def test_shipped_set_is_large_and_spans_domains_and_generators(shipped: list[LabelledReason]) -> None:
    assert len(shipped) >= 400
    assert all(r.label is not None for r in shipped)
    by_domain = Counter(r.domain for r in shipped)
    by_generator = Counter(r.generator for r in shipped)
    assert set(by_domain) == set(DOMAINS) and min(by_domain.values()) >= 100
    assert by_generator["local-llm"] >= 150 and by_generator["tuned-local"] >= 150 and by_generator["template"] >= 80
    assert len({r.id for r in shipped}) == len(shipped)


@pytest.mark.integration
def test_labels_use_known_error_types_and_acceptable_means_no_errors(shipped: list[LabelledReason]) -> None:
    for r in shipped:
        assert r.label is not None
        assert set(r.label.errors) <= set(ERROR_TYPES), r.id
        assert r.label.acceptable == (not r.label.errors), r.id
        assert r.label.note.strip() and r.label.labeller.strip(), r.id
    # Both outcomes occur, or the set could not measure a verifier's precision and recall.
    assert {r.label.acceptable for r in shipped if r.label is not None} == {True, False}


@pytest.mark.integration
def test_splits_are_disjoint_non_empty_and_stratified(shipped: list[LabelledReason]) -> None:
    dev = {r.id for r in shipped if r.split == "dev"}
    held = {r.id for r in shipped if r.split == "heldout"}
    assert dev and held and not dev & held and len(dev | held) == len(shipped)
    for domain in DOMAINS:
        for generator in GENERATORS:
            members = [r for r in shipped if r.domain == domain and r.generator == generator]
            in_dev = sum(r.split == "dev" for r in members)
            assert in_dev == round(DEV_SHARE * len(members)), (domain, generator)
    # The split depends on the ids alone: loading again (or in another order) changes nothing.
    again = {r.id: r.split for r in load_labelled(sorted(DEFAULT_DIR.glob("*.jsonl"), reverse=True))}
    assert again == {r.id: r.split for r in shipped}


@pytest.mark.integration
def test_no_movielens_catalog_text_is_stored(movielens: Catalog) -> None:
    """MovieLens may not be redistributed: outside the generated text, no stored string is a title or
    names one (notes and labels refer to films by role: "the recommended film", "a history film")."""
    bare = {re.sub(r"\s*\(\d{4}\)$", "", item.title).lower() for item in movielens.items}
    full = {item.title.lower() for item in movielens.items}
    # Whole-word matches of any title of 5+ characters ("fargo", "the rock", "star wars (1977)").
    names = sorted((t for t in bare | full if len(t) >= 5), key=len, reverse=True)
    pattern = re.compile(r"(?<!\w)(" + "|".join(map(re.escape, names)) + r")(?!\w)")

    def strings(value: Any, key: str = "") -> list[tuple[str, str]]:
        if isinstance(value, dict):
            return [s for k, v in value.items() if k != "text" for s in strings(v, k)]
        if isinstance(value, list):
            return [s for v in value for s in strings(v, key)]
        return [(key, value)] if isinstance(value, str) else []

    movies = [rec for rec in _raw_records() if rec["domain"] == "movies"]
    assert movies
    for rec in movies:
        assert "items" not in rec
        for key, value in strings(rec):
            low = value.strip().lower()
            if low.isdigit():
                continue  # item ids (the film "187" has a number for a title)
            assert low not in bare and low not in full, (rec["id"], key, value)
            found = pattern.search(low)
            assert found is None, (rec["id"], key, found.group(1) if found else "", value)


@pytest.mark.integration
def test_movies_evidence_is_rebuilt_from_recbole(shipped: list[LabelledReason], movielens: Catalog) -> None:
    reason = next(r for r in shipped if r.domain == "movies" and r.named_ids)
    index = movielens.index_of(reason.item_id)
    assert index is not None
    assert reason.item.title == movielens.items[index].title
    assert reason.item.categories == movielens.items[index].categories
    request = reason.request()
    assert [h.item_id for h in request.history] == list(reason.history_ids)
    history_labels = {e.item_id: e.label for evs in request.evidence.values() for e in evs if e.kind == "history_item"}
    for item_id, label in history_labels.items():
        assert label == reason.items[item_id].title


@pytest.mark.integration
def test_project_data_evidence_matches_the_catalog_files(shipped: list[LabelledReason]) -> None:
    for domain in ("products", "news"):
        catalog = {
            rec["item_id"]: rec for rec in map(json.loads, (DEFAULT_DIR.parent.parent / domain / "items.jsonl").open())
        }
        for r in (r for r in shipped if r.domain == domain):
            for item_id, item in r.items.items():
                assert item.title == catalog[item_id]["title"], r.id
                assert item.categories[0] == catalog[item_id]["category"], r.id


# --- the loader's strictness, on small hand-made files -------------------------------------------------

PRODUCT = {"title": "Alpine Tent", "categories": ["Outdoor"], "tags": [], "attributes": {"brand": "Northwind"}}


def _record(**changes: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "id": "products:profile:p:template:1",
        "domain": "products",
        "config": "products",
        "generator": "template",
        "source": "template",
        "user": "profile:p",
        "rank": 1,
        "item_id": "a",
        "history_ids": ["b"],
        "named_ids": ["b"],
        "mentioned_ids": ["b"],
        "intent": [{"label": "camping and hiking gear", "probability": 0.7}],
        "contributions": {"content": 0.5},
        "evidence": {"content": [{"kind": "history_item", "item_id": "b", "weight": 0.9, "label": "Trail Bag"}]},
        "cold_start": False,
        "faithful": True,
        "text": "Because you liked Trail Bag; like it this is Outdoor.",
        "items": {"a": PRODUCT, "b": {**PRODUCT, "title": "Trail Bag"}},
        "label": {"acceptable": True, "errors": [], "note": "true and specific", "labeller": "test"},
    }
    rec.update(changes)
    return rec


def _write(tmp_path: Path, *records: dict[str, Any]) -> Path:
    path = tmp_path / "pool.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_a_valid_file_loads_with_its_evidence(tmp_path: Path) -> None:
    [reason] = load_labelled(_write(tmp_path, _record()))
    assert reason.item.title == "Alpine Tent" and [h.title for h in reason.named] == ["Trail Bag"]
    assert reason.label is not None and reason.label.acceptable and reason.split in ("dev", "heldout")
    assert reason.request().evidence["content"][0].label == "Trail Bag"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"label": {"acceptable": True, "errors": ["generic"], "note": "n", "labeller": "t"}}, "acceptable=True"),
        ({"label": {"acceptable": False, "errors": [], "note": "n", "labeller": "t"}}, "acceptable=False"),
        ({"label": {"acceptable": False, "errors": ["made_up"], "note": "n", "labeller": "t"}}, "'made_up'"),
        ({"label": None}, "has no label"),
        ({"generator": "gpt"}, "generator"),
        ({"id": "products:x"}, "should be"),
        ({"items": {"a": PRODUCT}}, "items lacks 'b'"),
        ({"named_ids": ["z"]}, "'z' is in neither history_ids nor the evidence"),
        (
            {"evidence": {"itemknn": [{"kind": "history_item", "item_id": "c", "weight": 0.2, "label": "Old Stove"}]}},
            "items lacks 'c'",
        ),
        ({"surprise": 1}, "surprise"),
        (
            {"evidence": {"popularity": [{"kind": "popularity", "weight": 9.0}]}},
            "popularity evidence without an item_id",
        ),
        (
            {"evidence": {"content": [{"kind": "history_item", "item_id": "b", "weight": 0.9}]}},
            "evidence for item 'b' needs its label",
        ),
    ],
)
def test_a_bad_line_is_named_by_file_and_line(tmp_path: Path, changes: dict[str, Any], message: str) -> None:
    good = _record(id="products:profile:q:template:1", user="profile:q")
    path = _write(tmp_path, good, _record(**changes))
    with pytest.raises(DataError, match=re.escape(f"{path}:2:")) as err:
        load_labelled(path)
    assert message in str(err.value)


def test_invalid_json_and_duplicates_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text(json.dumps(_record()) + "\n{not json\n")
    with pytest.raises(DataError, match=re.escape(f"{path}:2: not valid JSON")):
        load_labelled(path)
    twice = _write(tmp_path, _record(), _record())
    with pytest.raises(DataError, match="listed twice"):
        load_labelled(twice)


def _movies_catalog() -> Catalog:
    return Catalog(
        name="movielens-100k",
        items=[
            Item("1", "Some Film (1995)", ("Drama",)),
            Item("2", "Other Film (1996)", ("Drama", "War")),
            Item("3", "Third Film (1990)", ("Comedy",)),
        ],
    )


def _movie_record(**changes: Any) -> dict[str, Any]:
    rec = _record(
        id="movies:user:5:local-llm:1",
        domain="movies",
        config="movies",
        generator="local-llm",
        source="local-llm",
        user="user:5",
        item_id="2",
        history_ids=["1"],
        named_ids=["1"],
        mentioned_ids=[],
        evidence={"itemknn": [{"kind": "history_item", "item_id": "1", "weight": 0.4}]},
    )
    del rec["items"]
    rec.update(changes)
    return rec


def test_movies_lines_store_ids_and_rebuild_titles(tmp_path: Path) -> None:
    # Collaborative evidence may cite a film outside the history window ("3"): it is rebuilt too.
    cited = [
        {"kind": "history_item", "item_id": "1", "weight": 0.4},
        {"kind": "history_item", "item_id": "3", "weight": 0.1},
    ]
    record = _movie_record(evidence={"itemknn": cited})
    [reason] = load_labelled(_write(tmp_path, record), movielens=_movies_catalog())
    assert reason.item.title == "Other Film (1996)" and reason.history[0].categories == ("Drama",)
    assert [e.label for e in reason.evidence["itemknn"]] == ["Some Film (1995)", "Third Film (1990)"]
    assert reason.items["3"].categories == ("Comedy",)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"items": {"2": PRODUCT, "1": PRODUCT}}, "may not store items"),
        (
            {"evidence": {"itemknn": [{"kind": "history_item", "item_id": "1", "weight": 0.4, "label": "Some Film"}]}},
            "stores a label",
        ),
        ({"item_id": "99", "id": "movies:user:5:local-llm:1"}, "'99' is not in movielens-100k"),
    ],
)
def test_movies_lines_with_catalog_text_or_unknown_ids_are_refused(
    tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    path = _write(tmp_path, _movie_record(**changes))
    with pytest.raises(DataError, match=re.escape(f"{path}:1:")) as err:
        load_labelled(path, movielens=_movies_catalog())
    assert message in str(err.value)


def test_splits_are_stratified_deterministic_and_order_free() -> None:
    pairs = [(f"s{n % 3}", f"id-{n}") for n in range(100)]
    first = assign_splits(pairs)
    assert first == assign_splits(list(reversed(pairs)))
    for stratum in ("s0", "s1", "s2"):
        members = [i for s, i in pairs if s == stratum]
        assert sum(first[i] == "dev" for i in members) == round(DEV_SHARE * len(members))
