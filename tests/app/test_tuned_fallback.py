"""The Recommend page with a tuned-local generator whose adapter is missing: a named error, then template reasons."""

from __future__ import annotations

import pytest

from tests.app.conftest import errors, page

pytestmark = pytest.mark.integration


def test_missing_adapter_is_shown_and_the_page_falls_back_to_the_template(cache):
    at = page("pages/1_Recommend.py", "products")
    at.run()
    at.sidebar.selectbox(key="rec_generator").set_value("tuned-local").run()
    assert not at.exception
    shown = errors(at)
    assert len(shown) == 1
    assert "tuned-local generator cannot start" in shown[0] and "adapters/products does not exist" in shown[0]
    assert "train-reasoner" in shown[0] and "showing template reasons instead" in shown[0]
    at.radio(key="rec_source").set_value("Example profile").run()
    at.sidebar.slider(key="rec_k").set_value(3)
    at.button(key="rec_run").click().run()
    assert not at.exception
    trace = at.session_state["rec_trace"]
    assert len(trace.items) == 3 and all(i.reason.generator == "template" for i in trace.items)
