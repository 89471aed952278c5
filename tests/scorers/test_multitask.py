"""Multi-task SASRec: its three heads learn what they should, task losses combine as documented,
the rating head is off without ratings, the intent stage reads the same model, bad knobs fail at load."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import pytest
import torch

from genre.components.env import Env
from genre.components.intent.multitask import MultiTaskIntentHead
from genre.components.scorers.multitask import NAME, MultiTaskSasRecScorer
from genre.components.scorers.multitask_net import build_examples, combine_losses
from genre.config import parse_config
from genre.core.errors import ConfigError
from genre.core.types import Catalog, Intent, Interactions, Item, UserContext, UserState
from tests.conftest import HashEmbedder, tiny_config_dict
from tests.contract.base import IntentContract, ScorerContract
from tests.scorers.test_contract import InteractionScorerTests
from tests.scorers.test_sasrec import SMALL  # the multi-task encoder is SASRec's: same small model

N_ITEMS = 30
KINDS = ("alpine", "baking", "cinema")


def _walk_catalog(rng: np.random.Generator, rated: bool = True) -> Catalog:
    """Histories step through the catalog in order (i, i+1, ...); item i is of kind i % 3 and rated 1 + i % 5.

    The next item's kind follows from the last one's, and its rating from which item it is.
    """
    items = [Item(item_id=f"i{i:02d}", title=f"Episode {i}", categories=(KINDS[i % 3],)) for i in range(N_ITEMS)]
    walks = [(rng.integers(N_ITEMS) + np.arange(rng.integers(4, 15))) % N_ITEMS for _ in range(200)]
    users = np.concatenate([np.full(w.size, f"u{u}") for u, w in enumerate(walks)])
    index = np.concatenate(walks).astype(np.int64)
    stamps = np.concatenate([1e9 + 3600.0 * np.arange(w.size) + 60.0 * u for u, w in enumerate(walks)])
    ratings = (1.0 + index % 5) if rated else np.full(index.size, np.nan)
    return Catalog("walks", items, Interactions(users, index, stamps, ratings))


def _env(catalog: Catalog) -> Env:
    return Env(catalog, "cpu", embedder_factory=lambda device: HashEmbedder())


def _state(seen) -> UserState:
    seen = np.asarray(seen, dtype=np.int64)
    weights = np.full(seen.size, 1.0 / seen.size) if seen.size else np.zeros(0)
    return UserState(UserContext(), seen, weights, None, seen_index=seen)


@pytest.fixture
def walk_env(rng, cache) -> Env:
    return _env(_walk_catalog(rng))


@pytest.fixture
def model(walk_env) -> MultiTaskSasRecScorer:
    s = MultiTaskSasRecScorer(SMALL)
    s.prepare(walk_env)
    return s


# ---- the maths, by hand ---------------------------------------------------------------------------


def test_fixed_weighting_is_the_weighted_sum_of_the_tasks_that_are_on():
    losses = torch.tensor([2.0, 3.0, 5.0])
    regression = torch.tensor([False, False, True])
    assert float(combine_losses(losses, torch.tensor([1.0, 0.5, 0.0]), None, regression)) == pytest.approx(3.5)


def test_uncertainty_weighting_follows_kendall_et_al():
    losses = torch.tensor([2.0, 3.0, 5.0])
    s = torch.tensor([0.0, math.log(4.0), math.log(0.5)], requires_grad=True)
    regression = torch.tensor([False, False, True])
    # classification: exp(-s) L + s/2; regression: exp(-s) L / 2 + s/2.
    expected = 2.0 + (3.0 / 4.0 + math.log(4.0) / 2) + (0.5 * 5.0 / 0.5 + math.log(0.5) / 2)
    total = combine_losses(losses, torch.ones(3), s, regression)
    assert float(total.detach()) == pytest.approx(expected)
    # A task that is off (weight 0) adds nothing, not even its log-variance.
    off = combine_losses(losses, torch.tensor([1.0, 1.0, 0.0]), s, regression)
    assert float(off.detach()) == pytest.approx(2.0 + 3.0 / 4.0 + math.log(4.0) / 2)
    # The learned weight of a task settles where exp(-s) = 1 / (2 c L): d/ds = -c exp(-s) L + 1/2.
    total.backward()
    assert s.grad is not None
    assert s.grad.tolist() == pytest.approx([-2.0 + 0.5, -0.75 + 0.5, -0.5 * 5.0 / 0.5 + 0.5])


def test_user_balanced_targets_give_every_user_the_same_total_weight():
    # User a has 3 events (2 targets), user b 5 events (4 targets).
    inter = Interactions(
        np.array(["a"] * 3 + ["b"] * 5),
        np.array([0, 1, 2, 3, 4, 5, 6, 7]),
        np.arange(8.0),
        np.array([1.0, 2, 3, 4, 5, 4, 3, 2]),
    )
    plain = build_examples(inter, 8, 3.0, 1.0, user_balanced=False)
    balanced = build_examples(inter, 8, 3.0, 1.0, user_balanced=True)
    rows = {int(plain.items[r][plain.items[r] >= 0][0]): r for r in range(2)}  # first target: 1 for a, 4 for b
    a, b = rows[1], rows[4]
    assert plain.weights[a].sum() == 2 and plain.weights[b].sum() == 4
    # Each user's targets sum to the same amount; the mean target weight stays 1 (6 targets, total 6).
    assert balanced.weights[a].sum() == pytest.approx(3.0) and balanced.weights[b].sum() == pytest.approx(3.0)
    # Targets carry their own event's item and standardized rating, inputs the items before them.
    assert plain.items[a][-2:].tolist() == [1, 2] and plain.ratings[a][-2:].tolist() == [-1.0, 0.0]
    assert plain.tokens[a][-2:].tolist() == [1, 2]  # tokens are catalog index + 1


# ---- the trained model ----------------------------------------------------------------------------


def test_three_heads_learn_the_next_item_its_kind_and_its_rating(model):
    held_out = [(np.random.default_rng(7).integers(N_ITEMS) + np.arange(6)) % N_ITEMS for _ in range(40)]
    hits = 0
    for walk in held_out:
        scores = model(_state(walk), Intent(), np.arange(N_ITEMS)).scores
        hits += int((walk[-1] + 1) % N_ITEMS in np.argsort(-scores)[:3])
    assert hits >= 0.8 * len(held_out)

    assert model.labels == list(KINDS)
    probs = model.label_probabilities([w for w in held_out] + [np.zeros(0, dtype=np.int64)])
    assert np.isnan(probs[-1]).all()
    right = [int(np.argmax(p)) == (w[-1] + 1) % 3 for p, w in zip(probs[:-1], held_out, strict=True)]
    assert np.mean(right) >= 0.9

    # Ratings depend on the item (1 + i % 5): the head beats always predicting the mean rating (3).
    items = [np.arange(N_ITEMS)] * 3
    predicted = model.predict_ratings(held_out[:3], items)
    truth = 1.0 + np.arange(N_ITEMS) % 5
    rmse = np.sqrt(np.mean([(p - truth) ** 2 for p in predicted]))
    assert rmse < 0.7 * np.sqrt(np.mean((truth - 3.0) ** 2))

    meta = model.meta
    assert meta["tasks"] == {"item": True, "genre": True, "rating": True}
    for task in ("item", "genre", "rating"):
        assert len(meta["task_loss"][task]) == SMALL["epochs"]
        assert meta["task_loss"][task][-1] < meta["task_loss"][task][0]
    assert meta["learned_precision"] is None


def test_rating_head_is_off_without_ratings_and_says_so(rng, cache):
    env = _env(_walk_catalog(rng, rated=False))
    scorer = MultiTaskSasRecScorer({**SMALL, "epochs": 2})
    scorer.prepare(env)
    assert not scorer.rating_on and scorer.model.rating is None
    assert not any(k.startswith("rating.") for k in scorer.model.state_dict())
    notice = "sasrec-multitask: the rating head is off: the walks interactions carry no ratings"
    assert env.notices.count(notice) == 1 and notice in scorer.notices
    assert scorer.meta["tasks"] == {"item": True, "genre": True, "rating": False}
    assert all(math.isnan(v) for v in scorer.meta["task_loss"]["rating"])
    with pytest.raises(ConfigError, match=r"no rating head.*carry no ratings"):
        scorer.predict_ratings([np.array([1, 2])], [np.array([3])])


def test_uncertainty_weighting_learns_a_weight_per_task(walk_env):
    scorer = MultiTaskSasRecScorer({**SMALL, "epochs": 4, "weighting": "uncertainty"})
    scorer.prepare(walk_env)
    learned = scorer.meta["learned_precision"]
    assert set(learned) == {"item", "genre", "rating"}
    assert all(v > 0 for v in learned.values()) and len({round(v, 6) for v in learned.values()}) == 3
    assert not torch.equal(scorer.model.log_vars.detach(), torch.zeros(3))


@pytest.mark.parametrize("loss", ["class-balanced", "focal"])
def test_imbalance_losses_train_a_different_label_head(walk_env, model, loss):
    other = MultiTaskSasRecScorer({**SMALL, "epochs": 12, "genre_loss": loss, "user_balanced": True})
    other.prepare(walk_env)
    seqs = [np.array([3, 4, 5]), np.array([10, 11])]
    p, q = model.label_probabilities(seqs), other.label_probabilities(seqs)
    assert not np.allclose(p, q)
    assert (q.argmax(axis=1) == np.array([0, 0])).all()  # after 5 comes 6 (alpine); after 11 comes 12 (alpine)


def test_warm_start_continues_from_the_saved_weights(model, walk_env, rng, tmp_path):
    from genre.components.env import WarmStart

    # New interactions (one more walk), trained state elsewhere: the model continues from `model`'s weights.
    catalog = walk_env.catalog
    inter = catalog.interactions
    more = Interactions(
        np.concatenate([inter.user_ids, np.full(5, "new")]),
        np.concatenate([inter.item_index, np.arange(5)]),
        np.concatenate([inter.timestamps, 2e9 + np.arange(5.0)]),
        np.concatenate([inter.ratings, np.full(5, 3.0)]),
    )
    env = Env(
        catalog.with_interactions(more),
        "cpu",
        embedder_factory=walk_env.embedder_factory,
        artifact_root=tmp_path / "next",
        warm_start=WarmStart(source=walk_env, epochs=2),
    )
    warm = MultiTaskSasRecScorer(SMALL)
    warm.prepare(env)
    assert warm.meta["warm_start"]["epochs"] == 2 and len(warm.meta["loss"]) == 2
    # Two epochs from trained weights: still near the trained model's loss, far below a fresh start's.
    assert warm.meta["task_loss"]["item"][0] < 0.8 * model.meta["task_loss"]["item"][0]


def test_intent_stage_reads_the_scorers_saved_model_without_training(model, walk_env, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("the intent stage trained a second model")

    monkeypatch.setattr(MultiTaskSasRecScorer, "_train", no_training)
    head = MultiTaskIntentHead({**SMALL, "top_n": 2})
    head.prepare(walk_env)
    intent = head(_state([6, 7]))  # 7 is baking, so 8 (cinema) follows
    assert intent.source == "multitask-head" and intent.labels[0].label == "cinema"
    assert len(intent.labels) == 2 and np.linalg.norm(intent.vector) == pytest.approx(1.0)
    np.testing.assert_array_equal(head.predict_proba([_state([6, 7])]), model.label_probabilities([np.array([6, 7])]))
    assert head(_state([])).labels == []
    assert head.label_field == "categories"


def test_top_labels_pick_a_second_kind_of_item_over_a_label_that_goes_with_the_first(model, monkeypatch):
    # Items 0-9 carry labels 0 and 1, items 10-19 label 2, items 20-29 label 1; the next item is
    # equally likely any unseen one. Label 1 is the most probable; label 0 adds nothing to it (its
    # items already carry label 1), label 2 adds a third of the chance: coverage order is 1, 2, 0.
    has = np.zeros((N_ITEMS, 3), dtype=bool)
    has[:10, [0, 1]] = True
    has[10:20, 2] = True
    has[20:, 1] = True
    model._labels_of_items = has
    monkeypatch.setattr(model, "label_probabilities", lambda seen: np.array([[0.5, 0.55, 0.4]] * len(seen)))
    monkeypatch.setattr(model, "score_sequences", lambda seen, items=None: np.zeros((len(seen), N_ITEMS)))
    # From the next-item head alone (28 unseen items, each 1/28): label 1 covers 18, then label 2 adds
    # 10 and label 0 nothing.
    order, gains = model.top_labels([np.array([3, 4])], 3, joint=1.0)
    assert order.tolist() == [[1, 2, 0]] and gains[0].tolist() == pytest.approx([18 / 28, 10 / 28, 0.0])
    # Mixed half and half with the label head's independent labels: the first gain is
    # (18/28 + 0.55) / 2; then label 2 adds (10/28 + 0.4 x 0.45) / 2 and label 0 (0 + 0.5 x 0.45) / 2.
    order, gains = model.top_labels([np.array([3, 4])], 3, joint=0.5)
    assert order.tolist() == [[1, 2, 0]]
    expected = [(18 / 28 + 0.55) / 2, (10 / 28 + 0.4 * 0.45) / 2, 0.5 * 0.45 * 0.6 / 2]
    assert gains[0].tolist() == pytest.approx(expected)
    # The label head alone (joint 0, or an untrained next-item head) keeps its own order and probabilities.
    order, gains = model.top_labels([np.array([3, 4])], 3, joint=0.0)
    assert order.tolist() == [[1, 0, 2]] and gains.tolist() == [[0.55, 0.5, 0.4]]
    monkeypatch.setattr(model, "config", model.config.model_copy(update={"item_weight": 0.0}))
    assert model.top_labels([np.array([3, 4])], 3, joint=1.0)[0].tolist() == [[1, 0, 2]]


def test_intent_stage_without_a_label_head_is_a_config_error(walk_env):
    with pytest.raises(ConfigError, match=r"'multitask-head'.*label head.*off.*'brand'"):
        MultiTaskIntentHead({**SMALL, "epochs": 1, "label_field": "brand"}).prepare(walk_env)


# ---- config bounds fail at load -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("genre_weight", 11.0, "less than or equal to 10"),
        ("rating_weight", -0.5, "greater than or equal to 0"),
        ("cb_beta", 1.0, "less than 1"),
        ("focal_gamma", 20.0, "less than or equal to 10"),
        ("weighting", "magic", "'fixed' or 'uncertainty'"),
        ("genre_loss", "hinge", "'bce', 'class-balanced' or 'focal'"),
    ],
)
def test_out_of_range_knobs_fail_when_the_config_loads(tiny_catalog_file, option, value, says):
    cfg = tiny_config_dict(tiny_catalog_file)
    cfg["scorers"]["mt"] = {"component": "sasrec-multitask", "config": {option: value}}
    with pytest.raises(ConfigError, match=rf"{option}.*{says}"):
        parse_config(cfg)


def test_all_task_weights_zero_fails_at_load(tiny_catalog_file):
    cfg = tiny_config_dict(tiny_catalog_file)
    cfg["intent"] = {
        "component": "multitask-head",
        "config": {"item_weight": 0.0, "genre_weight": 0.0, "rating_weight": 0.0},
    }
    with pytest.raises(ConfigError, match=r"all 0: at least one task needs a weight in \(0, 10\]"):
        parse_config(cfg)


# ---- the contracts ---------------------------------------------------------------------------------


class TestMultiTaskInteractions(InteractionScorerTests):
    component = MultiTaskSasRecScorer
    config: ClassVar[dict] = {**SMALL, "epochs": 30}
    train_method = "_train"


class TestMultiTaskScorerContract(ScorerContract):
    component = NAME
    config: ClassVar[dict] = {"max_len": 4, "hidden": 8, "heads": 2, "layers": 1, "epochs": 2, "batch_size": 8}
    needs_interactions = True


class TestMultiTaskHeadContract(IntentContract):
    component = "multitask-head"
    config: ClassVar[dict] = {"max_len": 4, "hidden": 8, "heads": 2, "layers": 1, "epochs": 2, "batch_size": 8}
    needs_interactions = True
