"""Feedback on a hand-built profile belongs to one browser session, or to the name the visitor gives it."""

from __future__ import annotations

import pytest

from genre.feedback import FeedbackStore
from tests.app.conftest import errors, page

pytestmark = pytest.mark.integration


def _built_profile_session(name: str = ""):
    """A fresh browser session on Recommend with the same hand-built products profile, run once."""
    at = page("pages/1_Recommend.py", "products")
    at.run()
    at.sidebar.selectbox(key="rec_generator").set_value("template")
    at.radio(key="rec_source").set_value("Build a profile").run()
    at.text_area(key="rec_text").set_value("Trail running gear for long mountain races")
    if name:
        at.text_input(key="rec_profile_name").set_value(name)
    at.button(key="rec_run").click().run()
    assert not at.exception and not errors(at)
    return at


def test_a_like_in_one_session_never_reaches_another_visitors_profile(store_url):
    first = _built_profile_session()
    liked = first.session_state["rec_trace"].items[2]
    first.button(key=f"rec_fb_like_{liked.item_id}").click().run()
    first.button(key="rec_run").click().run()
    assert liked.item_id in first.session_state["rec_trace"].feedback.liked  # this visitor's own like applies

    second = _built_profile_session()  # another visitor, same typed profile
    applied = second.session_state["rec_trace"].feedback
    assert applied is None or liked.item_id not in applied.liked
    store = FeedbackStore(store_url)
    owner = first.session_state["rec_trace_user"]
    # the store keeps the session key's pseudonym
    assert owner.startswith("products:session:") and {e.user for e in store.events()} == {store.user_key(owner)}
    assert first.session_state["rec_trace_user"] != second.session_state["rec_trace_user"]


def test_a_named_profile_keeps_its_feedback_across_sessions(store_url):
    first = _built_profile_session("Maya's trail plan")
    disliked = first.session_state["rec_trace"].items[0]
    first.button(key=f"rec_fb_dislike_{disliked.item_id}").click().run()

    later = _built_profile_session("Maya's trail plan")  # a later visit under the same name
    trace = later.session_state["rec_trace"]
    assert disliked.item_id in trace.feedback.excluded
    assert disliked.item_id not in [i.item_id for i in trace.items]
    store = FeedbackStore(store_url)
    assert [e.user for e in store.events()] == [store.user_key("products:named:Maya's trail plan")]
