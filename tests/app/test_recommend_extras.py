"""AppTest for Recommend's conveniences: the generator's options, saved profiles, and the downloads."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from genre.feedback import FeedbackStore
from tests.app.conftest import errors, page

pytestmark = pytest.mark.integration

TEMPLATE_EVIDENCE = "rec_explain_products_template_max_evidence"


def _plain(messages: list[str]) -> list[str]:
    """Messages as read, not as escaped for markdown."""
    return [m.replace("\\", "") for m in messages]


def test_a_generators_options_survive_switching_to_another_and_back():
    at = page("pages/1_Recommend.py", "products")
    at.run()
    at.sidebar.selectbox(key="rec_generator").set_value("template").run()
    at.number_input(key=TEMPLATE_EVIDENCE).set_value(1).run()
    at.sidebar.selectbox(key="rec_generator").set_value("openai-compatible").run()
    assert not at.exception
    at.text_input(key="rec_explain_products_openai-compatible_model").set_value("demo").run()
    at.sidebar.selectbox(key="rec_generator").set_value("template").run()
    assert at.number_input(key=TEMPLATE_EVIDENCE).value == 1  # drawn again from the kept value
    at.radio(key="rec_source").set_value("Example profile").run()
    at.button(key="rec_run").click().run()
    assert not at.exception and not errors(at)
    trace = at.session_state["rec_trace"]
    assert trace.config["explain"] == {"component": "template", "config": {"max_evidence": 1}}
    at.sidebar.selectbox(key="rec_generator").set_value("openai-compatible").run()
    assert at.text_input(key="rec_explain_products_openai-compatible_model").value == "demo"


def test_a_bad_option_is_named_and_the_page_falls_back_to_template_reasons():
    at = page("pages/1_Recommend.py", "products")
    at.run()
    at.sidebar.selectbox(key="rec_generator").set_value("openai-compatible").run()
    at.text_input(key="rec_explain_products_openai-compatible_model").set_value("demo")
    at.number_input(key="rec_explain_products_openai-compatible_timeout_s").set_value(900.0).run()
    assert not at.exception
    assert (
        "The openai-compatible generator cannot start: explain openai-compatible: option 'timeout_s' must be "
        "greater than 0 and at most 300; you entered 900; showing template reasons instead."
    ) in _plain(errors(at))
    at.radio(key="rec_source").set_value("Example profile").run()
    at.button(key="rec_run").click().run()
    trace = at.session_state["rec_trace"]
    assert trace.items and all(i.reason.generator == "template" for i in trace.items)


def _build(at, text: str, history: list[str]) -> None:
    at.radio(key="rec_source").set_value("Build a profile").run()
    at.multiselect(key="rec_history").set_value(history)
    at.text_area(key="rec_text").set_value(text)
    at.multiselect(key="rec_categories").set_value(["Running & Fitness"])
    at.number_input(key="rec_price_max").set_value(120.0).run()


def test_a_built_profile_is_saved_overwritten_on_confirmation_and_loaded_back(store_url):
    at = page("pages/1_Recommend.py", "products")
    at.run()
    at.sidebar.selectbox(key="rec_generator").set_value("template").run()
    at.radio(key="rec_source").set_value("Build a profile").run()
    history = at.multiselect(key="rec_history").options[:2]
    _build(at, "Trail running gear for long mountain races", [])
    at.multiselect(key="rec_history").select(history[0]).select(history[1]).run()
    chosen_ids = list(at.session_state["rec_history"])
    assert len(chosen_ids) == 2
    at.text_input(key="rec_save_name").set_value("weekend")
    at.button(key="rec_save_profile").click().run()
    assert not at.exception and not errors(at)
    assert any("Saved the profile as 'weekend'" in s.value.replace("\\", "") for s in at.success)
    owner = "products:session:" + at.session_state["genre_feedback_session"]
    store = FeedbackStore(store_url)
    assert store.list_profiles(owner) == ["weekend"]

    # The same name again asks first; keeping the saved one changes nothing.
    at.text_area(key="rec_text").set_value("Road cycling").run()
    at.button(key="rec_save_profile").click().run()
    assert any("is saved already. Overwrite it" in w.value for w in at.warning)
    assert store.load_profile(owner, "weekend")["text"] == "Trail running gear for long mountain races"
    at.button(key="rec_save_cancel").click().run()
    assert store.load_profile(owner, "weekend")["text"] == "Trail running gear for long mountain races"
    at.button(key="rec_save_profile").click().run()
    at.button(key="rec_save_overwrite").click().run()
    saved = store.load_profile(owner, "weekend")
    assert saved["text"] == "Road cycling" and saved["history"] == chosen_ids
    assert saved["categories"] == ["Running & Fitness"] and saved["price_max"] == 120.0

    at.text_area(key="rec_text").set_value("Commuting by bike")
    at.text_input(key="rec_save_name").set_value("commute")
    at.button(key="rec_save_profile").click().run()
    assert store.list_profiles(owner) == ["commute", "weekend"]

    # Loading puts every field back (the second of two saved profiles here).
    at.multiselect(key="rec_history").set_value([])
    at.text_area(key="rec_text").set_value("")
    at.multiselect(key="rec_categories").set_value([])
    at.number_input(key="rec_price_max").set_value(None).run()
    at.selectbox(key="rec_saved_pick").set_value("weekend")
    at.button(key="rec_load_profile").click().run()
    assert not at.exception and not errors(at)
    assert list(at.session_state["rec_history"]) == chosen_ids
    assert at.text_area(key="rec_text").value == "Road cycling"
    assert at.multiselect(key="rec_categories").value == ["Running & Fitness"]
    assert at.number_input(key="rec_price_max").value == 120.0
    at.button(key="rec_run").click().run()
    assert at.session_state["rec_trace"].user.profile == "Road cycling"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("   ", "the name is empty"),
        ("bell\x07name", "control or invisible characters; found U+0007"),
        ("x" * 81, "at most 80 characters; this one has 81"),
    ],
)
def test_a_bad_profile_name_is_refused_and_nothing_is_stored(store_url, name, message):
    at = page("pages/1_Recommend.py", "products")
    at.run()
    _build(at, "Trail running", [])
    at.text_input(key="rec_save_name").set_value(name)
    at.button(key="rec_save_profile").click().run()
    assert not at.exception
    assert any(message in e for e in _plain(errors(at)))
    owner = "products:session:" + at.session_state["genre_feedback_session"]
    assert FeedbackStore(store_url).list_profiles(owner) == []


def test_without_a_store_saving_profiles_says_so(tmp_path, monkeypatch):
    bad = tmp_path / "broken.sqlite3"
    bad.write_bytes(b"this is not a database" * 100)
    monkeypatch.setenv("GENRE_FEEDBACK_URL", f"sqlite:///{bad}")
    at = page("pages/1_Recommend.py", "products")
    at.run()
    at.radio(key="rec_source").set_value("Build a profile").run()
    assert not at.exception
    assert any("Saving profiles needs the feedback store" in i.value for i in at.info)


def test_every_table_downloads_as_csv_and_every_chart_as_png(monkeypatch):
    import streamlit as st

    offered: dict[str, bytes | str] = {}
    original = st.download_button

    def recording(label, data, *args, **kwargs):
        offered[label] = data
        return original(label, data, *args, **kwargs)

    monkeypatch.setattr(st, "download_button", recording)
    at = page("pages/1_Recommend.py", "movies")
    at.run()
    at.sidebar.selectbox(key="rec_generator").set_value("template")
    at.selectbox(key="rec_user").set_value("1")
    at.button(key="rec_run").click().run()
    assert not at.exception and not errors(at)
    trace = at.session_state["rec_trace"]
    labels = {b.proto.label for b in at.get("download_button")}
    expected = {
        "Ranked list (CSV)",
        "Checked claims (CSV)",
        "Evidence (CSV)",
        "Leave-one-out (CSV)",
        "Run trace (JSON)",
    }
    assert expected <= labels <= set(offered)
    ranked = pd.read_csv(io.BytesIO(offered["Ranked list (CSV)"]))
    assert list(ranked["title"]) == [i.title for i in trace.items]
    assert list(ranked["reason"]) == [i.reason.text for i in trace.items]
    assert ranked["contribution: sasrec"].tolist() == pytest.approx([i.contributions["sasrec"] for i in trace.items])
    claims = pd.read_csv(io.BytesIO(offered["Checked claims (CSV)"]))
    assert len(claims) == sum(len(i.reason.verdict.claims) for i in trace.items)
    evidence = pd.read_csv(io.BytesIO(offered["Evidence (CSV)"]))
    first = trace.items[0]  # the inspected item by default
    assert len(evidence) == sum(len(evs) for evs in first.evidence.values())
    assert json.loads(offered["Run trace (JSON)"])["run_id"] == trace.run_id
    charts = at.get("plotly_chart")
    assert len(charts) >= 4
    for chart in charts:
        config = json.loads(chart.proto.config)
        assert config["toImageButtonOptions"]["format"] == "png"
        assert config["toImageButtonOptions"]["filename"].startswith(f"genre-{trace.run_id}-")
        assert config.get("displayModeBar", True) is not False


def test_the_run_is_recorded_again_once_its_reasons_are_written(saved_configs, store_url, monkeypatch):
    """The stored run must name the generator that wrote the reasons, not the template that stood in."""
    from genre import load_config, save_config
    from genre.config import StageSpec
    from tests.conftest import ROOT

    cfg = load_config(ROOT / "configs" / "products.toml")
    counting = StageSpec(component="tests.pipeline.test_explain_batch:CountingReasoner")
    save_config(
        cfg.model_copy(update={"name": "products-counting", "explain": counting}),
        saved_configs / "products-counting.toml",
    )
    recorded: list[tuple[str, list[str], str | None]] = []
    original = FeedbackStore.record_run

    def spy(self, trace, *, user=None, session_id=None):
        recorded.append((trace.run_id, sorted({i.reason.generator for i in trace.items}), user))
        return original(self, trace, user=user, session_id=session_id)

    monkeypatch.setattr(FeedbackStore, "record_run", spy)
    at = page("pages/1_Recommend.py", "products-counting")
    at.run()
    at.radio(key="rec_source").set_value("Example profile").run()
    at.button(key="rec_run").click().run()
    assert not at.exception and not errors(at)
    trace = at.session_state["rec_trace"]
    owner = at.session_state["rec_trace_user"]
    # First when the list is shown (template stand-ins), then with the generator's reasons.
    assert recorded == [(trace.run_id, ["template"], owner), (trace.run_id, ["counting"], owner)]


def test_a_reason_style_picked_on_recommend_writes_that_style():
    """The style option (helper A's) gets its selectbox from the Config like any Literal option."""
    from genre.components.reasoners.template import TemplateConfig

    if "style" not in TemplateConfig.model_fields:
        pytest.skip("the template has no style option on this branch yet")
    at = page("pages/1_Recommend.py", "products")
    at.run()
    at.sidebar.selectbox(key="rec_generator").set_value("template").run()
    at.radio(key="rec_source").set_value("Example profile").run()
    at.button(key="rec_run").click().run()
    one_line = [i.reason.text for i in at.session_state["rec_trace"].items]
    style = at.selectbox(key="rec_explain_products_template_style")
    assert {"one-line", "short", "bullets", "compare"} <= set(style.options)
    style.set_value("bullets").run()
    at.button(key="rec_run").click().run()
    assert not at.exception and not errors(at)
    trace = at.session_state["rec_trace"]
    assert trace.config["explain"]["config"]["style"] == "bullets"
    assert [i.reason.text for i in trace.items] != one_line
    at.sidebar.selectbox(key="rec_generator").set_value("openai-compatible").run()
    at.sidebar.selectbox(key="rec_generator").set_value("template").run()
    assert at.selectbox(key="rec_explain_products_template_style").value == "bullets"
