"""AppTest for the Tune page: parameter widgets, the live preview, saving, and A/B compare."""

from __future__ import annotations

import shutil

import pytest

from genre import load_config
from genre.registry import BUILTINS, resolve
from tests.app.conftest import chart_titles, errors, page
from tests.conftest import ROOT

pytestmark = pytest.mark.integration


def _preview(at):
    return at.dataframe[0].value


def test_weight_slider_reranks_the_preview_and_reuses_components():
    at = page("pages/2_Tune.py", "products")
    at.run()
    assert not at.exception and not errors(at)
    before = _preview(at)
    assert len(before) == 10
    # Content alone: every contribution comes from content and the list changes.
    for name in ("popularity", "intent", "price", "preference"):
        at.slider(key=f"tune_products_w_{name}").set_value(0.0)
    at.slider(key="tune_products_w_content").set_value(3.0).run()
    after = _preview(at)
    assert not at.exception and not errors(at)
    assert (after["popularity"] == 0).all() and (after["content"] > 0).all()
    assert list(after["title"]) != list(before["title"])
    assert any("reused unchanged components: context, intent, candidates" in c.value for c in at.caption)


def test_bad_parameter_json_is_named():
    at = page("pages/2_Tune.py", "products")
    at.run()
    at.text_input(key="tune_products_intent_zero-shot_labels").set_value("[not json").run()
    assert not at.exception
    assert any("option 'labels' is not valid JSON" in e for e in errors(at))


def test_invalid_combination_is_reported_not_raised():
    at = page("pages/2_Tune.py", "products")
    at.run()
    for box in at.checkbox:
        if box.key and box.key.startswith("tune_products_use_"):
            box.set_value(False)
    at.run()
    assert not at.exception
    assert "choose at least one scorer" in errors(at)


def test_save_validates_the_name_and_writes_a_loadable_config(saved_configs):
    at = page("pages/2_Tune.py", "products")
    at.run()
    at.text_input(key="tune_save_name").set_value("Bad Name!")
    at.button(key="tune_save").click().run()
    assert any("lower-case letters" in e for e in errors(at))
    at.slider(key="tune_products_w_price").set_value(2.5)
    at.text_input(key="tune_save_name").set_value("products-pricey")
    at.button(key="tune_save").click().run()
    assert not errors(at) and at.success
    saved = load_config(saved_configs / "products-pricey.toml")
    assert saved.name == "products-pricey" and saved.fusion.config["weights"]["price"] == 2.5
    # A saved config is offered on every page from now on.
    at.run()
    assert "products-pricey" in at.sidebar.selectbox(key="tune_config").options


def test_ab_compare_shows_both_lists_movement_and_heldout_ndcg(saved_configs):
    at = page("pages/2_Tune.py", "movies-fast")
    at.run()
    assert not at.exception and not errors(at)
    at.slider(key="tune_movies-fast_w_popularity").set_value(3.0)
    at.slider(key="tune_movies-fast_w_ease").set_value(0.05).run()
    at.text_input(key="ab_user").set_value("7")
    at.button(key="ab_run").click().run()
    assert not at.exception and not errors(at)
    metrics = {m.label: m.value for m in at.metric}
    assert "Overlap@10" in metrics
    assert {"A: NDCG@10", "B: NDCG@10"} <= set(metrics)
    a, b = float(metrics["A: NDCG@10"]), float(metrics["B: NDCG@10"])
    assert 0.0 <= a <= 1.0 and 0.0 <= b <= 1.0
    assert any(t.startswith("Rank movement, overlap@10") for t in chart_titles(at))
    assert len(at.dataframe[1].value) == 10


def test_warm_slider_rerun_prepares_no_component_again(monkeypatch):
    """A weight change re-fuses: no context, intent or scorer is prepared (trained, loaded) again."""
    at = page("pages/2_Tune.py", "products")
    at.run()
    prepared: list[str] = []
    classes = {resolve(stage, name) for stage in ("context", "intent", "scorers") for name in BUILTINS[stage]}
    originals = {cls: cls.prepare for cls in classes}  # read them all before patching any (subclasses)
    for cls, original in originals.items():

        def counting(self, env, _original=original, _name=cls.__name__):
            prepared.append(_name)
            return _original(self, env)

        monkeypatch.setattr(cls, "prepare", counting)
    at.slider(key="tune_products_w_price").set_value(1.7).run()
    assert not at.exception
    caption = next(c.value for c in at.caption if "reused unchanged components" in c.value)
    assert "scorers.content" in caption and "intent" in caption
    assert prepared == []


def test_an_out_of_range_parameter_is_named_with_the_typed_value():
    at = page("pages/2_Tune.py", "products")
    at.run()
    at.number_input(key="tune_products_scorer_price_tolerance").set_value(7.5).run()
    assert not at.exception
    assert "scorers price-fit: option 'tolerance' must be greater than 0 and at most 5; you entered 7.5" in errors(at)
    assert at.button(key="tune_save").disabled  # nothing half-valid is previewed or saved
    at.number_input(key="tune_products_scorer_price_tolerance").set_value(2.0).run()
    assert not any("tolerance" in e for e in errors(at))
    assert not at.button(key="tune_save").disabled and _preview(at)["price"].notna().all()


