"""Template reasons in every style, and the verifier on each style claim by claim.

Tiny catalogs with exact expectations: the contrast plan (closest item, shared, new, theirs), each style's
shape and length bound, template outputs passing, and planted wrong claims failing in every style.
"""

from __future__ import annotations

import pytest

from genre.components.reasoners.contrast import make_contrast
from genre.components.reasoners.oneline import template_text
from genre.components.reasoners.plan import make_plan
from genre.components.reasoners.styles import STYLES
from genre.components.reasoners.template import TemplateReasoner
from genre.core.types import Catalog, Evidence, Intent, IntentLabel, Item, ReasonRequest
from genre.text.verifier import Verifier, points

FARGO = Item("fargo", "Fargo (1996)", ("Crime", "Drama", "Thriller"))
HEAT = Item("heat", "Heat (1995)", ("Action", "Crime", "Thriller"))
TOY = Item("toy", "Toy Story (1995)", ("Animation", "Children's", "Comedy"))
GROUNDHOG = Item("groundhog", "Groundhog Day (1993)", ("Comedy", "Romance"))
CASINO = Item("casino", "Casino (1995)", ("Drama", "Thriller"))
MOVIES = [FARGO, HEAT, TOY, GROUNDHOG, CASINO]

TENT = Item(
    "tent", "Northwind Ridge 2P Ultralight Tent", ("Outdoor & Camping",), "A two-person shelter for backpackers.",
    ("ultralight", "backpacking"), {"brand": "Northwind", "price": 429.0},
)  # fmt: skip
STOVE = Item(
    "stove", "Cairnline Ember Canister Stove", ("Outdoor & Camping",), "A small stove that boils water fast.",
    ("cooking", "backpacking"), {"brand": "Cairnline", "price": 59.0},
)  # fmt: skip
LAMP = Item(
    "lamp", "Swiftmoor Nightline Headlamp", ("Running & Fitness",), "A rechargeable lamp for runs at night.",
    ("night-running",), {"brand": "Swiftmoor", "price": 49.0},
)  # fmt: skip
PRODUCTS = [TENT, STOVE, LAMP]


def request(item: Item, history: list[Item], *, count: int | None = None, intent: str | None = None) -> ReasonRequest:
    """A request whose co-rating scorer cites every history item (the first strongest)."""
    evidence = {
        "knn": [Evidence("history_item", h.title, 0.9 - 0.1 * i, h.item_id, count) for i, h in enumerate(history)],
        "popularity": [Evidence("popularity", "350 ratings", 350.0)],
    }
    labels = [IntentLabel(label=intent, probability=0.9)] if intent else []
    return ReasonRequest(item, {"knn": 0.8, "popularity": 0.1}, evidence, history, Intent(labels=labels), False)


@pytest.fixture(scope="module")
def movies() -> Verifier:
    return Verifier(Catalog(name="movies", items=MOVIES))


@pytest.fixture(scope="module")
def products() -> Verifier:
    return Verifier(Catalog(name="products", items=PRODUCTS))


def write(req: ReasonRequest, style: str, **config: object) -> str:
    return TemplateReasoner({"style": style, **config}).write(req).text


# ---- the contrast plan --------------------------------------------------------------------------------


def test_contrast_names_closest_item_what_is_shared_new_and_theirs():
    req = request(CASINO, [HEAT], count=40)
    contrast = make_contrast(make_plan(req), req)
    assert contrast.closest == HEAT and contrast.cited
    assert [t.words for t in contrast.shared] == ["Thriller"]
    assert [t.value for t in contrast.new] == ["Drama"]
    assert contrast.theirs == ("Action", "Crime")


def test_contrast_new_attributes_are_ones_no_named_item_has():
    req = request(STOVE, [TENT])
    contrast = make_contrast(make_plan(req), req)
    # Same category, a different brand: the brand is new, the shared category is shared.
    assert [t.words for t in contrast.shared] == ["Outdoor & Camping"]
    assert [t.predicate for t in contrast.new] == ["comes from Cairnline"]


