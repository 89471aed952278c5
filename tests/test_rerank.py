import numpy as np
import pytest

from genre.components.fusion import WeightedFusion
from genre.components.rerank import MMRDiversity, PopularityBiasCorrection
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


def test_pipeline_applies_rerankers_in_order(tiny_catalog_file, cache):
    from genre.config import parse_config
    from genre.core.types import UserContext
    from genre.pipeline import Pipeline
    from tests.conftest import HashEmbedder, tiny_config_dict

    cfg = parse_config(
        tiny_config_dict(tiny_catalog_file, rerank=[{"component": "popularity-bias", "config": {"beta": 2.0}}])
    )
    pipe = Pipeline(cfg, embedder_factory=lambda d: HashEmbedder())
    trace = pipe.run(UserContext(profile="kitchen knife pan"), k=3)
    assert "popularity-bias" in trace.items[0].contributions
    assert [t.stage for t in trace.timings].count("rerank") == 1
    assert all(i.score == pytest.approx(sum(i.contributions.values())) for i in trace.items)


def test_unknown_reranker_lists_choices(tiny_catalog_file):
    from genre.config import parse_config
    from genre.core.errors import ConfigError
    from tests.conftest import tiny_config_dict

    with pytest.raises(ConfigError, match="mmr, popularity-bias"):
        parse_config(tiny_config_dict(tiny_catalog_file, rerank=[{"component": "shuffle"}]))


def test_fused_order_field_defaults_to_none():
    assert Fused(np.zeros(1), {}, {}).order is None
