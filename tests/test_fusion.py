import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from genre.components.fusion import WeightedFusion, normalize
from genre.core.types import ScoreList


def test_minmax_exact():
    out = normalize(np.array([1.0, 3.0, np.nan, 2.0]), "minmax")
    np.testing.assert_allclose(out[[0, 1, 3]], [0.0, 1.0, 0.5])
    assert np.isnan(out[2])


def test_zscore_exact():
    out = normalize(np.array([1.0, 2.0, 3.0]), "zscore")
    np.testing.assert_allclose(out, [-1.224744871, 0.0, 1.224744871])


def test_rank_averages_ties_and_puts_best_at_one():
    out = normalize(np.array([10.0, 30.0, 30.0, 20.0, 0.0]), "rank")
    np.testing.assert_allclose(out, [0.25, 0.875, 0.875, 0.5, 0.0])


def test_constant_and_all_nan_inputs():
    assert (normalize(np.array([2.0, 2.0]), "minmax") == 0).all()
    assert np.isnan(normalize(np.array([np.nan, np.nan]), "zscore")).all()


def test_weighted_fusion_contributions_sum_to_score_and_nan_adds_nothing():
    fusion = WeightedFusion({"weights": {"a": 2.0, "b": 0.5}})
    a = ScoreList("a", np.array([0.0, 1.0, 2.0]))
    b = ScoreList("b", np.array([4.0, np.nan, 0.0]))
    fused = fusion([a, b])
    np.testing.assert_allclose(fused.contributions["a"], [0.0, 1.0, 2.0])
    np.testing.assert_allclose(fused.contributions["b"], [0.5, 0.0, 0.0])
    np.testing.assert_allclose(fused.scores, [0.5, 1.0, 2.0])


def test_unweighted_scorers_default_to_one():
    fused = WeightedFusion()([ScoreList("x", np.array([0.0, 5.0]))])
    np.testing.assert_allclose(fused.scores, [0.0, 1.0])


def test_negative_weight_rejected_naming_it():
    with pytest.raises(ValueError, match="weights must be >= 0"):
        WeightedFusion({"weights": {"a": -1.0}})


@given(
    arrays(np.float64, st.integers(1, 40), elements=st.floats(-1e6, 1e6) | st.just(np.nan)),
    st.sampled_from(["minmax", "rank", "zscore"]),
)
def test_normalize_keeps_order_and_nan_positions(x, method):
    out = normalize(x, method)
    assert np.array_equal(np.isnan(out), np.isnan(x))
    finite = ~np.isnan(x)
    xs, os_ = x[finite], out[finite]
    i, j = np.triu_indices(xs.size, 1)
    # Normalization is monotone: a strictly larger score never gets a smaller normalized value.
    assert not np.any((xs[i] > xs[j]) & (os_[i] < os_[j] - 1e-9))
    if method in ("minmax", "rank"):
        assert np.all((os_ >= -1e-12) & (os_ <= 1 + 1e-12))


@pytest.mark.parametrize("method", ["minmax", "rank", "zscore"])
def test_normalize_like_itself_is_normalize(method, rng):
    from genre.components.fusion import normalize_like

    x = rng.normal(size=30)
    x[[3, 7]] = x[5]  # ties
    np.testing.assert_allclose(normalize_like(x, x, method), normalize(x, method))
