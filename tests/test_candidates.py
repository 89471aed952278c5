import numpy as np
import pytest

from genre.components.candidates import CandidateFilter
from genre.components.context import RecencyContextEncoder
from genre.core.errors import InputError
from genre.core.types import Constraints, HistoryEvent, UserContext


def _run(env, ctx, **cfg):
    enc = RecencyContextEncoder()
    enc.prepare(env)
    filt = CandidateFilter(cfg)
    filt.prepare(env)
    return filt(enc(ctx))


def ids(env, cands):
    return [env.catalog.items[i].item_id for i in cands.index]


def test_seen_items_are_excluded_and_counted(tiny_env):
    out = _run(tiny_env, UserContext(history=[HistoryEvent(item_id="a"), HistoryEvent(item_id="b")]))
    assert ids(tiny_env, out) == list("cdefgh")
    assert out.excluded == {"seen": 2}


def test_keep_seen_when_configured(tiny_env):
    out = _run(tiny_env, UserContext(history=[HistoryEvent(item_id="a")]), exclude_seen=False)
    assert out.index.size == 8


def test_price_range_and_categories(tiny_env):
    ctx = UserContext(constraints=Constraints(price_min=50, price_max=160, categories=["Outdoor", "Coffee"]))
    out = _run(tiny_env, ctx)
    assert ids(tiny_env, out) == ["c", "f", "g"]
    assert out.excluded == {"price": 4, "category": 1}


def test_explicit_exclusions(tiny_env):
    out = _run(tiny_env, UserContext(exclude=["h", "nope"]))
    assert "h" not in ids(tiny_env, out) and out.excluded == {"excluded": 1}


def test_unknown_category_lists_valid_ones(tiny_env):
    with pytest.raises(InputError, match="valid: Coffee, Kitchen, Outdoor, Stationery"):
        _run(tiny_env, UserContext(constraints=Constraints(categories=["Garden"])))


def test_price_min_above_max_rejected():
    with pytest.raises(ValueError, match="price_min"):
        Constraints(price_min=10, price_max=5)


def test_candidates_are_sorted_unique_indices(tiny_env):
    out = _run(tiny_env, UserContext(history=[HistoryEvent(item_id="e")]))
    assert np.all(np.diff(out.index) > 0)
