"""Reference reasons: the data files load and pass the verifier by construction; the loader names bad lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genre.core.errors import DataError
from genre.core.paths import PROJECT_ROOT
from genre.core.types import Catalog, Item
from genre.data.jsonl import load_jsonl_catalog
from genre.data.references import ReferencePair, load_references, reference_path, split_by_item, to_request
from genre.text.verifier import Verifier

DOMAINS = ["products", "news"]
SCORERS = {"content", "intent-match", "preference", "price-fit", "popularity", "itemknn"}


@pytest.fixture(scope="module")
def catalogs() -> dict[str, Catalog]:
    return {d: load_jsonl_catalog(PROJECT_ROOT / "sample_data" / d / "items.jsonl", d) for d in DOMAINS}


class References:
    """Each domain's reference file, loaded on first use, so one broken file fails only its own tests."""

    def __init__(self, catalogs: dict[str, Catalog]) -> None:
        self.catalogs = catalogs
        self.loaded: dict[str, list[ReferencePair]] = {}

    def __getitem__(self, domain: str) -> list[ReferencePair]:
        if domain not in self.loaded:
            self.loaded[domain] = load_references(reference_path(domain), self.catalogs[domain])
        return self.loaded[domain]


@pytest.fixture(scope="module")
def references(catalogs) -> References:
    return References(catalogs)


def pairs_of(references: References, domain: str) -> list[ReferencePair]:
    if not reference_path(domain).is_file():
        pytest.skip(f"{reference_path(domain)} is not written yet")
    return references[domain]


# ---- the data files -----------------------------------------------------------------------


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_reason_passes_the_verifier(domain, references, catalogs):
    catalog = catalogs[domain]
    verifier = Verifier(catalog)
    problems = [
        f"{pair.id}: {verdict.problems}: {text}"
        for pair in pairs_of(references, domain)
        for text in pair.reasons
        if not (verdict := verifier.verify(text, to_request(pair, catalog))).passed
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("domain", DOMAINS)
def test_reasons_name_history_titles_exactly_and_no_other_title(domain, references, catalogs):
    catalog = catalogs[domain]
    titles = {item.item_id: item.title.lower() for item in catalog.items}
    problems = []
    for pair in pairs_of(references, domain):
        allowed = {titles[pair.item_id], *(titles[h] for h in pair.history)}
        for text in pair.reasons:
            low = text.lower()
            if not any(titles[h] in low for h in pair.history):
                problems.append(f"{pair.id}: names no history title: {text}")
            others = [t for t in titles.values() if t in low and t not in allowed]
            if others:
                problems.append(f"{pair.id}: names {others}: {text}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("domain", DOMAINS)
def test_reason_style(domain, references):
    pairs = pairs_of(references, domain)
    lengths = [(p.id, len(t.split())) for p in pairs for t in p.reasons]
    assert [x for x in lengths if not 12 <= x[1] <= 35] == []
    firsts = [p.reasons[0].split()[0].lower().strip(",:;") for p in pairs]
    repeats = [pairs[i].id for i in range(1, len(pairs)) if firsts[i] == firsts[i - 1]]
    assert repeats == [], "consecutive rows open with the same word"
    assert {p.component for p in pairs} <= SCORERS
    assert len({(p.item_id, tuple(sorted(p.history))) for p in pairs}) == len(pairs), "duplicate (item, history)"


def test_products_cover_the_catalog(references):
    pairs = pairs_of(references, "products")
    assert len(pairs) >= 220
    assert len({p.item_id for p in pairs}) >= 120
    two = sum(len(p.reasons) == 2 for p in pairs)
    assert 0.35 <= two / len(pairs) <= 0.65, "about half the rows should carry two reasons"


def test_reference_path_points_into_sample_data():
    assert reference_path("products") == PROJECT_ROOT / "sample_data" / "reasons" / "products.jsonl"


# ---- the loader on tiny files -------------------------------------------------------------

TINY = Catalog(
    name="tiny",
    items=[
        Item("a", "Alpine Tent", ("Outdoor",), tags=("tent", "camping"), attributes={"brand": "Northwind"}),
        Item("b", "Summit Sleeping Bag", ("Outdoor",), tags=("camping",), attributes={"brand": "Northwind"}),
        Item("c", "Trail Stove", ("Outdoor",), tags=("camping", "cooking"), attributes={"brand": "Kestrel"}),
        Item("d", "Chef Knife", ("Kitchen",), tags=("cooking",), attributes={"brand": "Forge"}),
    ],
)


def row(n: int, **overrides) -> dict:
    base = {
        "id": f"tiny-{n:04d}",
        "domain": "tiny",
        "item_id": "b",
        "history": ["a", "c"],
        "shared": ["Outdoor", "camping"],
        "intent": "Planning a first overnight camping trip.",
        "component": "content",
        "reasons": ["The Alpine Tent needs a warm bag beside it for cold nights in the mountains."],
    }
    base.update(overrides)
    return base


def write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "tiny.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_good_file_loads(tmp_path):
    path = write(tmp_path, [json.dumps(row(1)), "", json.dumps(row(2, item_id="c", history=["a"], shared=[]))])
    pairs = load_references(path, TINY)
    assert [p.id for p in pairs] == ["tiny-0001", "tiny-0002"]
    assert pairs[0].history == ["a", "c"]


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ("{not json", "line 3: not valid JSON"),
        (json.dumps({k: v for k, v in row(3).items() if k != "intent"}), "line 3: missing field 'intent'"),
        (json.dumps(row(3, item_id="zzz")), "line 3: unknown item id 'zzz'"),
        (json.dumps(row(3, history=["a", "nope"])), "line 3: unknown item id 'nope'"),
        (json.dumps(row(3, history=["b", "a"])), "line 3: item 'b' is in its own history"),
        (json.dumps(row(1)), "line 3: duplicate id 'tiny-0001' (first on line 1)"),
        (json.dumps(row(3, shared=["Kitchen"])), "line 3: shared value 'Kitchen'"),
        (json.dumps(row(3, colour="red")), "line 3: unknown field 'colour'"),
        (json.dumps(row(3, reasons=["Too short to count."])), "line 3: field 'reasons': reason 1 has 4 words"),
        (json.dumps(row(3, history=[])), "line 3: field 'history'"),
        ("[1, 2]", "line 3: expected a JSON object"),
    ],
)
def test_a_bad_row_names_the_file_line_and_problem(tmp_path, bad, expected):
    path = write(tmp_path, [json.dumps(row(1)), json.dumps(row(2)), bad])
    with pytest.raises(DataError) as info:
        load_references(path, TINY)
    assert "tiny.jsonl" in str(info.value)
    assert expected in str(info.value)


