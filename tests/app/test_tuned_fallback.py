"""The Recommend page with tuned-local: the shipped adapter writes reasons; a missing one is a named error, then template reasons."""

from __future__ import annotations

import pytest

from tests.app.conftest import errors, page

pytestmark = pytest.mark.integration


def test_missing_adapter_is_shown_and_the_page_falls_back_to_the_template(cache, monkeypatch, tmp_path):
    monkeypatch.setattr("genre.components.reasoners.tuned.SHIPPED_ADAPTERS", tmp_path / "none")  # as if never shipped
    at = page("pages/1_Recommend.py", "products")
    at.run()
    at.sidebar.selectbox(key="rec_generator").set_value("tuned-local").run()
    assert not at.exception
    shown = errors(at)
    assert len(shown) == 1
    assert "tuned-local generator cannot start" in shown[0] and "adapters/grounded does not exist" in shown[0]
    assert "train-reasoner" in shown[0] and "showing template reasons instead" in shown[0]
    at.radio(key="rec_source").set_value("Example profile").run()
    at.sidebar.slider(key="rec_k").set_value(3)
    at.button(key="rec_run").click().run()
    assert not at.exception
    trace = at.session_state["rec_trace"]
    assert len(trace.items) == 3 and all(i.reason.generator == "template" for i in trace.items)


def test_the_shipped_adapter_writes_the_reasons(monkeypatch, tmp_path):
    # The real prepared SmolLM2 from the cache, but no adapter trained there: the shipped one is used.
    monkeypatch.setattr("genre.components.reasoners.tuned.adapter_dir", lambda name: tmp_path / name)
    at = page("pages/1_Recommend.py", "products")
    at.run()
    at.sidebar.selectbox(key="rec_generator").set_value("tuned-local").run()
    assert not at.exception and not errors(at)
    at.radio(key="rec_source").set_value("Example profile").run()
    at.sidebar.slider(key="rec_k").set_value(3)
    at.button(key="rec_run").click().run()
    assert not at.exception
    trace = at.session_state["rec_trace"]
    assert len(trace.items) == 3
    written = [i for i in trace.items if i.reason.generator == "tuned-local"]
    assert written, [i.reason.generator for i in trace.items]
    # Every written reason carries its verdict; where one is rejected, the verified template is beside it.
    assert all(i.reason.verdict is not None and i.reason.faithful is i.reason.verdict.passed for i in written)
    assert all(i.template_reason.verdict.passed for i in trace.items if not i.reason.faithful)
