"""AppTest for the Review page and the Recommend page's feedback buttons, against a private store."""

from __future__ import annotations

import pytest

from genre.feedback import FeedbackStore
from tests.app.conftest import chart_titles, errors, page

pytestmark = pytest.mark.integration


def test_reviews_are_stored_summarized_and_exportable(store_url):
    at = page("pages/3_Review.py", "products")
    at.run()
    assert not at.exception and not errors(at)
    at.sidebar.selectbox(key="review_generator").set_value("template")
    at.sidebar.slider(key="review_k").set_value(3)
    at.button(key="review_run").click().run()
    assert not at.exception and not errors(at)
    at.select_slider(key="review_rating_1").set_value(5)
    at.radio(key="review_faithful_2").set_value("no")
    at.text_input(key="review_comment_1").set_value("Names the exact headlamp I owned — convincing.")
    at.button(key="review_save").click().run()
    assert not at.exception and not errors(at)
    assert any("Saved 3 reviews" in s.value for s in at.success)
    events = FeedbackStore(store_url).events()
    assert len(events) == 6 and {e.kind for e in events} == {"reason_rating", "reason_faithful"}
    ratings = sorted(e.value for e in events if e.kind == "reason_rating")
    assert ratings == [3.0, 3.0, 5.0]
    assert any(e.comment and "headlamp" in e.comment for e in events)
    assert all(e.generator == "template" and e.config_name == "products" for e in events)
    assert "Reviews per generator" in chart_titles(at)
    summary = at.dataframe[0].value
    assert summary.loc[0, "generator"] == "template" and summary.loc[0, "faithful_rate"] == pytest.approx(2 / 3)


def test_a_corrupt_store_warns_and_the_page_still_works(tmp_path, monkeypatch):
    bad = tmp_path / "broken.sqlite3"
    bad.write_bytes(b"this is not a database" * 100)
    monkeypatch.setenv("GENRE_FEEDBACK_URL", f"sqlite:///{bad}")
    at = page("pages/3_Review.py", "products")
    at.run()
    assert not at.exception
    assert any("Feedback is off" in w.value and "broken.sqlite3" in w.value for w in at.warning)
    at.sidebar.selectbox(key="review_generator").set_value("template")
    at.button(key="review_run").click().run()
    assert not at.exception and not errors(at)
    at.button(key="review_save").click().run()
    assert any("nothing was saved" in e for e in errors(at))


def test_dislike_on_recommend_excludes_the_item_next_run_and_says_why(store_url):
    at = page("pages/1_Recommend.py", "products")
    at.run()
    at.sidebar.selectbox(key="rec_generator").set_value("template")
    at.radio(key="rec_source").set_value("Example profile").run()
    at.selectbox(key="rec_profile").set_value("trail-runner")
    at.button(key="rec_run").click().run()
    first = at.session_state["rec_trace"]
    disliked, liked = first.items[0], first.items[5]
    at.button(key=f"rec_fb_dislike_{disliked.item_id}").click().run()
    at.button(key=f"rec_fb_like_{liked.item_id}").click().run()
    assert not at.exception and not errors(at)
    at.button(key="rec_run").click().run()
    second = at.session_state["rec_trace"]
    assert disliked.item_id not in [i.item_id for i in second.items]
    assert second.feedback is not None and disliked.item_id in second.feedback.excluded
    assert liked.item_id in second.feedback.liked
    assert any("Your feedback shaped this run" in s.value and disliked.title in s.value for s in at.success)
    stored = FeedbackStore(store_url).events()
    assert [(e.kind, e.item_id, e.run_id) for e in stored] == [
        ("dislike", disliked.item_id, first.run_id),
        ("like", liked.item_id, first.run_id),
    ]


def test_an_over_limit_comment_is_refused_naming_the_limit_and_nothing_is_saved(store_url):
    at = page("pages/3_Review.py", "products")
    at.run()
    at.sidebar.selectbox(key="review_generator").set_value("template")
    at.sidebar.slider(key="review_k").set_value(2)
    at.button(key="review_run").click().run()
    at.text_input(key="review_comment_2").set_value("c" * 1001)
    at.button(key="review_save").click().run()
    assert not at.exception
    assert any("the comment on item 2 is 1,001 characters long; the limit is 1,000" in e for e in errors(at))
    assert FeedbackStore(store_url).events() == []
    at.text_input(key="review_comment_2").set_value("c" * 1000)
    at.button(key="review_save").click().run()
    assert any("Saved 2 reviews" in s.value for s in at.success)
    assert sorted(len(e.comment or "") for e in FeedbackStore(store_url).events()) == [0, 0, 0, 1000]


def test_a_generators_options_are_kept_when_switching_back_and_forth(store_url):
    at = page("pages/3_Review.py", "products")
    at.run()
    at.sidebar.selectbox(key="review_generator").set_value("template").run()
    at.number_input(key="review_opts_template_max_evidence").set_value(1).run()
    at.sidebar.selectbox(key="review_generator").set_value("openai-compatible").run()
    at.number_input(key="review_opts_openai-compatible_max_evidence").set_value(4).run()
    at.sidebar.selectbox(key="review_generator").set_value("template").run()
    assert at.number_input(key="review_opts_template_max_evidence").value == 1
    at.sidebar.selectbox(key="review_generator").set_value("openai-compatible").run()
    assert at.number_input(key="review_opts_openai-compatible_max_evidence").value == 4
    at.sidebar.selectbox(key="review_generator").set_value("template").run()
    # The kept options are the ones the reasons are written with.
    at.sidebar.slider(key="review_k").set_value(2)
    at.button(key="review_run").click().run()
    assert not at.exception and not errors(at)
    trace = at.session_state["review_trace"][0]
    assert trace.config["explain"] == {"component": "template", "config": {"max_evidence": 1}}


def test_reviewed_reasons_are_kept_with_their_context_for_training(store_url):
    at = page("pages/3_Review.py", "products")
    at.run()
    at.sidebar.selectbox(key="review_generator").set_value("template")
    at.sidebar.slider(key="review_k").set_value(2)
    at.button(key="review_run").click().run()
    assert not at.exception and not errors(at)
    trace = at.session_state["review_trace"][0]
    stored = FeedbackStore(store_url).reasons(trace.run_id)
    assert sorted((r.item_id, r.generator, r.text) for r in stored) == sorted(
        (i.item_id, "template", i.reason.text) for i in trace.items
    )
    assert all(r.context is not None and r.context["item_id"] == r.item_id for r in stored)
    history = [h.item_id for h in trace.history]
    assert all(r.context["history_ids"] == history for r in stored)
