"""What each built-in scorer does on tiny data, beyond the contract they all keep (tests/contract/test_scorers.py)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from genre.components.context import RecencyContextEncoder
from genre.components.env import Env
from genre.components.intent import NoIntent, ZeroShotIntent
from genre.components.scorers import (
    BprScorer,
    ContentScorer,
    EaseScorer,
    IntentMatchScorer,
    ItemKNNScorer,
    PopularityScorer,
    PreferenceScorer,
    PriceFitScorer,
)
from genre.core.component import Scorer
from genre.core.errors import ConfigError
from genre.core.types import HistoryEvent, UserContext


class ScorerTests:
    """Fixtures: the scorer under test, prepared on the tiny catalog, and a user with history, profile and intent."""

    component: ClassVar[type[Scorer]]
    config: ClassVar[dict] = {}

    @pytest.fixture
    def env(self, tiny_env):
        return tiny_env

    @pytest.fixture
    def scorer(self, env) -> Scorer:
        s = self.component(self.config)
        s.prepare(env)
        return s

    @pytest.fixture
    def state(self, env):
        enc = RecencyContextEncoder()
        enc.prepare(env)
        zs = ZeroShotIntent({"labels": ["camping gear", "coffee brewing"]})
        zs.prepare(env)
        st = enc(UserContext(history=[HistoryEvent(item_id="a"), HistoryEvent(item_id="f")], profile="camping"))
        st.intent = zs(st)
        return st


class TestPopularity(ScorerTests):
    component = PopularityScorer

    def test_log_counts_from_popularity_field(self, scorer, state, tiny_env):
        out = scorer(state, NoIntent()(state), np.array([3, 7]))
        np.testing.assert_allclose(out.scores, np.log1p([2000, 5]))
        assert scorer.explain(state, np.array([3]))[3][0].label == "2,000 interactions"


class TestContent(ScorerTests):
    component = ContentScorer
    config: ClassVar[dict] = {"evidence_items": 1}

    def test_nan_without_any_user_signal(self, scorer, tiny_env):
        enc = RecencyContextEncoder()
        enc.prepare(tiny_env)
        empty = enc(UserContext())
        out = scorer(empty, NoIntent()(empty), np.array([0, 1]))
        assert np.isnan(out.scores).all() and out.note

    def test_similar_items_score_higher(self, scorer, state):
        # History has a camping tent; the sleeping bag (1) shares words, the notebook (7) hardly any.
        out = scorer(state, NoIntent()(state), np.array([1, 7]))
        assert out.scores[0] > out.scores[1]

    def test_evidence_names_the_closest_history_item(self, scorer, state, tiny_env):
        ev = scorer.explain(state, np.array([6]))[6]  # burr grinder
        history_ev = [e for e in ev if e.kind == "history_item"]
        assert [e.item_id for e in history_ev] == ["f"]  # pour-over kettle, not the tent
        assert any(e.kind == "profile" for e in ev)


class InteractionScorerTests(ScorerTests):
    train_method: ClassVar[str]
    """The method that learns from the interactions; a scorer with saved state never calls it."""

    @pytest.fixture
    def env(self, tiny_cf_env):
        return tiny_cf_env

    def test_needs_interactions(self, tiny_env):
        with pytest.raises(ConfigError, match="learns from user interactions"):
            self.component(self.config).prepare(tiny_env)

    def test_nan_without_history(self, scorer, env):
        enc = RecencyContextEncoder()
        enc.prepare(env)
        empty = enc(UserContext(profile="camping"))
        assert np.isnan(scorer(empty, NoIntent()(empty), np.array([0, 1])).scores).all()

    def test_co_consumed_item_ranks_first(self, scorer, env):
        # Users who had the tent (a) also had the sleeping bag (b) and the stove (c); nobody had the notebook.
        enc = RecencyContextEncoder()
        enc.prepare(env)
        st = enc(UserContext(history=[HistoryEvent(item_id="a")]))
        scores = scorer(st, NoIntent()(st), np.arange(1, 8)).scores
        best = env.catalog.items[1 + int(np.argmax(scores))].item_id
        assert best in {"b", "c"}
        assert scores[1 - 1] > scores[7 - 1]  # b above h

    def test_trained_state_is_cached_and_reloaded(self, scorer, env, state, tmp_path, monkeypatch):
        # Training is seeded, so retraining would give the same scores: only forbidding it shows a reload.
        def no_training(*args: object, **kwargs: object) -> None:
            raise RuntimeError("trained again instead of reloading the saved state")

        monkeypatch.setattr(self.component, self.train_method, no_training)
        elsewhere = Env(env.catalog, "cpu", env.embedder_factory, artifact_root=tmp_path / "elsewhere")
        with pytest.raises(RuntimeError, match="trained again"):  # no saved state there: it must train
            self.component(self.config).prepare(elsewhere)
        again = self.component(self.config)
        again.prepare(env)  # `scorer` trained and saved here
        cands = np.arange(len(env.catalog))
        np.testing.assert_allclose(again(state, state.intent, cands).scores, scorer(state, state.intent, cands).scores)


class TestItemKNN(InteractionScorerTests):
    component = ItemKNNScorer
    config: ClassVar[dict] = {"neighbors": 3, "shrinkage": 0.0}
    train_method = "fit"

    def test_exact_cosine(self, scorer, env):
        # a: users u1,u2,u5; b: u1,u2 -> cos = 2 / sqrt(3*2)
        ai, bi = env.catalog.index_of("a"), env.catalog.index_of("b")
        assert scorer.weights[ai, bi] == pytest.approx(2 / np.sqrt(6), rel=1e-5)


class TestEase(InteractionScorerTests):
    component = EaseScorer
    config: ClassVar[dict] = {"l2": 1.0}
    train_method = "fit"

    def test_zero_diagonal(self, scorer):
        assert np.allclose(np.diag(scorer.weights), 0)

    def test_negative_l2_rejected(self):
        with pytest.raises(ValueError, match="greater than 0"):
            EaseScorer({"l2": -1})


class TestBpr(InteractionScorerTests):
    component = BprScorer
    config: ClassVar[dict] = {"dims": 8, "epochs": 60, "lr": 0.05, "negatives": 4, "batch_size": 16}
    train_method = "_train"

    def test_zero_dims_rejected(self):
        with pytest.raises(ValueError, match="dims"):
            BprScorer({"dims": 0})

    def test_balanced_and_popularity_sampling_train(self, env, state):
        s = BprScorer({**self.config, "balance_users": True, "negative_sampling": "popularity"})
        s.prepare(env)
        assert np.isfinite(s(state, state.intent, np.arange(8)).scores).all()


class TestIntentMatch(ScorerTests):
    component = IntentMatchScorer

    def test_coffee_intent_prefers_coffee_items(self, scorer, env):
        enc = RecencyContextEncoder()
        enc.prepare(env)
        zs = ZeroShotIntent({"labels": ["camping tent", "coffee grinder kettle"], "temperature": 0.01})
        zs.prepare(env)
        st = enc(UserContext(profile="coffee grinder"))
        intent = zs(st)
        scores = scorer(st, intent, np.array([0, 6])).scores  # tent vs grinder
        assert scores[1] > scores[0]

    def test_unknown_option_rejected(self):
        with pytest.raises(ValueError, match="Extra inputs are not permitted"):
            IntentMatchScorer({"x": 1})


class TestPriceFit(ScorerTests):
    component = PriceFitScorer

    def test_stated_range_centre_scores_highest(self, scorer, env):
        from genre.core.types import Constraints

        enc = RecencyContextEncoder()
        enc.prepare(env)
        st = enc(UserContext(profile="x", constraints=Constraints(price_min=50, price_max=100)))
        # prices: c 60, d 90, e 45, h 12 -> geometric centre of 50..100 is ~70.7
        scores = scorer(st, NoIntent()(st), np.array([2, 3, 4, 7])).scores
        assert scores.argmax() in (0, 1) and scores[3] < 0.01
        assert "fits your range $50-$100" in scorer.explain(st, np.array([2]))[2][0].label
        # h costs $12: far below the range, and the evidence must not call it a fit
        assert scorer.explain(st, np.array([7]))[7][0].label == "$12.00 is below your range $50-$100"


class TestPreference(ScorerTests):
    component = PreferenceScorer

    def test_category_and_brand_shares(self, scorer, env):
        enc = RecencyContextEncoder()
        enc.prepare(env)
        st = enc(UserContext(history=[HistoryEvent(item_id="a")]))  # Outdoor, Northwind
        scores = scorer(st, NoIntent()(st), np.array([1, 2, 3])).scores
        np.testing.assert_allclose(scores, [1.5, 1.0, 0.0])  # same category+brand, same category, neither
