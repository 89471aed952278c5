"""AppTests: the products and news logs are evaluable, and every view of them says they are simulated."""

from __future__ import annotations

import pytest

from tests.app.conftest import errors, page, warnings

pytestmark = pytest.mark.integration

SIMULATED = "Simulated behaviour log"


def _simulated_warnings(at) -> list[str]:
    return [w for w in warnings(at) if w.startswith(SIMULATED)]


@pytest.mark.parametrize("config", ["products-logs", "news-logs"])
def test_evaluate_runs_on_a_simulated_log_and_labels_it(config, saved_configs):
    at = page("pages/4_Evaluate.py")
    at.run()
    assert not at.exception and not errors(at)
    options = at.multiselect(key="eval_configs").options
    assert config in options and "products" not in options and "news" not in options
    at.multiselect(key="eval_configs").set_value(["movies-fast"]).run()
    assert not _simulated_warnings(at)  # real data carries no such label
    at.multiselect(key="eval_configs").set_value([config]).run()
    assert len(_simulated_warnings(at)) == 1  # before running: what is chosen is simulated
    at.slider(key="eval_users").set_value(50)
    at.button(key="eval_run").click().run()
    assert not at.exception and not errors(at)
    table = at.dataframe[0].value
    assert set(table["name"]) >= {config, "ease", "itemknn", "bpr", "sasrec", "content"}
    assert len(_simulated_warnings(at)) == 2  # and again beside the figures
    assert "not real-world evidence" in _simulated_warnings(at)[1]


def test_recommend_labels_every_run_on_a_simulated_log(saved_configs):
    at = page("pages/1_Recommend.py", config="products-logs")
    at.run()
    assert not at.exception and not errors(at)
    assert at.radio(key="rec_source").value == "Dataset user"
    assert at.selectbox(key="rec_user").value.startswith("sim-")
    assert len(_simulated_warnings(at)) == 1
    at.radio(key="rec_source").set_value("Example profile").run()
    # A person-written profile is still scored, and its reasons counted, from the simulated log.
    assert len(_simulated_warnings(at)) == 1


def test_tune_ab_heldout_on_a_simulated_log_is_labelled(saved_configs):
    at = page("pages/2_Tune.py", "news-logs")
    at.run()
    assert not at.exception and not errors(at)
    assert at.text_input(key="ab_user").value.startswith("sim-")  # a user the log has, not MovieLens' "1"
    at.text_input(key="ab_user").set_value("sim-climate-tech-002")
    at.button(key="ab_run").click().run()
    assert not at.exception and not errors(at)
    metrics = {m.label: m.value for m in at.metric}
    assert {"A: NDCG@10", "B: NDCG@10"} <= set(metrics)
    assert len(_simulated_warnings(at)) == 1
