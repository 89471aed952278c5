"""AppTest for the home page: config picker, model status, an example run."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration


def test_home_lists_configs_and_runs_an_example_profile():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception
    assert at.title[0].value == "GENRE"
    assert set(at.selectbox(key="home_config").options) >= {"movies", "products", "news"}
    assert any("Device:" in m.value for m in at.markdown)
    at.selectbox(key="home_profile").set_value("space-opera-fan")
    at.button(key="home_run").click().run()
    assert not at.exception and not at.error
    components = at.dataframe[0].value
    assert {"scorers", "fusion"} <= set(components["stage"])
    frame = at.dataframe[1].value
    assert len(frame) == 10 and frame["reason"].str.len().min() > 10


def test_home_switches_domain():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.selectbox(key="home_config").set_value("products").run()
    assert not at.exception
    assert "Maya, trail runner training for her first ultra" in at.selectbox(key="home_profile").options


def test_the_sidebar_names_the_home_page_home_and_lists_every_page(monkeypatch):
    import streamlit as st

    listed = []
    original = st.navigation

    def recording(pages, *args, **kwargs):
        listed.append([(p.title, p.url_path, p._default) for p in pages])
        return original(pages, *args, **kwargs)

    monkeypatch.setattr(st, "navigation", recording)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception
    # The entry file's own name ("app") is no page title; every other page keeps its /Name address.
    assert listed[-1] == [
        ("Home", "", True),
        ("Recommend", "Recommend", False),
        ("Tune", "Tune", False),
        ("Review", "Review", False),
        ("Evaluate", "Evaluate", False),
        ("Models", "Models", False),
    ]
    at.switch_page("pages/5_Models.py").run()
    assert not at.exception
    assert at.title[0].value == "Models"
