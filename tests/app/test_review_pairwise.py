"""AppTest for the Review page's blind side-by-side mode and its prefer_reviewed control, against a private store."""

from __future__ import annotations

import pytest

from genre import load_config
from genre.data import load_catalog
from genre.feedback import FeedbackEvent, FeedbackStore
from genre.feedback.choice import reviewed_explain
from genre.feedback.pairwise import Arm
from genre.training.review_data import review_pairs
from pages.common.review import PAIRS, REVIEWER, widget_key
from tests.app.conftest import chart_titles, errors, page
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

HTML_COMMENT = "<b>bold</b> <script>alert(1)</script> **loud** [link](http://x.example)"


def _pairwise(reviewer: str | None = "Ada", k: int = 4):
    """The Review page in blind mode on products: arm A the template, arm B the template naming one item."""
    at = page("pages/3_Review.py", "products")
    if reviewer is not None:
        at.session_state[REVIEWER] = reviewer
    at.run()
    at.sidebar.radio(key="review_mode").set_value("Blind side by side").run()
    at.selectbox(key="review_arm_a_generator").set_value("template")
    at.selectbox(key="review_arm_b_generator").set_value("template").run()
    at.number_input(key="review_arm_b_template_max_evidence").set_value(1)
    at.slider(key="review_pair_k").set_value(k).run()
    assert not at.exception and not errors(at)
    return at


def _write(at, both_orders: bool = False):
    """Press the button (again, with a fresh random order, until both orders occur when asked)."""
    for _ in range(12):
        at.button(key="review_pair_run").click().run()
        assert not at.exception and not errors(at)
        batch = at.session_state[PAIRS]
        if not both_orders or {p.left for p in batch.pairs} == {"first", "second"}:
            return batch
    raise AssertionError("twelve batches in a row put the same arm on the left of every item")