def test_without_history_there_is_nothing_to_compare():
    req = request(TOY, [])
    assert make_contrast(make_plan(req), req).closest is None


# ---- every style from the template --------------------------------------------------------------------


def test_one_line_is_todays_template_exactly():
    req = request(CASINO, [HEAT, FARGO], count=40, intent="crime thriller")
    assert write(req, "one-line") == template_text(make_plan(req))


def test_short_names_the_evidence_then_what_is_new():
    req = request(CASINO, [HEAT], count=40)
    text = write(req, "short")
    sentences = [s for s in text.split(". ") if s]
    assert 2 <= len(sentences) <= 3
    assert "40 people who rated Heat (1995)" in text  # the evidence
    assert "this one is Drama" in sentences[1]  # what is new about Casino next to Heat


def test_bullets_are_two_to_four_points_each_a_sentence():
    req = request(CASINO, [HEAT], count=40, intent="crime thriller")
    text = write(req, "bullets")
    lines = text.splitlines()
    assert 2 <= len(lines) <= 4 and all(line.startswith("- ") and line.endswith(".") for line in lines)
    assert points(text) is not None


def test_compare_says_what_is_shared_and_what_the_item_adds():
    req = request(CASINO, [HEAT], count=40)
    text = write(req, "compare")
    assert "Heat (1995)" in text and "Thriller" in text and "Drama" in text
    assert "Action and Crime" in text  # what the closest item is and this one is not


@pytest.mark.parametrize("style", STYLES)
def test_every_style_of_the_template_passes_the_verifier(style, movies, products):
    cases = [
        (movies, request(CASINO, [HEAT], count=40, intent="crime thriller")),
        (movies, request(GROUNDHOG, [TOY, FARGO], count=12)),
        (movies, request(FARGO, [CASINO, HEAT])),
        (products, request(STOVE, [TENT])),
        (products, request(LAMP, [TENT, STOVE])),
    ]
    for verifier, req in cases:
        reasoner = TemplateReasoner({"style": style})
        text = reasoner.write(req).text
        verdict = verifier.verify(text, req, max_words=reasoner.config.word_bound)
        assert verdict.passed, (style, text, verdict.problems)


def test_the_length_bound_drops_the_least_important_unit_first():
    req = request(CASINO, [HEAT], count=40, intent="crime thriller")
    full = write(req, "bullets")
    tight = write(req, "bullets", max_words=20)
    assert len(tight.split()) <= len(full.split()) and len(tight.splitlines()) >= 2
    # The first point (the strongest evidence) stays; a later one goes.
    assert tight.splitlines()[0] == full.splitlines()[0]
    assert len(tight.splitlines()) < len(full.splitlines())


# ---- the verifier, style by style: planted wrong claims fail --------------------------------------------


def test_bullets_are_checked_point_by_point(movies):
    req = request(CASINO, [HEAT], count=40)
    good = "- 40 people who rated Heat (1995) also rated this.\n- It shares Thriller with Heat (1995)."
    assert movies.verify(good, req).passed
    # One false point fails the reason, and the problem names the point.
    bad = good + "\n- It is a Comedy."
    verdict = movies.verify(bad, req)
    assert not verdict.passed and any(p.startswith("point 3") for p in verdict.problems)
    # A point that states no evidence fails too; so do five points.
    assert not movies.verify(good + "\n- It is a great pick.", req).passed
    five = "\n".join(["- It shares Thriller with Heat (1995)."] * 5)
    assert {"length", "repetition"} <= set(movies.verify(five, req).errors)


def test_bullet_claims_point_at_their_place_in_the_whole_text(movies):
    req = request(CASINO, [HEAT], count=40)
    text = "- 40 people who rated Heat (1995) also rated this.\n- It shares Thriller with Heat (1995)."
    for claim in movies.verify(text, req).claims:
        assert text[claim.start : claim.end] == claim.text


