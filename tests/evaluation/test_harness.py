"""The harness on synthetic data: comparable rows, learned fusion, and no leakage."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from genre.components.env import Env
from genre.components.scorers import PopularityScorer
from genre.config import parse_config
from genre.core.component import Scorer
from genre.core.errors import DataError
from genre.data.splits import temporal_split
from genre.evaluation import harness
from tests.conftest import HashEmbedder, clustered_catalog


class SpyScorer(PopularityScorer):
    """Records every (user, item) pair it was trained on."""

    seen_pairs: ClassVar[list[set[tuple[str, int]]]] = []

    def prepare(self, env: Env) -> None:
        super().prepare(env)
        inter = env.interactions("spy")
        SpyScorer.seen_pairs.append(set(zip(inter.user_ids.tolist(), inter.item_index.tolist(), strict=True)))


def _config(fusion: dict, extra_scorers: dict | None = None) -> dict:
    return {
        "name": f"clustered-{fusion['component']}",
        "device": "cpu",
        "data": {"loader": "movielens-100k"},  # replaced by the synthetic catalog below
        "scorers": {
            "popularity": {"component": "popularity"},
            "itemknn": {"component": "itemknn", "config": {"neighbors": 20}},
            **(extra_scorers or {}),
        },
        "fusion": fusion,
    }


@pytest.fixture
def synthetic(monkeypatch, cache):
    catalog = clustered_catalog()
    monkeypatch.setattr(harness, "load_catalog", lambda cfg: catalog)
    monkeypatch.setattr("genre.pipeline.runner.load_embedder", lambda device: HashEmbedder())
    import genre.components.env

    monkeypatch.setattr(genre.components.env.Env, "embedder_factory", staticmethod(lambda device: HashEmbedder()))
    return catalog


def test_rows_for_every_scorer_and_fusion(synthetic):
    cfgs = [
        parse_config(_config({"component": "weighted", "config": {"weights": {"itemknn": 1.0, "popularity": 0.1}}})),
        parse_config(_config({"component": "learned", "config": {"negatives": 5}})),
    ]
    report = harness.evaluate(cfgs, protocol="T")
    names = [(r.name, r.kind) for r in report.rows]
    assert names == [
        ("popularity", "scorer"), ("itemknn", "scorer"), ("clustered-weighted", "fusion"), ("clustered-learned", "fusion"),
    ]  # fmt: skip
    rows = {r.name: r for r in report.rows}
    assert rows["itemknn"].metrics["ndcg@10"] > 2 * rows["popularity"].metrics["ndcg@10"]
    for r in report.rows:
        # IPS-NDCG is on an inverse-propensity scale (it may exceed 1); a group without test items is NaN.
        naive = {k: v for k, v in r.metrics.items() if k != "ips-ndcg@10" and not np.isnan(v)}
        assert all(0.0 <= v <= 1.0 for v in naive.values())
    learned = rows["clustered-learned"].detail["weights"]
    assert learned["itemknn"] > learned["popularity"]  # the fit finds the informative scorer
    assert report.users == 160 and report.cold_users == 0
    assert "| itemknn | scorer |" in report.to_markdown()


def test_no_scorer_ever_sees_a_test_interaction(synthetic):
    SpyScorer.seen_pairs.clear()
    cfg = parse_config(
        _config(
            {"component": "learned", "config": {"negatives": 3}},
            {"spy": {"component": "tests.evaluation.test_harness:SpyScorer"}},
        )
    )
    harness.evaluate([cfg], protocol="T")
    split = temporal_split(synthetic.interactions, 0.2)
    test_pairs = set(zip(split.test.user_ids.tolist(), split.test.item_index.tolist(), strict=True))
    # Trained once on the training split and once more inside the learned fusion's validation fit.
    assert len(SpyScorer.seen_pairs) == 2
    for pairs in SpyScorer.seen_pairs:
        assert pairs and not (pairs & test_pairs)
    assert len(SpyScorer.seen_pairs[1]) < len(SpyScorer.seen_pairs[0])


def test_catalog_without_interactions_explains_why(tiny_catalog):
    with pytest.raises(DataError, match="no user interactions"):
        harness.make_split(tiny_catalog, "T", None)


def test_topk_excludes_seen_and_falls_back_to_popularity():
    scores = np.array([[0.9, 0.8, 0.1, 0.5], [np.nan] * 4])
    top = harness._topk_from_matrix(scores, [np.array([0]), np.array([1])], np.array([1.0, 4.0, 3.0, 2.0]))
    assert top[0][:3].tolist() == [1, 3, 2]
    assert top[1][:3].tolist() == [2, 3, 0]


def test_spy_is_a_scorer():
    assert issubclass(SpyScorer, Scorer)


def test_a_cancel_event_stops_the_evaluation_before_its_next_step(synthetic):
    import threading

    from genre.core.errors import BuildCancelled

    cancel = threading.Event()
    steps: list[str] = []

    def progress(message: str, fraction: float) -> None:
        steps.append(message)
        if message.startswith("fusing"):
            cancel.set()  # e.g. the page that asked for the benchmark was closed

    cfgs = [
        parse_config(_config({"component": "weighted"})),
        parse_config(_config({"component": "learned", "config": {"negatives": 3}})),
    ]
    with pytest.raises(BuildCancelled, match="the evaluation was cancelled before training clustered-learned"):
        harness.evaluate(cfgs, protocol="T", progress=progress, cancel=cancel)
    assert steps == ["training clustered-weighted on the training split", "fusing clustered-weighted"]


def test_rows_carry_popularity_slices(synthetic):
    cfg = parse_config(_config({"component": "weighted", "config": {"weights": {"itemknn": 1.0}}}))
    report = harness.evaluate([cfg], protocol="T")
    rows = {r.name: r.metrics for r in report.rows}
    pop, knn = rows["popularity"], rows["itemknn"]
    for m in (pop, knn):
        assert set(harness.SLICE_COLUMNS) <= set(m)
    # Popularity only ever shows the same few items: most unequal exposure, no tail item found.
    assert pop["gini@10"] > knn["gini@10"] and pop["coverage@10"] < knn["coverage@10"]
    assert pop["ndcg@10-tail"] < knn["ndcg@10-tail"]
    # Rare items are up-weighted, so IPS scores the popularity-only list lower relative to naive NDCG.
    assert pop["ips-ndcg@10"] / pop["ndcg@10"] < knn["ips-ndcg@10"] / knn["ndcg@10"]
    assert report.extras["propensity"] == {"eta": 0.5, "clip": 0.01}
    assert "| itemknn | " in report.slices_markdown() and "ndcg@10-tail" in report.slices_markdown()


def test_rows_carry_the_cold_item_slice(synthetic):
    """Each row's cold-item figure is the slice of that row's own ranking (items with <= 5 training events)."""
    cfg = parse_config(_config({"component": "weighted", "config": {"weights": {"itemknn": 1.0}}}))
    report = harness.evaluate([cfg], protocol="T")
    rows = {r.name: r.metrics for r in report.rows}
    pop = rows["popularity"]
    assert "cold-item ndcg@10" in pop and "cold-item recall@10" in pop
    # Popularity ranks the most-interacted items first, so it never reaches an item the training data barely has.
    assert pop["cold-item ndcg@10"] == 0.0 or np.isnan(pop["cold-item ndcg@10"])
    assert "cold-item ndcg@10" in report.slices_markdown()
