from typing import ClassVar

import numpy as np
import pytest

from genre.components.fusion import WeightedFusion
from genre.components.rerank import MMRDiversity, PopularityBiasCorrection
from genre.core.component import ComponentConfig, Reranker
from genre.core.types import Fused, ScoreList


def _fused(scores):
    return WeightedFusion()([ScoreList("s", np.asarray(scores, dtype=float))])


def test_mmr_without_diversity_keeps_score_order(tiny_env):
    mmr = MMRDiversity({"diversity": 0.0, "pool": 8})
    mmr.prepare(tiny_env)
    cands = np.arange(8)
    out = mmr(cands, _fused([8, 7, 6, 5, 4, 3, 2, 1]), k=4)
    assert out.order[:4].tolist() == [0, 1, 2, 3]


def test_mmr_with_diversity_skips_near_duplicates(tiny_env):
    mmr = MMRDiversity({"diversity": 0.7, "pool": 8})
    mmr.prepare(tiny_env)
    # a (tent), b (sleeping bag) and c (stove) are near-identical camping items in the hash space;
    # with diversity the second pick jumps to another category.
    cands = np.array([0, 1, 2, 3, 5])
    out = mmr(cands, _fused([1.0, 0.99, 0.98, 0.5, 0.4]), k=3)
    picked = [tiny_env.catalog.items[cands[p]].categories[0] for p in out.order[:3]]
    assert picked[0] == "Outdoor" and len(set(picked)) >= 2
    assert sorted(out.order.tolist()) == list(range(5))  # a permutation of all candidates


def test_popularity_bias_is_its_own_negative_contribution(tiny_env):
    pb = PopularityBiasCorrection({"beta": 0.5})
    pb.prepare(tiny_env)
    cands = np.array([3, 7])  # chef knife: 2000 reviews, notebook: 5
    out = pb(cands, _fused([1.0, 1.0]), k=2)
    assert out.contributions["popularity-bias"][0] == pytest.approx(-0.5)
    assert out.contributions["popularity-bias"][1] == pytest.approx(0.0)
    total = sum(out.contributions.values())
    np.testing.assert_allclose(total, out.scores)


def _run(catalog_file, rerank: list[dict]):
    from genre.config import parse_config
    from genre.core.types import UserContext
    from genre.pipeline import Pipeline
    from tests.conftest import HashEmbedder, tiny_config_dict

    pipe = Pipeline(
        parse_config(tiny_config_dict(catalog_file, rerank=rerank)), embedder_factory=lambda d: HashEmbedder()
    )
    return pipe.run(UserContext(profile="kitchen knife pan"), k=3)


def test_pipeline_applies_rerankers_in_order(tiny_catalog_file, cache):
    bias = {"component": "popularity-bias", "config": {"beta": 2.0}}
    trace = _run(tiny_catalog_file, [bias])
    assert "popularity-bias" in trace.items[0].contributions
    assert [t.stage for t in trace.timings].count("rerank") == 1
    assert all(i.score == pytest.approx(sum(i.contributions.values())) for i in trace.items)
    # Each re-ranker sees what the ones before it did: the bias only between the two recorders.
    Recorder.seen.clear()
    first, second = ({"component": "tests.test_rerank:Recorder", "config": {"label": x}} for x in ("1st", "2nd"))
    _run(tiny_catalog_file, [first, bias, second])
    assert Recorder.seen == [("1st", False), ("2nd", True)]


def test_unknown_reranker_lists_choices(tiny_catalog_file):
    from genre.config import parse_config
    from genre.core.errors import ConfigError
    from tests.conftest import tiny_config_dict

    with pytest.raises(ConfigError, match="mmr, popularity-bias"):
        parse_config(tiny_config_dict(tiny_catalog_file, rerank=[{"component": "shuffle"}]))


class RecorderConfig(ComponentConfig):
    label: str
    """Name recorded with each call."""


class Recorder(Reranker):
    """Test re-ranker: records its label and whether the popularity-bias contribution was already there."""

    Config = RecorderConfig
    config: RecorderConfig
    seen: ClassVar[list[tuple[str, bool]]] = []

    def __call__(self, candidates: np.ndarray, fused: Fused, k: int) -> Fused:
        Recorder.seen.append((self.config.label, "popularity-bias" in fused.contributions))
        return fused


class WorstFirst(Reranker):
    """Test re-ranker: keeps the scores and orders the candidates lowest score first."""

    def __call__(self, candidates: np.ndarray, fused: Fused, k: int) -> Fused:
        order = np.lexsort((candidates, fused.scores))
        return Fused(fused.scores, fused.contributions, fused.normalized, order=order)


def test_ranking_follows_a_rerankers_order_and_otherwise_the_scores(tiny_catalog_file, cache):
    assert Fused(np.zeros(1), {}, {}).order is None  # no re-ranker: no order of its own
    by_score = _run(tiny_catalog_file, [])
    scores = [i.score for i in by_score.items]
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[-1]
    worst_first = _run(tiny_catalog_file, [{"component": "tests.test_rerank:WorstFirst"}])
    reordered = [i.score for i in worst_first.items]
    assert reordered == sorted(reordered) and reordered[0] < scores[-1]
    assert [i.rank for i in worst_first.items] == [1, 2, 3]
