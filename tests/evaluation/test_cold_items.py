"""The cold-item slice, against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from genre.evaluation.cold_items import COLD_ITEM_MAX_TRAIN, cold_item_slice

COUNTS = np.array([10, 0, 3, 6, 5])
"""Training interactions per item: items 1, 2 and 4 are cold (at most 5)."""
TOPK = [np.array([1, 0, 2, 3, 4]), np.array([0, 3, 4, 1, 2]), np.array([0, 3, 1, 2, 4])]
RELEVANT = [np.array([0, 1, 3]), np.array([2, 4, 0]), np.array([0, 3])]


def test_hand_computed_slice():
    out = cold_item_slice(TOPK, RELEVANT, COUNTS, k=3)
    # User 0: cold relevant {1}, ranked first: NDCG 1, recall 1.
    # User 1: cold relevant {2, 4}; warm item 0 at rank 1 does not count; 4 at rank 3:
    #   DCG = 1/log2(4) = 0.5, IDCG = 1 + 1/log2(3); recall 1/2.
    # User 2: no cold test item, so not in the slice.
    ndcg_1 = 0.5 / (1 + 1 / math.log2(3))
    assert out.ndcg == pytest.approx((1 + ndcg_1) / 2)
    assert out.recall == pytest.approx(0.75)
    assert (out.users, out.items, out.interactions, out.k, out.max_train) == (2, 3, 3, 3, COLD_ITEM_MAX_TRAIN)
    assert out.as_dict()["ndcg@3"] == out.ndcg


def test_the_threshold_decides_what_is_cold():
    # max_train 0: only item 1 (no training events) is cold, so only user 0 is in the slice.
    out = cold_item_slice(TOPK, RELEVANT, COUNTS, max_train=0, k=3)
    assert (out.ndcg, out.recall, out.users, out.items) == (1.0, 1.0, 1, 1)
    # max_train 6: item 3 joins. User 0: cold {1, 3}, 1 at rank 1, 3 beyond k. User 1: cold {2, 4}, as before.
    # User 2: cold {3}, at rank 2 -> NDCG 1/log2(3).
    wide = cold_item_slice(TOPK, RELEVANT, COUNTS, max_train=6, k=3)
    assert wide.users == 3 and wide.items == 4 and wide.interactions == 5
    idcg2 = 1 + 1 / math.log2(3)
    assert wide.ndcg == pytest.approx((1 / idcg2 + 0.5 / idcg2 + 1 / math.log2(3)) / 3)
    assert wide.recall == pytest.approx((0.5 + 0.5 + 1.0) / 3)


def test_only_the_first_k_count():
    out = cold_item_slice(TOPK, RELEVANT, COUNTS, k=1)
    assert out.ndcg == pytest.approx(0.5) and out.recall == pytest.approx(0.5)  # user 0 hits, user 1 does not


def test_an_empty_slice_is_nan_not_zero():
    out = cold_item_slice([np.array([0, 3])], [np.array([0, 3])], COUNTS)
    assert math.isnan(out.ndcg) and math.isnan(out.recall) and out.users == 0 and out.items == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"topk": TOPK[:2]}, "topk has 2 users but relevant has 3"),
        ({"k": 0}, "k must be at least 1, got 0"),
        ({"max_train": -1}, "max_train must be 0 or more, got -1"),
    ],
)
def test_bad_arguments_name_the_value(kwargs, message):
    args = {"topk": TOPK, "relevant": RELEVANT, "train_counts": COUNTS, **kwargs}
    with pytest.raises(ValueError, match=message):
        cold_item_slice(**args)
