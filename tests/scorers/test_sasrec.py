"""SASRec: learns sequential patterns, aligns scores, explains by attention, reloads its saved state."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from genre.components.env import Env
from genre.components.scorers.sasrec import SasRecScorer
from genre.core.errors import ConfigError
from genre.core.types import Catalog, Intent, Interactions, Item, UserContext, UserState
from tests.scorers.test_contract import InteractionScorerTests

N_ITEMS = 30
# Small and short: a one-layer model learns the walk in well under a second on 2 cores.
SMALL = {
    "max_len": 8,
    "hidden": 16,
    "layers": 1,
    "heads": 2,
    "dropout": 0.1,
    "epochs": 12,
    "batch_size": 32,
    "lr": 0.01,
}


def _no_embedder(device: str):
    raise AssertionError("SASRec must not load the text embedder")


def _walks(rng: np.random.Generator, n_users: int, n_items: int, lo: int, hi: int) -> list[np.ndarray]:
    """Histories that step through the catalog in order: i, i+1, i+2, ... (wrapping around)."""
    return [(rng.integers(n_items) + np.arange(rng.integers(lo, hi + 1))) % n_items for _ in range(n_users)]


def _interactions(walks: list[np.ndarray], rng: np.random.Generator) -> Interactions:
    users = np.concatenate([np.full(w.size, f"u{u}") for u, w in enumerate(walks)])
    items = np.concatenate(walks).astype(np.int64)
    stamps = np.concatenate([1e9 + 3600.0 * np.arange(w.size) + 60.0 * u for u, w in enumerate(walks)])
    # Rows in random order: the scorer must sort each user's events by timestamp itself.
    order = rng.permutation(items.size)
    return Interactions(users[order], items[order], stamps[order], np.full(items.size, np.nan))


@pytest.fixture
def walk_catalog(rng) -> Catalog:
    items = [Item(item_id=f"i{i:02d}", title=f"Episode {i}") for i in range(N_ITEMS)]
    return Catalog("walks", items, _interactions(_walks(rng, 200, N_ITEMS, 4, 14), rng))


@pytest.fixture
def env(walk_catalog, cache) -> Env:
    return Env(walk_catalog, "cpu", embedder_factory=_no_embedder)


@pytest.fixture
def scorer(env) -> SasRecScorer:
    s = SasRecScorer(SMALL)
    s.prepare(env)
    return s


def _state(seen) -> UserState:
    seen = np.asarray(seen, dtype=np.int64)
    weights = np.full(seen.size, 1.0 / seen.size) if seen.size else np.zeros(0)
    return UserState(UserContext(), seen, weights, None, seen_index=seen)


def test_ranks_the_true_next_item_near_the_top(scorer):
    held_out = _walks(np.random.default_rng(7), 60, N_ITEMS, 3, 12)
    all_items = np.arange(N_ITEMS)
    hits = 0
    for walk in held_out:
        scores = scorer(_state(walk), Intent(), all_items).scores
        hits += int((walk[-1] + 1) % N_ITEMS in np.argsort(-scores)[:3])
    assert hits >= 0.8 * len(held_out), f"true next item in the top 3 for only {hits}/{len(held_out)} users"


def test_training_loss_goes_down(scorer):
    losses = scorer.meta["loss"]
    assert len(losses) == SMALL["epochs"] and losses[-1] < losses[0]
    assert scorer.meta["n_items"] == N_ITEMS and scorer.meta["train_seconds"] >= 0


def test_scores_follow_candidate_order_and_match_the_batch_path(scorer):
    state = _state([3, 4, 5, 6])
    cands = np.array([7, 0, 29, 12, 7], dtype=np.int64)
    forward = scorer(state, Intent(), cands)
    assert forward.name == "sasrec" and forward.scores.shape == (5,) and np.isfinite(forward.scores).all()
    np.testing.assert_allclose(forward.scores, scorer(state, Intent(), cands[::-1]).scores[::-1])
    assert forward.scores[0] == forward.scores[4]

    histories = [np.array([3, 4, 5, 6]), np.zeros(0, dtype=np.int64), np.arange(20)]
    batch = scorer.score_sequences(histories)
    assert batch.shape == (3, N_ITEMS)
    np.testing.assert_allclose(batch[0, cands], forward.scores, rtol=1e-5, atol=1e-5)
    assert np.isnan(batch[1]).all()
    np.testing.assert_allclose(
        batch[2], scorer(_state(np.arange(20)), Intent(), np.arange(N_ITEMS)).scores, rtol=1e-5, atol=1e-5
    )
    states = [_state(h) for h in histories]
    np.testing.assert_array_equal(scorer.score_users(states, [Intent()] * 3), batch)


def test_nan_and_a_note_without_history(scorer):
    empty = _state([])
    out = scorer(empty, Intent(), np.array([0, 1, 2]))
    assert np.isnan(out.scores).all() and out.note
    assert scorer(empty, Intent(), np.zeros(0, dtype=np.int64)).scores.shape == (0,)
    assert scorer.attention(empty, np.array([1]))[1].shape == (0,)
    assert scorer.self_attention(empty).shape == (SMALL["layers"], 0)
    assert scorer.explain(empty, np.array([1])) == {1: []}


@pytest.mark.parametrize("length", [1, 5, 8, 20])
def test_attention_covers_the_read_history_and_sums_to_one(scorer, length):
    state = _state((np.arange(length) + 2) % N_ITEMS)
    positions = min(length, SMALL["max_len"])
    att = scorer.attention(state, np.array([4, 11]))
    assert set(att) == {4, 11}
    for weights in att.values():
        assert weights.shape == (positions,) and (weights >= 0).all()
        assert weights.sum() == pytest.approx(1.0)
    own = scorer.self_attention(state)
    assert own.shape == (SMALL["layers"], positions)
    np.testing.assert_allclose(own.sum(axis=1), 1.0, rtol=1e-5)


def test_evidence_is_the_most_attended_history_items(scorer, walk_catalog):
    state = _state([20, 21, 22, 23, 24, 25])
    ev = scorer.explain(state, np.array([26]))[26]
    assert len(ev) == 3 and all(e.kind == "history_item" for e in ev)
    weights = scorer.attention(state, np.array([26]))[26]
    top = np.argsort(-weights, kind="stable")[:3]
    assert [e.item_id for e in ev] == [walk_catalog.items[20 + int(j)].item_id for j in top]
    assert [e.label for e in ev] == [walk_catalog.items[20 + int(j)].title for j in top]
    assert [e.weight for e in ev] == sorted((e.weight for e in ev), reverse=True)


def test_saved_state_is_reloaded_without_retraining(scorer, env, monkeypatch):
    folder = env.artifact_dir("sasrec", scorer.config.model_dump(), SasRecScorer.ARTIFACT_VERSION)
    meta_path = folder / "meta.json"
    assert (folder / "model.safetensors").is_file() and meta_path.is_file()
    assert not list(folder.glob("*.tmp"))
    stamp = meta_path.stat().st_mtime_ns
    state, cands = _state([5, 6, 7]), np.arange(N_ITEMS)
    before = scorer(state, Intent(), cands).scores

    def no_training(*args, **kwargs):
        raise AssertionError("retrained although a saved model exists")

    monkeypatch.setattr(SasRecScorer, "_train", no_training)
    again = SasRecScorer(SMALL)
    again.prepare(env)
    assert meta_path.stat().st_mtime_ns == stamp
    assert again.meta == scorer.meta
    np.testing.assert_array_equal(again(state, Intent(), cands).scores, before)


def test_a_corrupt_saved_model_is_retrained(scorer, env):
    folder = env.artifact_dir("sasrec", scorer.config.model_dump(), SasRecScorer.ARTIFACT_VERSION)
    (folder / "model.safetensors").write_bytes(b"not a safetensors file")
    again = SasRecScorer(SMALL)
    again.prepare(env)
    state, cands = _state([5, 6, 7]), np.arange(N_ITEMS)
    np.testing.assert_allclose(again(state, Intent(), cands).scores, scorer(state, Intent(), cands).scores, rtol=1e-5)


@pytest.mark.parametrize(
    ("config", "field"),
    [({"hidden": 16, "heads": 3}, "heads"), ({"max_len": 0}, "max_len"), ({"dropout": 1.5}, "dropout")],
)
def test_invalid_config_names_the_field(config, field):
    with pytest.raises(ValueError, match=field):
        SasRecScorer(config)


def test_catalog_without_interactions_is_a_config_error(cache):
    catalog = Catalog("plain", [Item(item_id="a", title="A"), Item(item_id="b", title="B")])
    with pytest.raises(ConfigError, match="interactions"):
        SasRecScorer(SMALL).prepare(Env(catalog, "cpu", embedder_factory=_no_embedder))


class TestSasRecContract(InteractionScorerTests):
    component = SasRecScorer
    config: ClassVar[dict] = SMALL
    train_method = "_train"
