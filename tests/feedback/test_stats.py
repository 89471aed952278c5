"""The review statistics against values computed by hand (the working is in each test)."""

from __future__ import annotations

import pytest

from genre.feedback.stats import cohen_kappa, fleiss_kappa, wilson_interval, win_rate, win_rate_interval


def test_wilson_interval_by_hand():
    # 8 of 10, z = 1.96: p = 0.8, z^2 = 3.8416, d = 1 + z^2/n = 1.38416
    # centre = (p + z^2/2n) / d = (0.8 + 0.19208) / 1.38416 = 0.716738
    # half = z/d * sqrt(p(1-p)/n + z^2/4n^2) = 1.416021 * sqrt(0.016 + 0.009604) = 0.226580
    low, high = wilson_interval(8, 10, z=1.96)
    assert low == pytest.approx(0.490158, abs=1e-5) and high == pytest.approx(0.943318, abs=1e-5)
    # 0 of 10: centre = 0.19208 / 1.38416 = 0.138770 = half, so (0, 0.277540); never below 0
    low, high = wilson_interval(0, 10, z=1.96)
    assert low == 0.0 and high == pytest.approx(0.277540, abs=1e-5)
    # 10 of 10 mirrors it
    assert wilson_interval(10, 10, z=1.96)[0] == pytest.approx(1 - 0.277540, abs=1e-5)
    assert wilson_interval(0, 0) == (0.0, 1.0)  # nothing known
    assert wilson_interval(8, 10) == wilson_interval(8, 10, z=1.96)  # the default is the 95% quantile
    with pytest.raises(ValueError, match="successes=11, n=10"):
        wilson_interval(11, 10)


def test_win_rate_counts_a_tie_as_half_a_win():
    assert win_rate(3, 1, 2) == pytest.approx(4 / 6)  # (3 + 2/2) / 6
    assert win_rate(3, 1, 2) + win_rate(1, 3, 2) == pytest.approx(1.0)  # the two arms' rates add up to 1
    assert win_rate(0, 0, 4) == 0.5
    assert win_rate(0, 0, 0) is None
    # interval of 4 "wins" in 6
    assert win_rate_interval(3, 1, 2) == wilson_interval(4, 6)


def test_cohen_kappa_by_hand():
    r1 = ["a", "a", "b", "b", "tie", "a"]
    r2 = ["a", "b", "b", "b", "tie", "a"]
    # agree on 5 of 6: p_o = 5/6; r1 uses a 3, b 2, tie 1; r2 a 2, b 3, tie 1
    # p_e = (3*2 + 2*3 + 1*1) / 36 = 13/36; kappa = (30/36 - 13/36) / (23/36) = 17/23
    assert cohen_kappa(r1, r2) == pytest.approx(17 / 23)
    assert cohen_kappa(r1, r1) == pytest.approx(1.0)
    # complete disagreement on two labels used equally: p_o = 0, p_e = 0.5, kappa = -1
    assert cohen_kappa(["a", "b"], ["b", "a"]) == pytest.approx(-1.0)
    assert cohen_kappa(["a", "a"], ["a", "a"]) is None  # p_e = 1: undefined, not 1 or NaN
    with pytest.raises(ValueError, match="3 and 2 subjects"):
        cohen_kappa(["a"] * 3, ["a"] * 2)


def test_fleiss_kappa_by_hand():
    # 3 subjects, 3 raters, categories (a, b, tie)
    # P_i = sum n_ij(n_ij - 1) / (n(n - 1)): row 1: 6/6 = 1; row 2: 2/6; row 3: 2/6; P_bar = 5/9
    # p_j = (5, 2, 2) / 9; P_e = (25 + 4 + 4) / 81 = 11/27; kappa = (15/27 - 11/27) / (16/27) = 1/4
    assert fleiss_kappa([[3, 0, 0], [2, 1, 0], [0, 1, 2]]) == pytest.approx(0.25)
    # unequal totals: P = (2*1/2, 0) -> P_bar = 1/2; p = (3/4, 1/4); P_e = 10/16; kappa = (1/2 - 5/8)/(3/8)
    assert fleiss_kappa([[2, 0, 0], [1, 1, 0]]) == pytest.approx(-1 / 3)
    assert fleiss_kappa([[2, 0, 0], [0, 2, 0]]) == pytest.approx(1.0)
    assert fleiss_kappa([[3, 0, 0], [2, 0, 0]]) is None  # every rating in one category
    with pytest.raises(ValueError, match="subject 1 has 1 ratings"):
        fleiss_kappa([[2, 0, 0], [1, 0, 0]])