def test_unlike_claims_the_trait_for_the_item_and_not_for_the_history_item(movies):
    req = request(CASINO, [HEAT], count=40)
    assert movies.verify("Unlike Heat (1995), it is a Drama. 40 people who rated it also rated this.", req).passed
    # Casino is no Comedy.
    assert not movies.verify("Unlike Heat (1995), it is a Comedy. It is often picked after it.", req).passed
    # Heat is a Thriller too: "unlike Heat" is false.
    verdict = movies.verify("Unlike Heat (1995), it is a Thriller. It is often picked after it.", req)
    assert not verdict.passed and "Thriller too" in " ".join(verdict.problems)


def test_a_trait_said_of_the_history_item_must_be_its_own(movies):
    req = request(CASINO, [HEAT], count=40)
    assert movies.verify(
        "Heat (1995) is Action, while this one is Drama. It is often picked right after it.", req
    ).passed
    # Casino is a Drama, Heat is not: "Heat is a Drama" claims Drama for Heat and fails.
    verdict = movies.verify("Heat (1995) is a Drama, while this one is a Thriller. It is often picked after it.", req)
    assert not verdict.passed and "says 'Heat (1995)' is Drama" in " ".join(verdict.problems)
    # "that one" points back at the last history item named.
    back = "It shares Thriller with Heat (1995). That one is Romance, while this one is Drama."
    assert not movies.verify(back, req).passed


def test_what_is_new_must_be_new(products):
    req = request(STOVE, [TENT])
    assert products.verify("It shares Outdoor & Camping with Northwind Ridge 2P Ultralight Tent. What sets it apart: "
                           "it comes from Cairnline.", req).passed  # fmt: skip
    # The tent is Northwind too? No: the stove is not Northwind, and the claim is about the stove.
    assert not products.verify("It shares Outdoor & Camping with Northwind Ridge 2P Ultralight Tent. What sets it "
                               "apart: it comes from Northwind.", req).passed  # fmt: skip


@pytest.mark.parametrize("style", ["short", "compare"])
def test_planted_wrong_genre_fails_in_prose_styles(style, movies):
    req = request(CASINO, [HEAT], count=40)
    text = write(req, style)
    assert movies.verify(text, req).passed
    planted = text.replace("Drama", "Comedy")
    assert planted != text and not movies.verify(planted, req).passed


def test_the_asked_style_is_checked_for_its_shape(movies):
    req = request(CASINO, [HEAT], count=40)
    one = "40 people who rated Heat (1995) also rated this, and the two share Thriller."
    assert movies.verify(one, req).passed
    # As a short reason it is one sentence; as bullets it is no list; as compare it compares nothing... but it does
    # share Thriller, so compare holds.
    assert "length" in movies.verify(one, req, style="short").errors
    assert "length" in movies.verify(one, req, style="bullets").errors
    assert movies.verify(one, req, style="compare").passed
    vacuous = "Compared with Heat (1995), it is a great choice for anyone who loves a tense, gripping evening film."
    verdict = movies.verify(vacuous, req, style="compare")
    assert not verdict.passed and "compares nothing" in " ".join(verdict.problems)


@pytest.mark.parametrize("style", STYLES)
def test_template_reasons_hold_the_shape_of_their_style(style, movies, products):
    for verifier, req in [(movies, request(CASINO, [HEAT], count=40)), (products, request(STOVE, [TENT]))]:
        reasoner = TemplateReasoner({"style": style})
        text = reasoner.write(req).text
        assert verifier.verify(text, req, max_words=reasoner.config.word_bound, style=style).passed, text


def test_a_value_the_history_item_holds_in_another_field_is_not_new():
    speakers = Item("spk", "Aurelle B5 Bookshelf Speakers", ("Audio",), "Passive speakers.", (), {"brand": "Aurelle"})
    book = Item("book", "Listening Closely", ("Books & Stationery",), "A guide.", ("audio", "hi-fi"), {"brand": "M"})
    req = request(speakers, [book])
    contrast = make_contrast(make_plan(req), req)
    # "Audio" is the book's tag: only the brand is new.
    assert [t.value for t in contrast.new] == ["Aurelle"]
