"""Reference reasons in every style: enough rows per style, their shape, their truth, and loaders that keep
one-line metrics comparing like with like."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from genre.core.errors import DataError
from genre.core.paths import PROJECT_ROOT
from genre.core.types import Catalog, Item
from genre.data.jsonl import load_jsonl_catalog
from genre.data.references import REFERENCE_STYLES, ReferencePair, load_references, reference_path, to_request
from genre.text.verifier import Verifier

DOMAINS = ["products", "news"]
NEW_STYLES = ["short", "bullets", "compare"]


@pytest.fixture(scope="module")
def catalogs() -> dict[str, Catalog]:
    return {d: load_jsonl_catalog(PROJECT_ROOT / "sample_data" / d / "items.jsonl", d) for d in DOMAINS}


@pytest.fixture(scope="module")
def styled(catalogs) -> dict[str, list[ReferencePair]]:
    return {d: load_references(reference_path(d), catalogs[d], styles=NEW_STYLES) for d in DOMAINS}


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_new_style_has_at_least_twelve_rows(domain, styled):
    counts = Counter(p.style for p in styled[domain])
    assert all(counts[s] >= 12 for s in NEW_STYLES), counts


@pytest.mark.parametrize("domain", DOMAINS)
def test_default_load_returns_only_one_line_rows(domain, catalogs):
    default = load_references(reference_path(domain), catalogs[domain])
    every = load_references(reference_path(domain), catalogs[domain], styles=None)
    assert {p.style for p in default} == {"one-line"}
    assert {p.style for p in every} == set(REFERENCE_STYLES)
    assert len(every) > len(default)


@pytest.mark.parametrize("domain", DOMAINS)
def test_styled_reasons_name_a_history_title_and_no_other(domain, styled, catalogs):
    titles = {item.item_id: item.title.lower() for item in catalogs[domain].items}
    problems = []
    for pair in styled[domain]:
        allowed = {titles[pair.item_id], *(titles[h] for h in pair.history)}
        for text in pair.reasons:
            low = text.lower()
            if not any(titles[h] in low for h in pair.history):
                problems.append(f"{pair.id}: names no history title")
            if others := [t for t in titles.values() if t in low and t not in allowed]:
                problems.append(f"{pair.id}: names {others}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("domain", DOMAINS)
def test_compare_reasons_name_the_first_history_item(domain, styled, catalogs):
    # "compare" is how the item differs from the closest history item: the writer's first-listed one.
    titles = {item.item_id: item.title.lower() for item in catalogs[domain].items}
    wrong = [p.id for p in styled[domain] if p.style == "compare" and titles[p.history[0]] not in p.reasons[0].lower()]
    assert wrong == []


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_styled_reason_passes_the_verifier_claim_by_claim(domain, styled, catalogs):
    # The verifier reads a bullets reason point by point and a compare reason by who owns each trait; the bound
    # is the loader's longest styled reason, so only claims and form decide.
    catalog = catalogs[domain]
    verifier = Verifier(catalog)
    problems = [
        f"{pair.id}: {verdict.problems}"
        for pair in styled[domain]
        for text in pair.reasons
        if not (verdict := verifier.verify(text, to_request(pair, catalog), max_words=70)).passed
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_bullet_point_ends_as_a_sentence(domain, styled):
    points = [line for p in styled[domain] if p.style == "bullets" for line in p.reasons[0].split("\n")]
    assert points and all(line.startswith("- ") and line.endswith(".") for line in points)


# ---- the row model on tiny files ----------------------------------------------------------------

TINY = Catalog(
    name="tiny",
    items=[
        Item("a", "Alpine Tent", ("Outdoor",), tags=("tent", "camping"), attributes={"brand": "Northwind"}),
        Item("b", "Summit Sleeping Bag", ("Outdoor",), tags=("camping",), attributes={"brand": "Northwind"}),
    ],
)


def row(**overrides) -> dict:
    base = {
        "id": "tiny-0001",
        "domain": "tiny",
        "item_id": "b",
        "history": ["a"],
        "shared": ["Outdoor"],
        "intent": "Planning a first overnight camping trip.",
        "component": "content",
        "reasons": ["The Alpine Tent needs a warm bag beside it for cold nights in the mountains."],
    }
    base.update(overrides)
    return base


BULLETS = "- Northwind, like the Alpine Tent\n- Warm enough for cold nights in the mountains"
SHORT = "You chose the Alpine Tent for the mountains. This Northwind bag keeps you warm inside it on cold nights."


@pytest.mark.parametrize(
    ("style", "text"),
    [
        ("bullets", BULLETS),
        ("short", SHORT),
        ("compare", "The Alpine Tent keeps you dry; this Northwind bag keeps you warm."),
    ],
)
def test_each_style_accepts_its_shape(style, text):
    assert ReferencePair.model_validate(row(style=style, reasons=[text])).style == style


@pytest.mark.parametrize(
    ("style", "text", "message"),
    [
        ("bullets", "- only one point about the Alpine Tent and its Northwind brand", "2-4 lines"),
        ("bullets", "Northwind, like the Alpine Tent\nwarm enough for cold nights in the mountains", "2-4 lines"),
        ("bullets", "\n".join(["- a point about the Alpine Tent"] * 5), "2-4 lines"),
        ("short", "You chose the Alpine Tent, and this Northwind bag keeps you warm inside it on cold nights.", "2-3"),
        ("compare", "The Alpine Tent keeps you dry.\nThis Northwind bag keeps you warm.", "one paragraph"),
        ("compare", "too few words here", "expected 10-60"),
        ("one-line", SHORT + " " + SHORT + " " + SHORT, "expected 8-45"),
    ],
)
def test_a_reason_that_breaks_its_style_is_rejected(style, text, message):
    with pytest.raises(ValueError, match=message):
        ReferencePair.model_validate(row(style=style, reasons=[text]))


def test_an_unknown_style_names_the_valid_ones(tmp_path: Path):
    path = tmp_path / "tiny.jsonl"
    path.write_text(json.dumps(row(style="haiku")) + "\n")
    with pytest.raises(DataError, match=r"line 1: field 'style'.*one-line.*compare"):
        load_references(path, TINY, styles=None)
    with pytest.raises(ValueError, match=r"`styles` must be among .*Got \['haiku'\]"):
        load_references(path, TINY, styles=["haiku"])


def test_a_file_without_rows_of_the_asked_style_says_so(tmp_path: Path):
    path = tmp_path / "tiny.jsonl"
    path.write_text(json.dumps(row()) + "\n")
    with pytest.raises(DataError, match="no rows of style bullets"):
        load_references(path, TINY, styles=["bullets"])
    assert [p.style for p in load_references(path, TINY)] == ["one-line"]