def _table(at, column: str):
    """The dataframe with ``column`` (AppTest does not expose a dataframe's key)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _save(at):
    at.button(key="review_pairs_save").click().run()
    assert not at.exception


def test_a_pick_on_screen_is_stored_as_that_arm_in_both_orders_and_resaving_stores_it_once(store_url):
    at = _pairwise()
    batch = _write(at, both_orders=True)
    pairs = batch.pairs
    assert len(pairs) == 4 and len({p.item_id for p in pairs}) == 4
    # Blind: no generator name or option on screen, both reasons shown.
    shown = " ".join(m.value for m in at.markdown)
    assert "max\\_evidence" not in shown and "max_evidence" not in shown
    assert all(p.left_reason.text[:30] in shown.replace("\\", "") for p in pairs)
    picks = {}
    for i, pair in enumerate(pairs):
        picks[pair.item_id] = ["left", "right", "tie", "left"][i]
        at.radio(key=widget_key(batch, i, "pick")).set_value(picks[pair.item_id])
        at.radio(key=widget_key(batch, i, "fl")).set_value("yes")
        at.radio(key=widget_key(batch, i, "fr")).set_value("no")
    at.text_input(key=widget_key(batch, 0, "comment")).set_value(HTML_COMMENT)
    _save(at)
    assert not errors(at)
    assert any("Saved 4 judgements as Ada" in s.value for s in at.success)
    store = FeedbackStore(store_url)
    stored = store.judgements()
    assert len(stored) == 4
    for j in stored:
        pair = next(p for p in pairs if p.item_id == j.item_id)
        pick = picks[j.item_id]
        assert j.screen_pick() == pick and j.subject == pair.user and j.reviewer == store.user_key("Ada")
        expected = {"left": pair.left_arm, "right": pair.right_arm, "tie": None}[pick]
        assert j.winner == expected
        assert j.left_arm == pair.left_arm
        # The faithful marks belong to the reasons they were given beside.
        assert (j.faithful_a if j.arm_a == pair.left_arm else j.faithful_b) is True
        assert (j.faithful_a if j.arm_a == pair.right_arm else j.faithful_b) is False
        assert (j.reason_a if j.arm_a == pair.left_arm else j.reason_b) == pair.left_reason.text
        assert j.context is not None and j.context["item_id"] == j.item_id
    # The HTML comment is stored as typed and shown only as table text, never rendered.
    assert next(j for j in stored if j.item_id == pairs[0].item_id).comment == HTML_COMMENT
    assert all("<b>" not in m.value and "<script>" not in m.value for m in [*at.markdown, *at.caption])
    comments = _table(at, "comment")
    assert list(comments["comment"]) == [HTML_COMMENT]
    # Saving again (or from a second tab) replaces the same judgements.
    _save(at)
    assert len(FeedbackStore(store_url).judgements()) == 4
    summary = _table(at, "A win rate")
    assert len(summary) == 1 and summary.loc[0, "judgements"] == 4
    assert summary.loc[0, "A wins"] + summary.loc[0, "B wins"] == 3 and summary.loc[0, "ties"] == 1
    # The table's A is the page's arm A (the store's canonical order puts it second).
    # The style is named even at its default, since it is what a reader compares.
    page_a = Arm(generator="template", options={"style": "one-line"}, config_name="products")
    assert summary.loc[0, "arm A"] == "template · style=one-line [products]"
    assert summary.loc[0, "A wins"] == sum(j.winner == page_a for j in stored)
    assert summary.loc[0, "left side won"] == "2 of 3"  # picks: left, right, tie, left
    assert "no item was judged by two or more reviewers" in summary.loc[0, "agreement (kappa)"]
    assert "Win rate of arm A (95% interval)" in chart_titles(at)
    # train-reasoner --from-reviews reads these judgements: faithful winners teach, the rest are skipped.
    catalog = load_catalog(load_config(ROOT / "configs" / "products.toml").data)
    used = review_pairs(FeedbackStore(store_url), "products", catalog)
    assert used.judgements == 4 and len(used.pairs) == 2
    assert used.skipped == {"ties": 1, "winner not marked faithful": 1}
    assert sorted(p.target for p in used.pairs) == sorted(
        p.left_reason.text for p in pairs if picks[p.item_id] == "left"
    )


def test_a_second_reviewer_on_the_same_items_gives_an_agreement(store_url):
    at = _pairwise(k=2)
    batch = _write(at)
    for reviewer in ("Ada", "Grace"):
        if reviewer != "Ada":
            at.button(key="review_reviewer_change").click().run()
            at.text_input(key="review_reviewer_input").set_value(reviewer)
            at.button(key="review_reviewer_start").click().run()
            assert at.session_state[REVIEWER] == reviewer
        at.radio(key=widget_key(batch, 0, "pick")).set_value("left")
        at.radio(key=widget_key(batch, 1, "pick")).set_value("tie")
        _save(at)
    store = FeedbackStore(store_url)
    clear = {store.user_key(name): name for name in ("Ada", "Grace")}  # the store keeps pseudonyms
    assert sorted(clear[j.reviewer] for j in store.judgements()) == ["Ada", "Ada", "Grace", "Grace"]
    # Two reviewers, two shared items, the same answers on each: Cohen's kappa is 1.
    summary = _table(at, "A win rate")
    assert summary.loc[0, "agreement (kappa)"].startswith("1.00 (cohen, 2 shared items)")
    assert summary.loc[0, "reviewers"] == 2


def test_an_empty_review_and_marks_without_a_pick_store_nothing(store_url):
    at = _pairwise(k=2)
    batch = _write(at)
    _save(at)
    assert any("pick the better reason (left, right or tie) for at least one item" in e for e in errors(at))
    at.radio(key=widget_key(batch, 1, "fl")).set_value("no")
    at.radio(key=widget_key(batch, 0, "pick")).set_value("tie")
    _save(at)
    assert any("item 2" in e and "has marks or a comment but no pick" in e for e in errors(at))
    assert FeedbackStore(store_url).judgements() == []


def test_a_20000_character_comment_is_refused_naming_the_limit(store_url):
    at = _pairwise(k=2)
    batch = _write(at)
    at.radio(key=widget_key(batch, 0, "pick")).set_value("left")
    at.text_input(key=widget_key(batch, 0, "comment")).set_value("c" * 20_000)
    _save(at)
    assert any("is 20,000 characters long; the limit is 1,000" in e for e in errors(at))
    assert FeedbackStore(store_url).judgements() == []
    at.text_input(key=widget_key(batch, 0, "comment")).set_value("fine\x00 really")
    _save(at)
    assert any("control or invisible characters (U+0000)" in e for e in errors(at))
    assert FeedbackStore(store_url).judgements() == []


def test_the_reviewer_name_is_asked_once_and_control_characters_are_refused(store_url):
    at = _pairwise(reviewer=None)
    assert at.button(key="review_pair_run").disabled
    at.text_input(key="review_reviewer_input").set_value("Ada\x1b[31m")
    at.button(key="review_reviewer_start").click().run()
    assert any("control or invisible characters" in e and "U+001B" in e for e in errors(at))
    assert REVIEWER not in at.session_state
    at.text_input(key="review_reviewer_input").set_value("x" * 81)
    at.button(key="review_reviewer_start").click().run()
    assert any("81 characters long; the limit is 80" in e for e in errors(at))
    at.text_input(key="review_reviewer_input").set_value("  Ada Lovelace ")
    at.button(key="review_reviewer_start").click().run()
    assert at.session_state[REVIEWER] == "Ada Lovelace"
    assert not at.button(key="review_pair_run").disabled
    assert any("Reviewing as **Ada Lovelace**" in m.value for m in at.markdown)


def test_two_identical_arms_are_refused_by_name(store_url):
    at = _pairwise()
    at.number_input(key="review_arm_b_template_max_evidence").set_value(2).run()
    at.button(key="review_pair_run").click().run()
    assert not at.exception
    assert any("both arms are" in e and "template" in e for e in errors(at))
    assert PAIRS not in at.session_state


def test_prefer_reviewed_shows_the_decision_from_reviews_and_saves_a_user_copy(store_url, saved_configs):
    with FeedbackStore(store_url) as store:
        events = []
        for generator, faithful in (("template", 1.0), ("local-llm", 0.0)):
            for n in range(3):
                common = {"user": "r", "item_id": f"prod-00{n}", "generator": generator, "config_name": "products"}
                events.append(FeedbackEvent(kind="reason_faithful", value=faithful, **common))
        store.add_events(events)
    at = page("pages/3_Review.py", "products")
    at.run()
    at.number_input(key="review_prefer_min_products").set_value(3)
    at.toggle(key="review_prefer_on_products").set_value(True).run()
    assert not at.exception and not errors(at)
    scores = _table(at, "review score")
    assert dict(zip(scores["generator"], scores["review score"], strict=True)) == {"local-llm": 0.0, "template": 1.0}
    notice = " ".join(i.value for i in at.info)
    assert "On: runs of products would use template" in notice and "kept by reviews" in notice
    # Asking for more reviews than stored: no choice, and the notice says why.
    at.number_input(key="review_prefer_min_products").set_value(4).run()
    assert any("needs two or more" in i.value for i in at.info)
    at.text_input(key="review_prefer_name_products").set_value("products")
    at.button(key="review_prefer_save_products").click().run()
    assert any("'products' is a shipped config" in e for e in errors(at))
    at.text_input(key="review_prefer_name_products").set_value("products-reviewed")
    at.button(key="review_prefer_save_products").click().run()
    assert not errors(at)
    saved = load_config(saved_configs / "products-reviewed.toml")
    assert saved.feedback.prefer_reviewed is True and saved.feedback.min_reviews == 4
    assert saved.name == "products-reviewed" and saved.feedback.reviews_from == "products"
    # The copy decides from the reviews made with the original (stored under "products").
    three = saved.feedback.model_copy(update={"min_reviews": 3})
    spec, choice = reviewed_explain(saved.model_copy(update={"feedback": three}), None)
    assert spec.component == "template" and choice.scores == {"local-llm": 0.0, "template": 1.0}


def test_two_tabs_judging_the_same_items_store_each_judgement_once_latest_wins(store_url):
    tabs = [_pairwise(k=2), _pairwise(k=2)]
    batches = [_write(tab) for tab in tabs]
    # Each tab drew its own left/right order; the items and arms are the same.
    assert [p.item_id for p in batches[0].pairs] == [p.item_id for p in batches[1].pairs]
    for tab, batch, pick in zip(tabs, batches, ("left", "tie"), strict=True):
        for i in range(2):
            tab.radio(key=widget_key(batch, i, "pick")).set_value(pick)
        _save(tab)
        assert not errors(tab)
    stored = FeedbackStore(store_url).judgements()
    assert len(stored) == 2 and {j.choice for j in stored} == {"tie"}