def test_a_shipped_name_is_refused_and_saved_configs_default_to_the_cache(tmp_path, monkeypatch):
    shipped = tmp_path / "shipped"
    shutil.copytree(ROOT / "configs", shipped)
    original = (shipped / "products.toml").read_text()
    monkeypatch.setattr("pages.common.ui.BUILTIN_CONFIGS", shipped)  # nothing real can be overwritten
    monkeypatch.delenv("GENRE_CONFIG_DIR", raising=False)
    monkeypatch.setattr("pages.common.ui.cache_dir", lambda: tmp_path / "cache", raising=False)
    at = page("pages/2_Tune.py", "products")
    at.run()
    at.slider(key="tune_products_w_price").set_value(2.5)
    at.text_input(key="tune_save_name").set_value("products")
    at.button(key="tune_save").click().run()
    assert any("'products' is a shipped config" in e for e in errors(at))
    assert (shipped / "products.toml").read_text() == original
    at.text_input(key="tune_save_name").set_value("my-products")
    at.button(key="tune_save").click().run()
    assert not errors(at)
    assert load_config(tmp_path / "cache" / "configs" / "my-products.toml").fusion.config["weights"]["price"] == 2.5
    assert not (shipped / "my-products.toml").exists()
    at.run()
    options = at.sidebar.selectbox(key="tune_config").options
    assert "my-products" in options and "products" in options


def test_explain_options_get_widgets_and_travel_into_the_saved_config(saved_configs):
    at = page("pages/2_Tune.py", "products")
    at.run()
    assert at.selectbox(key="tune_products_explain").value == "template"
    at.number_input(key="tune_products_explain_template_max_evidence").set_value(1)
    at.text_input(key="tune_save_name").set_value("products-one")
    at.button(key="tune_save").click().run()
    assert not at.exception and not errors(at)
    assert load_config(saved_configs / "products-one.toml").explain.config == {"max_evidence": 1}

    # Another generator brings its own options: a string is checked by the generator's own rules.
    at.selectbox(key="tune_products_explain").set_value("openai-compatible").run()
    assert any("explain openai-compatible: option 'model' is required" in e for e in errors(at))
    at.text_input(key="tune_products_explain_openai-compatible_model").set_value("demo")
    at.text_input(key="tune_products_explain_openai-compatible_base_url").set_value("ftp://example.org/v1").run()
    bad = [e.replace("\\", "") for e in errors(at) if "base_url" in e]  # shown escaped, read unescaped
    assert bad == [
        "explain openai-compatible: option 'base_url': base_url must be an http:// or https:// URL. "
        "Got 'ftp://example.org/v1'"
    ]
    assert at.button(key="tune_save").disabled
    at.text_input(key="tune_products_explain_openai-compatible_base_url").set_value("http://127.0.0.1:9/v1")
    at.number_input(key="tune_products_explain_openai-compatible_timeout_s").set_value(2.0).run()
    assert not errors(at)
    at.text_input(key="tune_save_name").set_value("products-remote")
    at.button(key="tune_save").click().run()
    assert not at.exception and not errors(at)
    saved = load_config(saved_configs / "products-remote.toml").explain
    assert saved.component == "openai-compatible"
    assert saved.config == {"base_url": "http://127.0.0.1:9/v1", "model": "demo", "timeout_s": 2.0}


def test_ab_compare_with_reasons_shows_both_configs_reasons_for_the_shared_items():
    at = page("pages/2_Tune.py", "products")
    at.run()
    # A (edited) names one history item per reason, B (the shipped config) up to two.
    at.number_input(key="tune_products_explain_template_max_evidence").set_value(1).run()
    at.button(key="ab_run").click().run()
    assert not at.exception and not errors(at)
    at.toggle(key="ab_with_reasons").set_value(True).run()
    assert not at.exception and not errors(at)
    _, _, trace_a, trace_b, _, _ = at.session_state["ab_result"]
    in_b = {i.item_id: i for i in trace_b.items}
    shared = [(a, in_b[a.item_id]) for a in trace_a.items if a.item_id in in_b]
    assert shared
    cells = [m.value for m in at.markdown if m.value.startswith(("**A: rank", "**B: rank"))]
    assert len(cells) == 2 * len(shared)
    text = "\n".join(m.value for m in at.markdown)
    for a, b in shared:
        assert f"**A: rank {a.rank}**" in text and f"**B: rank {b.rank}**" in text
    # Each cell carries its config's own reason and verdict badge.
    assert text.count(":green-badge[faithful]") + text.count(":red-badge[not faithful]") == 2 * len(shared)
    assert any(a.reason.text != b.reason.text for a, b in shared)


def test_ab_reasons_from_a_generator_are_written_only_on_request(saved_configs):
    from genre import save_config
    from genre.config import StageSpec
    from tests.pipeline.test_explain_batch import CALLS

    cfg = load_config(ROOT / "configs" / "products.toml")
    counting = StageSpec(component="tests.pipeline.test_explain_batch:CountingReasoner")
    save_config(
        cfg.model_copy(update={"name": "products-counting", "explain": counting}),
        saved_configs / "products-counting.toml",
    )
    at = page("pages/2_Tune.py", "products")
    at.run()
    at.selectbox(key="ab_b_products").set_value("products-counting").run()
    at.button(key="ab_run").click().run()
    CALLS.clear()
    at.toggle(key="ab_with_reasons").set_value(True).run()
    assert not at.exception and not errors(at)
    assert CALLS == []  # nothing is generated until asked
    _, _, trace_a, trace_b, _, _ = at.session_state["ab_result"]
    shared = [i for i in trace_b.items if i.item_id in {a.item_id for a in trace_a.items}]
    write = at.button(key="ab_reasons_run")
    assert write.label == f"Write {len(shared)} reasons"
    write.click().run()
    assert not at.exception and not errors(at)
    assert sorted(i for call in CALLS for i in call) == sorted(i.item_id for i in shared)
    text = "\n".join(m.value for m in at.markdown)
    assert text.count(":blue-badge[counting]") == len(shared)
    assert text.count(":blue-badge[template]") == len(shared)  # A's own template reasons
    assert not [b for b in at.button if b.key == "ab_reasons_run"]  # all written: nothing left to ask for
