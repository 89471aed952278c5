"""The contract every component of a stage keeps, as one base test class per stage (LensKit style).

A built-in gets its stage's whole contract by one line in ``test_<stage>.py``::

    class TestEase(ScorerContract):
        component = "ease"

``component`` is the registry name, ``config`` the parameters it is tested with (small, so training
on the tiny catalog of ``tests/conftest.py`` takes moments), and ``needs_interactions`` picks the
tiny catalog with user events. Stand-ins replace the real models: the HashEmbedder for the
sentence embedder, and a fixed-text generator where a component writes text.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from pydantic import ValidationError

from genre.components.env import Env
from genre.config import parse_config
from genre.core.component import STAGE_BASES, Component
from genre.core.errors import ConfigError
from genre.core.types import CandidateSet, Fused, HistoryEvent, Intent, ScoreList, UserContext, UserState
from genre.registry import resolve
from tests.conftest import tiny_config_dict

HISTORY = ("a", "f")  # the alpine tent and the pour-over kettle
INTENT_LABELS = ["camping gear", "coffee brewing", "kitchen tools"]


def encode(env: Env, history: tuple[str, ...] = HISTORY, profile: str = "camping trips") -> UserState:
    """A user state from the built-in context and zero-shot intent stages (the intent set as the pipeline sets it)."""
    context = resolve("context", "recency")()
    context.prepare(env)
    state = context(UserContext(history=[HistoryEvent(item_id=i) for i in history], profile=profile))
    intent = resolve("intent", "zero-shot")({"labels": INTENT_LABELS})
    intent.prepare(env)
    state.intent = intent(state)
    return state


def empty_user(env: Env) -> UserState:
    """A user with no history and no profile: nothing to personalize on."""
    state = encode(env, history=(), profile="")
    state.intent = Intent(source="none")
    return state


class ComponentContract:
    """What every component keeps: it is of its stage, its Config rejects typos, and validating a
    config that names it neither builds nor prepares it."""

    stage: ClassVar[str]
    component: ClassVar[str]
    config: ClassVar[dict[str, Any]] = {}
    needs_interactions: ClassVar[bool] = False

    @property
    def cls(self) -> type[Component]:
        return resolve(self.stage, self.component)

    @property
    def where(self) -> str:
        """Where the component sits in a pipeline config."""
        return {"scorers": "scorers.under_test", "rerank": "rerank.0"}.get(self.stage, self.stage)

    def pipeline(self, catalog_file: Path, config: dict[str, Any]) -> dict[str, Any]:
        """The tiny pipeline config with this component, given ``config``, in its place."""
        spec = {"component": self.component, "config": config}
        data = tiny_config_dict(catalog_file)
        if self.stage == "scorers":
            data["scorers"]["under_test"] = spec
        elif self.stage == "rerank":
            data["rerank"] = [spec]
        else:
            data[self.stage] = spec
        return data

    @pytest.fixture
    def env(self, request: pytest.FixtureRequest) -> Env:
        return request.getfixturevalue("tiny_cf_env" if self.needs_interactions else "tiny_env")

    @pytest.fixture
    def built(self, env: Env) -> Component:
        component = self.cls(self.config)
        component.prepare(env)
        return component

    def test_derives_its_stage_base_and_implements_it(self) -> None:
        assert issubclass(self.cls, STAGE_BASES[self.stage])
        assert not inspect.isabstract(self.cls)

    def test_config_rejects_an_unknown_key_naming_it(self, tiny_catalog_file: Path) -> None:
        with pytest.raises(ConfigError) as exc:
            parse_config(self.pipeline(tiny_catalog_file, {**self.config, "no_such_option": 1}))
        message = str(exc.value)
        assert f"[{self.where}.config] unknown key 'no_such_option'" in message
        if self.cls.Config.model_fields:
            assert f"valid keys: {', '.join(self.cls.Config.model_fields)}" in message
        with pytest.raises(ValidationError, match="no_such_option\n  Extra inputs are not permitted"):
            self.cls({**self.config, "no_such_option": 1})  # built directly, as the explorer may

    def test_config_validation_neither_builds_nor_prepares_it(
        self, tiny_catalog_file: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def refuse(*args: object, **kwargs: object) -> None:
            raise RuntimeError("config validation built or prepared a component")

        monkeypatch.setattr(self.cls, "__init__", refuse)
        monkeypatch.setattr(self.cls, "prepare", refuse)
        cfg = parse_config(self.pipeline(tiny_catalog_file, self.config))
        spec = dict(cfg.stage_specs())[self.where]
        assert spec.component == self.component and spec.config == self.config

    def test_builds_from_its_config_without_preparing(self) -> None:
        validated = self.cls.Config.model_validate(self.config)
        component = self.cls(validated)
        assert component.config == validated
        assert not hasattr(component, "env")  # building binds no catalog: that is prepare's job


class ContextContract(ComponentContract):
    """Context: the user vector u is a unit vector, or None when there is nothing to encode."""

    stage = "context"

    def test_user_vector_is_a_unit_vector(self, built: Component, env: Env) -> None:
        for history, profile in [(HISTORY, "camping trips"), (HISTORY, ""), ((), "camping trips")]:
            state = built(UserContext(history=[HistoryEvent(item_id=i) for i in history], profile=profile))
            assert isinstance(state, UserState)
            assert state.vector is not None and state.vector.shape == (env.item_vectors.shape[1],)
            assert np.linalg.norm(state.vector) == pytest.approx(1.0)

    def test_no_vector_without_history_or_profile(self, built: Component) -> None:
        state = built(UserContext())
        assert state.vector is None and state.seen_index.size == 0

    def test_history_is_indexed_oldest_first_with_weights_summing_to_one(self, built: Component, env: Env) -> None:
        state = built(UserContext(history=[HistoryEvent(item_id=i) for i in HISTORY]))
        expected = [env.catalog.index_of(i) for i in HISTORY]
        assert state.seen_index.tolist() == expected and state.history_index.tolist() == expected
        assert state.history_weights.shape == (len(HISTORY),)
        assert state.history_weights.sum() == pytest.approx(1.0) and (state.history_weights > 0).all()


class IntentContract(ComponentContract):
    """Intent: labels with probabilities in [0, 1], best first; a unit vector or none; nothing from nothing."""

    stage = "intent"

    def test_label_probabilities_are_in_the_unit_interval_best_first(self, built: Component, env: Env) -> None:
        intent = built(encode(env))
        assert isinstance(intent, Intent) and intent.source
        probabilities = [label.probability for label in intent.labels]
        assert all(0.0 <= p <= 1.0 for p in probabilities)
        assert probabilities == sorted(probabilities, reverse=True)
        assert len({label.label for label in intent.labels}) == len(intent.labels)

    def test_vector_is_a_unit_vector_or_none(self, built: Component, env: Env) -> None:
        intent = built(encode(env))
        if intent.vector is not None:
            assert len(intent.vector) == env.item_vectors.shape[1]
            assert np.linalg.norm(intent.vector) == pytest.approx(1.0)

    def test_no_labels_for_a_user_with_no_signal(self, built: Component, env: Env) -> None:
        intent = built(empty_user(env))
        assert isinstance(intent, Intent) and intent.labels == [] and intent.vector is None


class CandidatesContract(ComponentContract):
    """Candidates: distinct catalog indices, none of them seen, and a count per reason for every other item."""

    stage = "candidates"

    def test_candidates_are_the_catalog_minus_seen_items(self, built: Component, env: Env) -> None:
        state = encode(env)
        out = built(state)
        assert isinstance(out, CandidateSet) and out.index.dtype == np.int64
        index = out.index.tolist()
        assert len(set(index)) == len(index)
        assert set(index) <= set(range(len(env.catalog))) - set(state.seen_index.tolist())

    def test_every_dropped_item_is_counted_once(self, built: Component, env: Env) -> None:
        out = built(encode(env))
        assert all(n > 0 for n in out.excluded.values())
        assert sum(out.excluded.values()) == len(env.catalog) - out.index.size

    def test_a_new_user_without_constraints_gets_the_whole_catalog(self, built: Component, env: Env) -> None:
        out = built(empty_user(env))
        assert sorted(out.index.tolist()) == list(range(len(env.catalog))) and out.excluded == {}


class ScorerContract(ComponentContract):
    """Scorers: one score per candidate, aligned with the candidates, NaN where it cannot score."""

    stage = "scorers"
    scores_without_a_user: ClassVar[bool] = False
    """True for scorers that need nothing of the user (popularity): they score everyone."""

    @pytest.fixture
    def state(self, env: Env) -> UserState:
        return encode(env)

    def test_one_score_per_candidate_aligned_with_them(self, built: Component, state: UserState) -> None:
        candidates = np.array([1, 3, 4, 6], dtype=np.int64)
        out = built(state, state.intent, candidates)
        assert isinstance(out, ScoreList) and out.scores.shape == (4,) and out.scores.dtype == np.float64
        backward = built(state, state.intent, candidates[::-1]).scores
        np.testing.assert_allclose(out.scores, backward[::-1])

    def test_a_user_with_history_and_profile_gets_finite_scores(self, built: Component, state: UserState) -> None:
        out = built(state, state.intent, np.array([1, 3, 4, 6], dtype=np.int64))
        assert np.isfinite(out.scores).all()

    def test_nan_where_it_cannot_score(self, built: Component, env: Env) -> None:
        empty = empty_user(env)
        scores = built(empty, empty.intent, np.arange(len(env.catalog), dtype=np.int64)).scores
        assert not np.isinf(scores).any()
        if self.scores_without_a_user:
            assert np.isfinite(scores).all()
        else:
            assert np.isnan(scores).all()  # nothing to score on: NaN, never a made-up 0

    def test_empty_candidates(self, built: Component, state: UserState) -> None:
        assert built(state, state.intent, np.zeros(0, dtype=np.int64)).scores.shape == (0,)

    def test_score_users_matches_single_calls(self, built: Component, state: UserState, env: Env) -> None:
        everything = np.arange(len(env.catalog), dtype=np.int64)
        batch = built.score_users([state, state], [state.intent, state.intent])
        assert batch.shape == (2, len(env.catalog))
        np.testing.assert_allclose(batch[0], built(state, state.intent, everything).scores, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(batch[1], batch[0])

    def test_score_users_on_a_subset_of_items(self, built: Component, state: UserState) -> None:
        items = np.array([5, 1, 3], dtype=np.int64)
        full = built.score_users([state], [state.intent])
        np.testing.assert_allclose(built.score_users([state], [state.intent], items), full[:, items], rtol=1e-5)

    def test_explain_covers_requested_items_only(self, built: Component, state: UserState) -> None:
        evidence = built.explain(state, np.array([3, 6]))
        assert set(evidence) <= {3, 6}
        assert all(e.label for items in evidence.values() for e in items)


SCORE_LISTS = {  # two scorers over five candidates; the content scorer cannot score the fourth
    "popularity": np.array([3.0, 1.0, 2.0, 5.0, 4.0]),
    "content": np.array([0.2, 0.9, 0.4, np.nan, 0.1]),
}


class FusionContract(ComponentContract):
    """Fusion: scores aligned with the candidates, contributions summing to them, and ``rescore`` agreeing
    with ``__call__`` on the same values (leave-one-out attribution relies on it)."""

    stage = "fusion"

    def score_lists(self) -> list[ScoreList]:
        return [ScoreList(name, scores) for name, scores in SCORE_LISTS.items()]

    def test_contributions_sum_to_the_scores(self, built: Component) -> None:
        fused = built(self.score_lists())
        assert isinstance(fused, Fused) and fused.scores.shape == (5,) and np.isfinite(fused.scores).all()
        assert set(fused.contributions) == set(SCORE_LISTS)
        assert all(part.shape == (5,) for part in fused.contributions.values())
        np.testing.assert_allclose(sum(fused.contributions.values()), fused.scores)

    def test_a_scorer_that_cannot_score_an_item_adds_nothing_to_it(self, built: Component) -> None:
        fused = built(self.score_lists())
        assert fused.contributions["content"][3] == 0.0

    def test_rescore_agrees_with_call_on_the_same_values(self, built: Component) -> None:
        fused = built(self.score_lists())
        total, contributions = built.rescore(SCORE_LISTS, SCORE_LISTS)
        np.testing.assert_allclose(total, fused.scores)
        assert set(contributions) == set(fused.contributions)
        for name, part in contributions.items():
            np.testing.assert_allclose(part, fused.contributions[name])

    def test_rescore_of_some_items_is_normalized_against_the_reference(self, built: Component) -> None:
        fused = built(self.score_lists())
        some = np.array([4, 1])
        total, _ = built.rescore({name: scores[some] for name, scores in SCORE_LISTS.items()}, SCORE_LISTS)
        np.testing.assert_allclose(total, fused.scores[some])


CANDIDATES = np.array([0, 1, 2, 3, 5, 6, 7], dtype=np.int64)  # the tiny catalog without item e


def fused_candidates() -> Fused:
    """A fusion result over CANDIDATES, as a re-ranker receives it."""
    fusion = resolve("fusion", "weighted")()
    scores = np.array([0.9, 0.85, 0.8, 0.6, 0.5, 0.4, 0.1])
    return fusion([ScoreList("content", scores), ScoreList("popularity", scores[::-1].copy())])


class RerankerContract(ComponentContract):
    """Re-rankers: a Fused aligned with the candidates whose contributions still sum to the scores, the
    upstream contributions kept, and any order a prefix of a permutation of the candidates."""

    stage = "rerank"

    @pytest.mark.parametrize("k", [3, 20])
    def test_returns_a_fused_aligned_with_the_candidates(self, built: Component, k: int) -> None:
        before = fused_candidates()
        out = built(CANDIDATES, before, k)
        n = CANDIDATES.size
        assert isinstance(out, Fused) and out.scores.shape == (n,)
        assert set(before.contributions) <= set(out.contributions)
        assert all(part.shape == (n,) for part in out.contributions.values())
        np.testing.assert_allclose(sum(out.contributions.values()), out.scores)

    @pytest.mark.parametrize("k", [3, 20])
    def test_order_is_a_permutation_prefix(self, built: Component, k: int) -> None:
        out = built(CANDIDATES, fused_candidates(), k)
        if out.order is not None:
            order = out.order.tolist()
            assert all(isinstance(p, int) for p in order)
            assert len(set(order)) == len(order) and set(order) <= set(range(CANDIDATES.size))
            assert len(order) >= min(k, CANDIDATES.size)
