"""The explorer never logs what people type: a free-text profile or a review comment reaches no log record and
no console output, at any level, from any logger (Streamlit's, the libraries', GENRE's)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from tests.app.conftest import errors, page

pytestmark = pytest.mark.integration

PROFILE = "Quokka-zebra 7731 wants a waterproof headlamp for night trail runs"
COMMENT = "Marmoset-okapi 4410 thinks this reason is spot on"


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name} {record.levelname} {self.format(record)}")


@pytest.fixture
def every_log() -> Iterator[_Records]:
    """Every record of every logger at DEBUG, including loggers that do not propagate to the root."""
    handler = _Records()
    loggers = [
        logging.getLogger(),
        *(v for v in logging.root.manager.loggerDict.values() if isinstance(v, logging.Logger)),
    ]
    saved = [(lg, lg.level) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        if lg is logging.getLogger() or not lg.propagate:
            lg.addHandler(handler)
    try:
        yield handler
    finally:
        for lg, level in saved:
            lg.setLevel(level)
            lg.removeHandler(handler)


def _recommend_with_profile(at) -> None:
    at.run()
    at.sidebar.selectbox(key="rec_generator").set_value("template")
    at.sidebar.slider(key="rec_k").set_value(3)
    at.radio(key="rec_source").set_value("Build a profile").run()
    at.text_area(key="rec_text").set_value(PROFILE)
    at.button(key="rec_run").click().run()
    assert not at.exception and not errors(at)
    assert at.session_state["rec_trace"].items


def test_a_free_text_profile_and_a_review_comment_are_never_logged(store_url, every_log, capfd):
    at = page("pages/1_Recommend.py", "products")
    _recommend_with_profile(at)
    at.text_input(key="rec_save_name").set_value("night runs")
    at.button(key="rec_save_profile").click().run()
    assert not at.exception and not errors(at)

    review = page("pages/3_Review.py", "products")
    review.run()
    review.sidebar.selectbox(key="review_generator").set_value("template")
    review.sidebar.slider(key="review_k").set_value(2)
    review.button(key="review_run").click().run()
    review.text_input(key="review_comment_1").set_value(COMMENT)
    review.button(key="review_save").click().run()
    assert not review.exception and any("Saved 2 reviews" in s.value for s in review.success)

    out, err = capfd.readouterr()
    logged = "\n".join(every_log.lines)
    for secret in (PROFILE, "Quokka-zebra", COMMENT, "Marmoset-okapi"):
        assert secret not in logged and secret not in out and secret not in err


def test_the_capture_sees_a_profile_logged_from_inside_a_page_run(store_url, every_log, monkeypatch):
    """The check above can fail: a library call that logged the profile would be caught."""
    import genre.data.users as users

    original = users.built_profile_context

    def leaky(catalog, item_ids, text):
        logging.getLogger("genre.data.users").debug("building a profile from %s", text)
        return original(catalog, item_ids=item_ids, text=text)

    monkeypatch.setattr(users, "built_profile_context", leaky)
    _recommend_with_profile(page("pages/1_Recommend.py", "products"))
    assert any(PROFILE in line for line in every_log.lines)
