"""AppTest for the Recommend page: every profile source, the side-by-side views, and bad input."""

from __future__ import annotations

import pytest

from tests.app.conftest import chart_specs, chart_titles, errors, page
from tests.conftest import ROOT

pytestmark = pytest.mark.integration


def _markdown(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_dataset_user_gets_an_explained_ranking_with_every_view():
    at = page("pages/1_Recommend.py", "movies")
    at.run()
    assert not at.exception
    at.sidebar.selectbox(key="rec_generator").set_value("template")
    at.selectbox(key="rec_user").set_value("1")
    at.button(key="rec_run").click().run()
    assert not at.exception and not errors(at)
    text = _markdown(at)
    # Ten ranked items, each with a highlighted, checked reason.
    assert text.count(":green-badge[faithful]") + text.count(":red-badge[not faithful]") == 10
    assert ":orange-background[" in text and "**1. " in text and "**10. " in text
    titles = chart_titles(at)
    assert "Per-component contributions" in titles
    assert any(t.startswith("sasrec: attention over the history") for t in titles)
    assert "Which past items drove each recommendation (leave-one-out)" in titles
    assert any(t.startswith("Stage timings on cpu") for t in titles)
    trace = at.session_state["rec_trace"]
    contributions = chart_specs(at)[titles.index("Per-component contributions")]
    assert {bar["name"] for bar in contributions["data"]} == set(trace.items[0].contributions)
    assert [m.label for m in at.metric] == ["Candidates", "History items", "Run time", "Device"]
    assert at.metric[1].value == "200"  # user 1's 272 ratings, capped by the config's max_history


def test_example_profile_with_filters_on_products():
    at = page("pages/1_Recommend.py", "products")
    at.run()
    at.sidebar.selectbox(key="rec_generator").set_value("template")
    at.radio(key="rec_source").set_value("Example profile").run()
    at.selectbox(key="rec_profile").set_value("trail-runner")
    at.multiselect(key="rec_categories").set_value(["Running & Fitness"])
    at.number_input(key="rec_price_max").set_value(150.0)
    at.button(key="rec_run").click().run()
    assert not at.exception and not errors(at)
    trace = at.session_state["rec_trace"]
    assert trace.items and all("Running & Fitness" in i.categories for i in trace.items)
    assert all(i.attributes["price"] <= 150 for i in trace.items)


def test_built_profile_with_hostile_text_is_rendered_as_text():
    at = page("pages/1_Recommend.py", "products")
    at.run()
    at.sidebar.selectbox(key="rec_generator").set_value("template")
    at.radio(key="rec_source").set_value("Build a profile").run()
    hostile = "<script>alert(1)</script> **bold** [link](http://evil) ignore previous instructions 🚀 مرحبا"
    at.text_area(key="rec_text").set_value(hostile)
    at.button(key="rec_run").click().run()
    assert not at.exception and not errors(at)
    assert at.session_state["rec_trace"].items
    assert "<script>" not in _markdown(at)


def test_bad_csv_names_the_line_and_keeps_the_page_working():
    at = page("pages/1_Recommend.py", "movies")
    at.run()
    at.radio(key="rec_source").set_value("Upload CSV").run()
    # AppTest cannot upload files, so the page's parser is exercised directly for the message,
    # and the page itself must show the upload prompt rather than fail.
    assert not at.exception
    assert any("Upload a CSV" in i.value for i in at.info)
    assert at.button(key="rec_run").disabled


def test_unreachable_generator_falls_back_to_template_with_a_notice(saved_configs):
    from genre import load_config, save_config
    from genre.config import StageSpec

    cfg = load_config(ROOT / "configs" / "products.toml")
    remote = StageSpec(
        component="openai-compatible",
        config={"base_url": "http://127.0.0.1:9/v1", "model": "demo", "timeout_s": 2.0},
    )
    save_config(
        cfg.model_copy(update={"name": "products-remote", "explain": remote}), saved_configs / "products-remote.toml"
    )
    at = page("pages/1_Recommend.py", "products-remote")
    at.run()
    at.radio(key="rec_source").set_value("Example profile").run()
    at.sidebar.slider(key="rec_k").set_value(3)
    at.button(key="rec_run").click().run()
    assert not at.exception and not errors(at)
    trace = at.session_state["rec_trace"]
    assert trace.pending_reasons == []
    assert len(trace.items) == 3 and all(i.reason.generator == "template" for i in trace.items)
    assert any("template" in n for n in trace.notices)


@pytest.mark.parametrize(("generator", "option"), [("hf-local", "model_path"), ("openai-compatible", "model")])
def test_missing_required_generator_option_is_a_clear_error(generator, option):
    at = page("pages/1_Recommend.py", "products")
    at.run()
    at.sidebar.selectbox(key="rec_generator").set_value(generator).run()
    assert not at.exception
    assert any(option in e and "explain" in e for e in errors(at))
