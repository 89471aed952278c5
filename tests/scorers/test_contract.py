"""Contract tests every scorer gets by one line (LensKit style)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from genre.components import Scorer
from genre.context import RecencyContextEncoder
from genre.intent import NoIntent
from genre.scorers import ContentScorer, PopularityScorer
from genre.types import HistoryEvent, UserContext


class ScorerContract:
    component: ClassVar[type[Scorer]]
    config: ClassVar[dict] = {}

    @pytest.fixture
    def scorer(self, tiny_env) -> Scorer:
        s = self.component(self.config)
        s.prepare(tiny_env)
        return s

    @pytest.fixture
    def state(self, tiny_env):
        enc = RecencyContextEncoder()
        enc.prepare(tiny_env)
        return enc(UserContext(history=[HistoryEvent(item_id="a"), HistoryEvent(item_id="f")], profile="camping"))

    def test_one_finite_score_per_candidate(self, scorer, state):
        cands = np.array([1, 3, 4, 6], dtype=np.int64)
        out = scorer(state, NoIntent()(state), cands)
        assert out.scores.shape == (4,)
        assert np.isfinite(out.scores).all()

    def test_scores_are_aligned_with_candidate_order(self, scorer, state):
        cands = np.array([1, 3, 4, 6], dtype=np.int64)
        forward = scorer(state, NoIntent()(state), cands).scores
        backward = scorer(state, NoIntent()(state), cands[::-1]).scores
        np.testing.assert_allclose(forward, backward[::-1])

    def test_empty_candidates(self, scorer, state):
        assert scorer(state, NoIntent()(state), np.zeros(0, dtype=np.int64)).scores.shape == (0,)

    def test_explain_covers_requested_items_only(self, scorer, state):
        ev = scorer.explain(state, np.array([3, 6]))
        assert set(ev) <= {3, 6}
        for evidence in ev.values():
            assert all(e.label for e in evidence)

    def test_unknown_option_rejected(self):
        with pytest.raises(ValueError, match="Extra inputs are not permitted"):
            self.component({"no_such_option": 1})


class TestPopularity(ScorerContract):
    component = PopularityScorer

    def test_log_counts_from_popularity_field(self, scorer, state, tiny_env):
        out = scorer(state, NoIntent()(state), np.array([3, 7]))
        np.testing.assert_allclose(out.scores, np.log1p([2000, 5]))
        assert scorer.explain(state, np.array([3]))[3][0].label == "2,000 interactions"


class TestContent(ScorerContract):
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
