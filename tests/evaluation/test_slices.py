"""Popularity groups, group NDCG, IPS/SNIPS NDCG and exposure Gini against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from genre.evaluation.slices import (
    exposure_gini,
    group_ndcg,
    ips_ndcg,
    popularity_groups,
    propensities,
    slice_metrics,
)
from genre.metrics import evaluate_rankings

# 20 training interactions: item 0 alone holds 50% (head); items 3, 4, 5 together hold 10% (tail).
COUNTS = np.array([10, 5, 3, 1, 1, 0])


def test_head_reaches_the_head_share_and_tail_stays_within_the_tail_share():
    assert popularity_groups(COUNTS).tolist() == [0, 1, 1, 2, 2, 2]
    # Ten equal items: the first two reach 20% (head), the last two hold 20% (tail).
    assert popularity_groups(np.full(10, 3)).tolist() == [0, 0, 1, 1, 1, 1, 1, 1, 2, 2]


def test_bad_shares_name_the_valid_range():
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        popularity_groups(COUNTS, head_share=0.7, tail_share=0.5)


def test_group_ndcg_counts_only_that_groups_test_items():
    topk = np.array([[1, 3, 0]])
    out = group_ndcg(topk, [np.array([0, 3])], popularity_groups(COUNTS), k=3)
    assert out["head"] == pytest.approx(1 / np.log2(4))  # item 0 at rank 3, one head test item
    assert out["tail"] == pytest.approx(1 / np.log2(3))  # item 3 at rank 2
    assert np.isnan(out["torso"])  # no user has a torso test item


def test_ips_and_snips_by_hand():
    p = propensities(COUNTS)
    np.testing.assert_allclose(p, [1, 0.5**0.5, 0.15**0.5 * 2**0.5, 0.1**0.5, 0.1**0.5, 0.01])
    topk = np.array([[1, 3, 0]])
    ips, snips = ips_ndcg(topk, [np.array([0, 3])], p, k=3)
    idcg = 1 + 1 / np.log2(3)
    expect_ips = ((1 / np.log2(3)) / 0.1**0.5 + (1 / np.log2(4)) / 1.0) / idcg
    assert ips == pytest.approx(expect_ips)
    assert snips == pytest.approx(expect_ips / ((1 + 0.1**-0.5) / 2))


def test_equal_propensities_give_naive_ndcg():
    rng = np.random.default_rng(0)
    topk = np.stack([rng.permutation(30)[:10] for _ in range(20)])
    relevant = [rng.choice(30, size=rng.integers(1, 6), replace=False) for _ in range(20)]
    naive = evaluate_rankings(topk, relevant, 30, ks=(10,)).mean()["ndcg@10"]
    ips, snips = ips_ndcg(topk, relevant, np.ones(30), k=10)
    assert ips == pytest.approx(naive) and snips == pytest.approx(naive)


def test_clipping_bounds_the_weight_of_unseen_items():
    assert propensities(np.array([100, 0]), clip=0.05)[1] == 0.05
    with pytest.raises(ValueError, match="clip"):
        propensities(COUNTS, clip=0)


def test_gini_by_hand():
    assert exposure_gini(np.array([[0, 1], [0, 2]]), 4, k=2) == pytest.approx(6 / 16)
    assert exposure_gini(np.array([[0], [0]]), 4, k=1) == pytest.approx(3 / 4)  # one item takes every slot
    assert exposure_gini(np.array([[0, 1], [2, 3]]), 4, k=2) == 0.0  # every item shown equally


def test_slice_metrics_keys():
    topk = np.array([[1, 3, 0, 2, 4, 5, 0, 0, 0, 0]])
    out = slice_metrics(topk, [np.array([0, 3])], COUNTS)
    assert set(out) == {"ndcg@10-head", "ndcg@10-torso", "ndcg@10-tail", "ips-ndcg@10", "snips-ndcg@10", "gini@10"}
