from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from genre.components.context import RecencyContextEncoder
from genre.core.errors import InputError
from genre.core.types import HistoryEvent, UserContext


def _encoder(env, **cfg):
    enc = RecencyContextEncoder(cfg)
    enc.prepare(env)
    return enc


def test_time_based_half_life_weights(tiny_env):
    now = datetime(2026, 11, 1, tzinfo=UTC)
    ctx = UserContext(
        history=[
            HistoryEvent(item_id="a", timestamp=now - timedelta(days=20)),
            HistoryEvent(item_id="b", timestamp=now - timedelta(days=10)),
            HistoryEvent(item_id="c", timestamp=now),
        ]
    )
    state = _encoder(tiny_env, half_life_days=10)(ctx)
    np.testing.assert_allclose(state.history_weights, np.array([0.25, 0.5, 1.0]) / 1.75)
    assert state.profile_vector is None
    assert np.isclose(np.linalg.norm(state.vector), 1.0)


def test_positional_weights_without_timestamps(tiny_env):
    ctx = UserContext(history=[HistoryEvent(item_id=i) for i in "abc"])
    state = _encoder(tiny_env, half_life_items=1)(ctx)
    np.testing.assert_allclose(state.history_weights, np.array([0.25, 0.5, 1.0]) / 1.75)
    assert state.history_index.tolist() == [0, 1, 2]


def test_profile_blend_moves_vector_towards_profile(tiny_env):
    hist = [HistoryEvent(item_id="a")]
    only_hist = _encoder(tiny_env)(UserContext(history=hist))
    both = _encoder(tiny_env, profile_weight=0.5)(UserContext(history=hist, profile="coffee grinder kettle"))
    coffee = tiny_env.item_vectors[tiny_env.catalog.index_of("g")]
    assert both.vector @ coffee > only_hist.vector @ coffee
    assert both.profile_weight == 0.5


def test_profile_only_and_empty(tiny_env):
    enc = _encoder(tiny_env)
    assert enc(UserContext(profile="coffee")).profile_weight == 1.0
    empty = enc(UserContext())
    assert empty.vector is None and empty.history_index.size == 0


def test_min_rating_drops_low_ratings_from_vector(tiny_env):
    ctx = UserContext(history=[HistoryEvent(item_id="a", rating=1), HistoryEvent(item_id="d", rating=5)])
    state = _encoder(tiny_env, min_rating=3)(ctx)
    assert state.history_index.tolist() == [tiny_env.catalog.index_of("d")]


def test_unknown_history_id_is_named(tiny_env):
    with pytest.raises(InputError, match="zzz"):
        _encoder(tiny_env)(UserContext(history=[HistoryEvent(item_id="zzz")]))
