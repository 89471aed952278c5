"""Integration: products and news evaluated end to end on their simulated logs, with the real embedder.

The figures only show that every component trains and ranks from these logs; the logs are simulated
(genre/data/simulate.py), so no figure here is evidence about real users.
"""

from __future__ import annotations

import pytest

from genre import Pipeline, load_config
from genre.data import load_profiles
from genre.data.profiles import interactions_to_context, profile_to_context
from genre.evaluation.harness import evaluate
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

COLLABORATIVE = ("itemknn", "ease", "bpr", "sasrec")


@pytest.mark.parametrize(("domain", "protocol"), [("products", "T"), ("news", "T"), ("news", "R")])
def test_every_scorer_and_the_learned_fusion_evaluate_on_the_log(domain, protocol):
    cfg = load_config(ROOT / "configs" / f"{domain}-logs.toml")
    report = evaluate([cfg], protocol=protocol, intent_head=protocol == "T")
    rows = {r.name: r for r in report.rows}
    assert set(rows) == {*cfg.scorers, cfg.name}
    assert report.users == 360 and report.train_interactions > report.test_interactions > 0
    popularity = rows["popularity"].metrics["ndcg@10"]
    for name in COLLABORATIVE:  # they learned something from the log, beyond what everyone clicks
        assert rows[name].metrics["ndcg@10"] > popularity, (name, rows[name].metrics)
    best = max(rows[n].metrics["ndcg@10"] for n in cfg.scorers)
    fused = rows[cfg.name].metrics["ndcg@10"]
    assert fused > 0.8 * best, (fused, best)  # the learned blend keeps most of the best scorer's quality
    assert rows[cfg.name].detail["fusion"] == "learned"
    if protocol == "T":  # the trained intent head learns the next item's category from the log
        (head,) = report.extras["intent_accuracy"]
        assert head["top1"] > head["majority_top1"] and head["top3"] > head["majority_top3"]


@pytest.mark.parametrize("domain", ["products", "news"])
def test_a_log_user_and_an_example_profile_get_explained_recommendations(domain):
    cfg = load_config(ROOT / "configs" / f"{domain}-logs.toml")
    pipe = Pipeline(cfg)
    user = f"sim-{next(iter(load_profiles(cfg.data)))}-001"
    trace = pipe.run(interactions_to_context(pipe.catalog, user))
    assert len(trace.items) == cfg.k
    for item in trace.items:  # contributions explain every fused score
        assert set(item.contributions) >= set(COLLABORATIVE)
        assert sum(item.contributions.values()) == pytest.approx(item.score, abs=1e-6)
    profile = next(iter(load_profiles(cfg.data).values()))
    assert len(pipe.run(profile_to_context(profile, pipe.catalog)).items) == cfg.k
