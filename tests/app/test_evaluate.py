"""AppTest for the Evaluate page: a small benchmark run with progress, table and charts."""

from __future__ import annotations

import pytest

from genre.evaluation import harness
from tests.app.conftest import chart_titles, errors, page, warnings

pytestmark = pytest.mark.integration


def test_benchmark_of_a_fast_config_shows_table_and_charts(saved_configs):
    at = page("pages/4_Evaluate.py")
    at.run()
    assert not at.exception and not errors(at)
    assert "movies-fast" in at.multiselect(key="eval_configs").options
    assert "products" not in at.multiselect(key="eval_configs").options  # no interactions to hold out
    at.multiselect(key="eval_configs").set_value(["movies-fast"])
    at.slider(key="eval_users").set_value(50)
    at.button(key="eval_run").click().run()
    assert not at.exception and not errors(at)
    table = at.dataframe[0].value
    assert set(table["name"]) >= {"movies-fast", "ease", "popularity"}
    fused = table[table["name"] == "movies-fast"].iloc[0]
    popularity = table[table["name"] == "popularity"].iloc[0]
    assert 0 < fused["ndcg@10"] <= 1 and fused["ndcg@10"] > popularity["ndcg@10"]
    assert any(t.startswith("ndcg@10 per scorer") for t in chart_titles(at))
    assert any("protocol T: 50 users" in m.value for m in at.markdown)
    slices = next(d.value for d in at.dataframe if "ndcg@10-tail" in d.value.columns)
    assert {"ndcg@10-head", "ndcg@10-torso", "ips-ndcg@10", "snips-ndcg@10", "gini@10"} <= set(slices.columns)
    by_name = slices.set_index("name")
    assert by_name.loc["popularity", "gini@10"] > by_name.loc["ease", "gini@10"]
    assert "ndcg@10-tail" not in table.columns  # the slices have their own table
    assert any("IPS- and SNIPS-NDCG@10" in c.value for c in at.caption)


def test_explanation_metrics_for_the_template(saved_configs):
    at = page("pages/4_Evaluate.py")
    at.run()
    at.multiselect(key="eval_configs").set_value(["movies-fast"])
    at.slider(key="eval_users").set_value(50)
    at.checkbox(key="eval_explain").check()
    at.slider(key="eval_explain_users").set_value(3)
    at.button(key="eval_run").click().run()
    assert not at.exception and not errors(at)
    rows = next(d.value for d in at.dataframe if "generator" in d.value.columns)
    assert list(rows["generator"]) == ["template"]
    assert rows["passed"].iloc[0] == pytest.approx(1.0) and rows["invented"].iloc[0] == 0.0


def test_a_benchmark_stops_when_its_browser_session_ends(saved_configs, monkeypatch):
    built: list[str] = []
    real = harness.Pipeline
    monkeypatch.setattr(
        harness, "Pipeline", lambda config, *a, **kw: built.append(config.name) or real(config, *a, **kw)
    )
    at = page("pages/4_Evaluate.py")
    at.run()
    at.multiselect(key="eval_configs").set_value(["movies-fast"])
    at.slider(key="eval_users").set_value(50)
    # The visitor closes the tab: the runtime no longer lists this session as active.
    monkeypatch.setattr("pages.common.ui._session_is_active", lambda session_id: False, raising=False)
    at.button(key="eval_run").click().run()
    assert not at.exception and not errors(at)
    assert any("The benchmark stopped" in w for w in warnings(at))
    assert "eval_report" not in at.session_state and not at.dataframe
    assert built == []
