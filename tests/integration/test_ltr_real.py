"""Integration: the learning-to-rank fusion fitted on the real MovieLens-100K, explained and evaluated."""

from __future__ import annotations

import pytest

from genre import Pipeline
from genre.cli.recommend import format_trace
from genre.components.fusion_ltr import LtrFusion
from genre.components.ltr_features import BASE, CONTEXT_GROUPS
from genre.config import parse_config
from genre.data.profiles import interactions_to_context
from genre.evaluation.harness import evaluate

pytestmark = pytest.mark.integration

SCORERS = {
    "popularity": {"component": "popularity", "config": {"count_label": "ratings"}},
    "itemknn": {"component": "itemknn", "config": {"neighbors": 100, "shrinkage": 10.0}},
    "ease": {"component": "ease", "config": {"l2": 250.0}},
}


def _config(fusion: dict) -> dict:
    return {
        "name": f"movies-{fusion['component']}-small",
        "device": "cpu",
        "data": {"loader": "movielens-100k"},
        "scorers": SCORERS,
        "fusion": fusion,
    }


@pytest.fixture(scope="module")
def ltr() -> Pipeline:
    return Pipeline(parse_config(_config({"component": "ltr", "config": {"n_estimators": 100}})))


def test_the_model_is_fitted_on_real_users_and_every_score_is_explained(ltr):
    fusion = ltr.fusion
    assert isinstance(fusion, LtrFusion) and fusion.booster is not None
    assert fusion.fit_report["users"] > 500 and 1 <= fusion.fit_report["trees"] <= 100
    assert set(fusion.linear) == set(SCORERS)
    trace = ltr.run(interactions_to_context(ltr.catalog, "1"))
    assert len(trace.items) == 10
    for item in trace.items:
        assert {*SCORERS, *CONTEXT_GROUPS, BASE} <= set(item.contributions)
        assert item.score == pytest.approx(sum(item.contributions.values()), abs=1e-9)
        assert item.reason is not None and "base value" not in item.reason.text
    assert [i.score for i in trace.items] == sorted((i.score for i in trace.items), reverse=True)
    table = format_trace(trace)
    assert "genre over" in table and "base value" in table


def test_on_protocol_r_it_ranks_close_to_the_best_scorer_it_pools():
    report = evaluate(
        [parse_config(_config({"component": "ltr", "config": {"n_estimators": 100}}))], protocol="R", max_users=300
    )
    rows = {r.name: r.metrics["ndcg@10"] for r in report.rows}
    best_single = max(rows[name] for name in SCORERS)
    # Broken features or a misaligned pool would rank near popularity (about half of this).
    assert rows["movies-ltr-small"] >= 0.9 * best_single