def test_missing_and_empty_files_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_references(tmp_path / "absent.jsonl", TINY)
    with pytest.raises(DataError, match="holds no rows"):
        load_references(write(tmp_path, [""]), TINY)


def test_the_model_bounds_reasons_and_history():
    ReferencePair.model_validate(row(1, reasons=["one two three four five six seven eight"] * 3))
    for bad in (
        {"reasons": []},
        {"reasons": ["one two three four five six seven eight"] * 4},
        {"reasons": ["word " * 46]},
        {"history": ["a", "c", "d", "b"]},
        {"history": ["a", "a"]},
        {"component": ""},
    ):
        with pytest.raises(ValueError):
            ReferencePair.model_validate(row(1, **bad))


# ---- conversion and splitting -------------------------------------------------------------


def test_to_request_cites_the_history_in_listed_order():
    pair = ReferencePair.model_validate(row(1, history=["c", "a"], component="itemknn"))
    req = to_request(pair, TINY)
    assert req.item.item_id == "b"
    assert [h.item_id for h in req.history] == ["c", "a"]
    assert req.contributions == {"itemknn": 1.0}
    evs = req.evidence["itemknn"]
    assert [(e.kind, e.label, e.item_id) for e in evs] == [
        ("history_item", "Trail Stove", "c"),
        ("history_item", "Alpine Tent", "a"),
    ]
    assert evs[0].weight > evs[1].weight > 0
    assert (req.intent.summary, req.intent.source) == ("Planning a first overnight camping trip.", "reference")


def test_split_by_item_holds_out_a_fifth_of_the_products(references):
    pairs = pairs_of(references, "products")
    kept, held = split_by_item(pairs)
    assert len(kept) + len(held) == len(pairs)
    kept_items, held_items = {p.item_id for p in kept}, {p.item_id for p in held}
    assert not kept_items & held_items
    n_items = len(kept_items | held_items)
    assert len(held_items) == round(0.2 * n_items)
    assert split_by_item(pairs) == (kept, held)
    assert {p.item_id for p in split_by_item(pairs, seed=1)[1]} != held_items


def pair_for(item_id: str, n: int) -> ReferencePair:
    return ReferencePair.model_validate(row(n, item_id=item_id, history=["h"]))


@settings(max_examples=50, deadline=None)
@given(
    items=st.lists(st.sampled_from([f"i{k}" for k in range(30)]), min_size=1, max_size=80),
    holdout=st.floats(min_value=0.0, max_value=0.95),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_split_by_item_invariants(items, holdout, seed):
    pairs = [pair_for(item, n) for n, item in enumerate(items)]
    kept, held = split_by_item(pairs, holdout, seed)
    assert not {p.item_id for p in kept} & {p.item_id for p in held}
    assert len({p.item_id for p in held}) == round(holdout * len(set(items)))
    # Order within each side follows the input; row order does not change which items are held out.
    assert [p.id for p in kept] == [p.id for p in pairs if p in kept]
    assert {p.item_id for p in split_by_item(pairs[::-1], holdout, seed)[1]} == {p.item_id for p in held}


def test_split_by_item_rejects_a_bad_fraction():
    with pytest.raises(ValueError, match="holdout"):
        split_by_item([], holdout=1.0)
