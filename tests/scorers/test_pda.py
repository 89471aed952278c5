"""PDA (popularity-deconfounded MF) and the imbalance options of the pairwise scorers, on tiny data."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest
from scipy import sparse

from genre.components.env import Env
from genre.components.scorers.bpr import BprConfig, BprScorer
from genre.components.scorers.pda import PdaScorer, predicted_popularity, training_popularity
from genre.components.scorers.sampling import TripleSampler, popularity_strata
from genre.core.types import Catalog, Interactions, Item
from tests.conftest import HashEmbedder
from tests.scorers.test_contract import InteractionScorerTests


class TestPda(InteractionScorerTests):
    component = PdaScorer
    config: ClassVar[dict] = {"dims": 8, "epochs": 60, "lr": 0.05, "negatives": 4, "batch_size": 16, "gamma": 0.05}
    train_method = "_train"

    @pytest.mark.parametrize(
        ("option", "value", "words"),
        [("gamma", 1.5, "less than or equal to 1"), ("gamma", -0.1, "greater than or equal to 0"),
         ("mode", "ips", "'pd' or 'pda'"), ("trend_window", 0.7, "less than or equal to 0.5")],
    )  # fmt: skip
    def test_out_of_range_knobs_fail_at_load(self, option, value, words):
        with pytest.raises(ValueError, match=words):
            PdaScorer({option: value})

    def test_no_item_bias_is_learned(self, scorer):
        assert not scorer.item_bias.any()

    def test_mode_and_trend_do_not_retrain(self, scorer, env, monkeypatch):
        def no_training(*args: object, **kwargs: object) -> None:
            raise RuntimeError("trained again")

        monkeypatch.setattr(PdaScorer, "_train", no_training)
        PdaScorer({**self.config, "mode": "pda", "trend": 1.0, "gamma_adjust": 0.3}).prepare(env)


def test_training_score_is_elu_plus_one_times_popularity_power():
    import torch as t

    s = PdaScorer({"gamma": 0.5})
    x = sparse.csr_matrix(np.array([[1, 1, 0], [1, 0, 0], [1, 0, 1], [1, 0, 1]], dtype=np.float32))
    diff = s._pair_diff_fn(x, "cpu")  # counts 4, 1, 2 -> m = 1, 0.25, 0.5
    pu = t.tensor([[1.0, 0.0]])
    qi, qj = t.tensor([[2.0, 5.0]]), t.tensor([[-1.0, 0.0]])
    out = diff(pu, qi, qj, t.zeros(1), t.zeros(1), t.tensor([1]), t.tensor([2]))
    expect = (2.0 + 1.0) * 0.25**0.5 - np.exp(-1.0) * 0.5**0.5  # ELU'(2) = 3, ELU'(-1) = e^-1
    assert float(out) == pytest.approx(expect, rel=1e-6)


def _skewed_catalog(seed: int = 3) -> Catalog:
    """60 items with Zipf popularity; each of 3 user groups prefers every third item."""
    gen = np.random.default_rng(seed)
    n_items, n_users = 60, 200
    items = [Item(item_id=f"i{j:02d}", title=f"Item {j}", categories=(f"c{j % 3}",)) for j in range(n_items)]
    pop = 1.0 / np.arange(1, n_items + 1)
    users, idx, ts = [], [], []
    for u in range(n_users):
        p = pop * np.where(np.arange(n_items) % 3 == u % 3, 1.0, 0.15)
        for t, i in enumerate(gen.choice(n_items, size=12, replace=False, p=p / p.sum())):
            users.append(f"u{u}")
            idx.append(int(i))
            ts.append(1e9 + 1000.0 * t + u)
    inter = Interactions(np.array(users), np.array(idx, dtype=np.int64), np.array(ts), np.full(len(idx), 4.0))
    return Catalog(name="skewed", items=items, interactions=inter)


def test_deconfounding_lowers_the_pull_of_popularity(cache):
    from scipy.stats import spearmanr

    catalog = _skewed_catalog()
    counts = np.bincount(catalog.interactions.item_index, minlength=len(catalog))
    corr = {}
    for gamma in (0.0, 0.6):
        s = PdaScorer({"dims": 8, "epochs": 30, "lr": 0.05, "batch_size": 256, "gamma": gamma})
        s.prepare(Env(catalog, "cpu", lambda device: HashEmbedder()))
        corr[gamma] = spearmanr((s.user_factors @ s.item_factors.T).mean(0), counts).statistic
    # gamma = 0 is plain MF: its mean score follows popularity; the deconfounded one much less.
    assert corr[0.6] < corr[0.0] - 0.05


def test_adjusting_ranks_by_elu_plus_one_times_predicted_popularity(tiny_cf_env):
    s = PdaScorer({"dims": 4, "epochs": 2, "batch_size": 16, "mode": "pda", "gamma": 0.2, "gamma_adjust": 0.5})
    s.prepare(tiny_cf_env)
    raw = np.array([[1.0, -2.0]])
    items = np.array([0, 3])
    adjust = predicted_popularity(tiny_cf_env, 0.1, 0.5) ** 0.5
    np.testing.assert_allclose(s._ranking_scores(raw, items), [[2.0 * adjust[0], np.exp(-2.0) * adjust[3]]])


def test_predicted_popularity_extrapolates_the_last_two_windows():
    # Times 0..99: last window (t > 89.1) and the one before (79.2 < t <= 89.1) at window 0.1.
    items = [Item(item_id=f"i{j}", title=f"I{j}") for j in range(3)]
    ts = np.arange(100, dtype=np.float64)
    idx = np.zeros(100, dtype=np.int64)
    idx[80:90] = [1] * 6 + [2] * 4  # previous window: item 1 x6, item 2 x4
    idx[90:] = [1] * 2 + [2] * 8  # last window: item 1 x2, item 2 x8
    inter = Interactions(np.array(["u"] * 100), idx, ts, np.full(100, 1.0))
    env = Env(Catalog(name="trend", items=items, interactions=inter), "cpu")
    m_last, m_prev = np.array([0, 0.25, 1.0]), np.array([0, 1.0, 4 / 6])
    expect = np.maximum(m_last + 0.5 * (m_last - m_prev), 1e-6)
    np.testing.assert_allclose(predicted_popularity(env, 0.1, 0.5), expect)
    assert training_popularity(np.array([0, 5, 10])).tolist() == [0, 0.5, 1.0]


def test_strata_hold_equal_shares_of_interactions():
    # 20 interactions, 2 strata: item 0 alone holds 10 (the first half); the rest and the unseen item 5 the second.
    order, offsets = popularity_strata(np.array([10, 5, 3, 1, 1, 0]), 2)
    assert order.tolist() == [0, 1, 2, 3, 4, 5] and offsets.tolist() == [0, 1, 6]


def _matrix(rows: list[list[int]], n_items: int) -> sparse.csr_matrix:
    r = [u for u, items in enumerate(rows) for _ in items]
    c = [i for items in rows for i in items]
    return sparse.csr_matrix((np.ones(len(c), dtype=np.float32), (r, c)), shape=(len(rows), n_items))


def test_stratified_negatives_draw_every_stratum_equally():
    # Item 0 holds half of all interactions: stratum 0 is {0}, stratum 1 the other 9 items.
    x = _matrix([[0, 1], [0, 2], [0, 3], [0, 4]], 10)
    sampler = TripleSampler(x, 500, "popularity-stratified", "interactions", 2, seed=1)
    _, _, j = sampler.epoch()
    share_top = float((j == 0).mean())
    assert share_top == pytest.approx(0.5, abs=0.03)  # uniform sampling would give 0.1
    assert set(np.unique(j)) == set(range(10))


def test_user_balanced_batches_give_each_user_the_same_count():
    x = _matrix([[0, 1, 2, 3, 4, 5, 6, 7], [1, 2], [3, 4, 5]], 10)  # mean history 13 / 3 -> 4 draws each
    u, i, _ = TripleSampler(x, 1, "uniform", "user-balanced", 3, seed=0).epoch()
    assert np.bincount(u).tolist() == [4, 4, 4]
    assert all(x[a, b] for a, b in zip(u, i, strict=True))  # positives are the user's own items
    u, _, _ = TripleSampler(x, 1, "uniform", "interactions", 3, seed=0).epoch()
    assert np.bincount(u).tolist() == [8, 2, 3]


def test_bpr_defaults_keep_the_first_versions_artifact_key():
    # The key BPR v1 state was saved under: today's default options, with balance_users = false.
    legacy = {"dims": 64, "epochs": 40, "lr": 0.01, "l2": 1e-4, "negatives": 4, "negative_sampling": "uniform",
              "balance_users": False, "batch_size": 4096, "fold_in_steps": 60, "seed": 42, "evidence_items": 3}  # fmt: skip
    assert BprConfig().artifact_params() == legacy
    assert BprConfig(balance_users=True).batching == "user-balanced"
    assert "batching" in BprConfig(batching="user-balanced").artifact_params()


def test_bpr_trains_with_each_imbalance_option(tiny_cf_env):
    for options in ({"negative_sampling": "popularity-stratified"}, {"batching": "user-balanced"}):
        s = BprScorer({"dims": 4, "epochs": 3, "batch_size": 16, **options})
        s.prepare(tiny_cf_env)
        assert np.isfinite(s.user_factors).all()


def test_the_debiased_movies_config_blends_pda():
    from pathlib import Path

    from genre.config import load_config

    cfg = load_config(Path(__file__).resolve().parents[2] / "configs" / "movies-debiased.toml")
    (name,) = [n for n, s in cfg.scorers.items() if s.component == "pda"]
    assert cfg.scorers[name].config["gamma"] > 0 and cfg.fusion.config["weights"][name] > 1
    assert not any(s.component == "bpr" for s in cfg.scorers.values())
