"""Ranking metrics against hand-computed values, and the vectorized evaluator against the scalar ones."""

from __future__ import annotations

import math

import numpy as np
import pytest

from genre.evaluation import (
    RankingMetrics,
    catalog_coverage,
    evaluate_rankings,
    ndcg_at_k,
    recall_at_k,
    reciprocal_rank,
)

LOG2_3 = math.log2(3)


def arr(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


# ---- ndcg_at_k -------------------------------------------------------------------------------


def test_ndcg_hits_at_ranks_1_and_3_of_2_relevant():
    # DCG = 1/log2(2) + 1/log2(4) = 1 + 0.5; IDCG (2 ideal hits) = 1 + 1/log2(3)
    expected = (1 + 1 / math.log2(4)) / (1 + 1 / LOG2_3)
    assert ndcg_at_k(arr(10, 20, 30, 40, 50), arr(10, 30), k=5) == pytest.approx(expected)
    assert expected == pytest.approx(0.9197207891481876)


def test_ndcg_cutoff_excludes_later_hits():
    # k=2: only the hit at rank 1 counts -> DCG = 1; IDCG = 1 + 1/log2(3)
    assert ndcg_at_k(arr(10, 20, 30), arr(10, 30), k=2) == pytest.approx(1 / (1 + 1 / LOG2_3))


def test_ndcg_perfect_ranking_is_one():
    assert ndcg_at_k(arr(3, 1, 2, 9), arr(1, 2, 3), k=3) == pytest.approx(1.0)


def test_ndcg_k_larger_than_list():
    # one hit at rank 2 -> DCG = 1/log2(3); IDCG uses min(|rel|=1, k=10) = 1 ideal hit -> 1
    assert ndcg_at_k(arr(1, 2), arr(2), k=10) == pytest.approx(1 / LOG2_3)


def test_ndcg_more_relevant_than_k():
    # k=2, hit at rank 1 only -> DCG = 1; IDCG = min(3, 2) = 2 ideal hits = 1 + 1/log2(3)
    assert ndcg_at_k(arr(1, 9), arr(1, 2, 3), k=2) == pytest.approx(1 / (1 + 1 / LOG2_3))


def test_ndcg_repeated_item_counts_once():
    # ranked [1, 1, 2]: the repeat at rank 2 is not a hit -> same as hits at ranks 1 and 3
    expected = (1 + 0.5) / (1 + 1 / LOG2_3)
    assert ndcg_at_k(arr(1, 1, 2), arr(1, 2), k=3) == pytest.approx(expected)


def test_ndcg_repeated_relevant_counts_once():
    assert ndcg_at_k(arr(1, 5), arr(1, 1), k=2) == pytest.approx(1.0)


def test_ndcg_empty_relevant_and_no_hits():
    assert ndcg_at_k(arr(1, 2, 3), arr(), k=3) == 0.0
    assert ndcg_at_k(arr(1, 2, 3), arr(7, 8), k=3) == 0.0
    assert ndcg_at_k(arr(), arr(7), k=3) == 0.0


def test_ndcg_rejects_nonpositive_k():
    with pytest.raises(ValueError, match="k must be at least 1"):
        ndcg_at_k(arr(1), arr(1), k=0)


# ---- recall_at_k / reciprocal_rank -----------------------------------------------------------


def test_recall_at_k():
    ranked, relevant = arr(10, 20, 30, 40), arr(10, 30, 99)
    assert recall_at_k(ranked, relevant, 1) == pytest.approx(1 / 3)  # 10
    assert recall_at_k(ranked, relevant, 2) == pytest.approx(1 / 3)  # 10
    assert recall_at_k(ranked, relevant, 3) == pytest.approx(2 / 3)  # 10, 30
    assert recall_at_k(ranked, relevant, 50) == pytest.approx(2 / 3)  # k past the list's end
    assert recall_at_k(ranked, arr(), 3) == 0.0
    assert recall_at_k(ranked, arr(7), 3) == 0.0
    assert recall_at_k(arr(1, 1, 2), arr(1, 2, 3), 3) == pytest.approx(2 / 3)  # repeated 1 counts once


def test_reciprocal_rank():
    assert reciprocal_rank(arr(5, 6, 7), arr(7)) == pytest.approx(1 / 3)  # first hit at position 2 -> 1/3
    assert reciprocal_rank(arr(5, 6, 7), arr(7, 5)) == 1.0
    assert reciprocal_rank(arr(5, 6, 7), arr(8)) == 0.0
    assert reciprocal_rank(arr(5, 6, 7), arr()) == 0.0
    assert reciprocal_rank(arr(), arr(1)) == 0.0


# ---- catalog_coverage ------------------------------------------------------------------------


def test_catalog_coverage():
    assert catalog_coverage([arr(0, 1), arr(1, 2)], n_items=10) == pytest.approx(3 / 10)  # {0, 1, 2}
    assert catalog_coverage(np.array([[0, 1], [1, -1]]), n_items=4) == pytest.approx(2 / 4)  # -1 is padding
    assert catalog_coverage([], n_items=5) == 0.0
    with pytest.raises(ValueError, match="outside a catalog of 3 items"):
        catalog_coverage([arr(3)], n_items=3)
    with pytest.raises(ValueError, match="n_items"):
        catalog_coverage([arr(0)], n_items=0)


# ---- evaluate_rankings -----------------------------------------------------------------------


def test_evaluate_rankings_hand_computed():
    topk = np.array([[0, 1, 2], [3, 4, 5], [6, 7, 8]])
    relevant = [arr(1), arr(9), arr()]
    m = evaluate_rankings(topk, relevant, n_items=10, ks=(1, 3))
    # user 0: hit at rank 2 -> ndcg@1 = 0, ndcg@3 = (1/log2(3)) / 1, recall@3 = 1, rr = 1/2
    # user 1: no hit -> zeros; user 2: no relevant items -> zeros, and left out of the means
    np.testing.assert_allclose(m.ndcg[1], [0, 0, 0])
    np.testing.assert_allclose(m.ndcg[3], [1 / LOG2_3, 0, 0])
    np.testing.assert_allclose(m.recall[3], [1, 0, 0])
    np.testing.assert_allclose(m.rr, [0.5, 0, 0])
    assert m.n_users == 3
    mean = m.mean()
    assert list(mean) == ["ndcg@1", "ndcg@3", "recall@1", "recall@3", "mrr", "coverage@1", "coverage@3"]
    assert mean["ndcg@3"] == pytest.approx((1 / LOG2_3) / 2)  # mean over users 0 and 1
    assert mean["recall@3"] == pytest.approx(0.5)
    assert mean["mrr"] == pytest.approx(0.25)
    assert mean["coverage@1"] == pytest.approx(3 / 10)  # {0, 3, 6}
    assert mean["coverage@3"] == pytest.approx(9 / 10)  # 0..8


def test_evaluate_rankings_subset_recomputes_coverage():
    topk = np.array([[0, 1, 2], [3, 4, 5]])
    m = evaluate_rankings(topk, [arr(1), arr(9)], n_items=10, ks=(3,))
    warm = m.subset(np.array([True, False]))
    assert isinstance(warm, RankingMetrics)
    assert warm.n_users == 1
    assert warm.mean() == pytest.approx({"ndcg@3": 1 / LOG2_3, "recall@3": 1.0, "mrr": 0.5, "coverage@3": 0.3})
    cold = m.subset(np.array([1]))
    assert cold.mean() == pytest.approx({"ndcg@3": 0.0, "recall@3": 0.0, "mrr": 0.0, "coverage@3": 0.3})


def test_evaluate_rankings_mean_is_nan_without_relevant_items():
    m = evaluate_rankings(np.array([[0, 1]]), [arr()], n_items=2, ks=(2,))
    mean = m.mean()
    assert math.isnan(mean["ndcg@2"]) and math.isnan(mean["mrr"])
    assert mean["coverage@2"] == 1.0


def test_evaluate_rankings_padding_and_repeats():
    # row 0: padded with -1 -> hit at rank 1 of 1 relevant -> ndcg 1
    # row 1: [4, 4, 5] with relevant {4, 5}: the repeat at rank 2 does not count -> hits at ranks 1 and 3
    topk = np.array([[2, -1, -1], [4, 4, 5]])
    m = evaluate_rankings(topk, [arr(2), arr(4, 5)], n_items=6, ks=(3,))
    np.testing.assert_allclose(m.ndcg[3], [1.0, (1 + 0.5) / (1 + 1 / LOG2_3)])
    np.testing.assert_allclose(m.recall[3], [1.0, 1.0])
    assert m.coverage[3] == pytest.approx(3 / 6)  # {2, 4, 5}


def test_evaluate_rankings_matches_scalar_functions():
    rng = np.random.default_rng(7)
    n_users, n_items, width, ks = 60, 120, 20, (1, 5, 10, 20)
    topk = np.stack([rng.permutation(n_items)[:width] for _ in range(n_users)])
    # Relevant sets drawn mostly from each user's list so that there are many hits, some empty.
    relevant = []
    for u in range(n_users):
        size = int(rng.integers(0, 12))
        pool = np.concatenate([topk[u], rng.integers(0, n_items, size=10)])
        relevant.append(rng.choice(pool, size=size, replace=True))
    m = evaluate_rankings(topk, relevant, n_items=n_items, ks=ks)
    for u in range(n_users):
        for k in ks:
            assert m.ndcg[k][u] == pytest.approx(ndcg_at_k(topk[u], relevant[u], k))
            assert m.recall[k][u] == pytest.approx(recall_at_k(topk[u], relevant[u], k))
        assert m.rr[u] == pytest.approx(reciprocal_rank(topk[u], relevant[u]))
    for k in ks:
        assert m.coverage[k] == pytest.approx(catalog_coverage(list(topk[:, :k]), n_items))
    scored = [u for u in range(n_users) if len(relevant[u])]
    assert m.mean()["ndcg@10"] == pytest.approx(np.mean([ndcg_at_k(topk[u], relevant[u], 10) for u in scored]))


def test_evaluate_rankings_validates_input():
    topk = np.array([[0, 1, 2]])
    with pytest.raises(ValueError, match="fewer than the largest cutoff 10"):
        evaluate_rankings(topk, [arr(0)], n_items=5, ks=(10,))
    with pytest.raises(ValueError, match="relevant has 2 entries for 1 users"):
        evaluate_rankings(topk, [arr(0), arr(1)], n_items=5, ks=(3,))
    with pytest.raises(ValueError, match="2-D integer array"):
        evaluate_rankings(topk.astype(float), [arr(0)], n_items=5, ks=(3,))
    with pytest.raises(ValueError, match="outside a catalog of 2 items"):
        evaluate_rankings(topk, [arr(0)], n_items=2, ks=(3,))
    with pytest.raises(ValueError, match="positive cutoffs"):
        evaluate_rankings(topk, [arr(0)], n_items=5, ks=(0,))


def test_evaluate_rankings_at_movielens_scale():
    rng = np.random.default_rng(0)
    n_users, n_items = 943, 1682
    topk = np.argsort(rng.random((n_users, n_items)), axis=1)[:, :100]
    relevant = [rng.integers(0, n_items, size=int(rng.integers(1, 40))) for _ in range(n_users)]
    m = evaluate_rankings(topk, relevant, n_items=n_items, ks=(10, 20))
    assert set(m.mean()) == {"ndcg@10", "ndcg@20", "recall@10", "recall@20", "mrr", "coverage@10", "coverage@20"}


def test_evaluate_rankings_large_catalog_path_agrees(monkeypatch):
    # Past _TABLE_CELLS the hits come from a binary search instead of a dense table; same numbers.
    from genre import metrics

    rng = np.random.default_rng(3)
    topk = np.stack([rng.permutation(40)[:10] for _ in range(25)])
    topk[0, 5:] = -1
    relevant = [rng.integers(0, 40, size=int(rng.integers(0, 8))) for _ in range(25)]
    dense = evaluate_rankings(topk, relevant, n_items=40, ks=(3, 10))
    monkeypatch.setattr(metrics, "_TABLE_CELLS", 0)
    sparse = evaluate_rankings(topk, relevant, n_items=40, ks=(3, 10))
    for k in (3, 10):
        np.testing.assert_allclose(sparse.ndcg[k], dense.ndcg[k])
        np.testing.assert_allclose(sparse.recall[k], dense.recall[k])
    np.testing.assert_allclose(sparse.rr, dense.rr)
    np.testing.assert_array_equal(sparse.n_relevant, dense.n_relevant)
    assert sparse.mean() == pytest.approx(dense.mean(), nan_ok=True)


def test_evaluate_rankings_rejects_out_of_range_relevant():
    with pytest.raises(ValueError, match="relevant item index 7 is outside a catalog of 5 items"):
        evaluate_rankings(np.array([[0, 1]]), [arr(7)], n_items=5, ks=(2,))
    with pytest.raises(ValueError, match="relevant item index -1"):
        evaluate_rankings(np.array([[0, 1]]), [arr(-1)], n_items=5, ks=(2,))
