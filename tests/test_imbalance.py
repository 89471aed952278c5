"""Imbalance handling: class-balanced weights and focal losses by hand, the trained head's loss option,
and macro accuracy beside top-1/top-3 against the majority baseline."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from genre.components.env import Env
from genre.components.imbalance import class_balanced_weights, example_weights, multilabel_loss, softmax_loss
from genre.components.intent import TrainedIntentHead
from genre.config import parse_config
from genre.core.errors import ConfigError
from genre.core.types import Catalog, Interactions, Item, UserContext, UserState
from genre.data.splits import Split
from genre.evaluation.intent_accuracy import LabelHead, intent_accuracy
from tests.conftest import HashEmbedder, tiny_config_dict


def test_class_balanced_weights_by_hand():
    # beta 0.9: n=1 -> 0.1 / (1 - 0.9) = 1; n=10 -> 0.1 / (1 - 0.9**10); unseen -> 0; scaled to sum 2.
    raw = np.array([1.0, 0.1 / (1 - 0.9**10), 0.0])
    np.testing.assert_allclose(class_balanced_weights(np.array([1, 10, 0]), 0.9), raw * 2 / raw.sum())
    np.testing.assert_allclose(class_balanced_weights(np.array([1, 10, 0]), 0.0), [1.0, 1.0, 0.0])
    # beta -> 1 approaches inverse frequency.
    w = class_balanced_weights(np.array([10, 1000]), 0.99999)
    assert w[0] / w[1] == pytest.approx(100, rel=0.01)
    with pytest.raises(ValueError, match=r"beta must be in \[0, 1\); got 1.0"):
        class_balanced_weights(np.array([1]), 1.0)


def test_example_weight_is_the_mean_of_its_labels_weights():
    targets = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 0], [0.5, 0, 0.5]])
    np.testing.assert_allclose(example_weights(targets, np.array([0.5, 1.5, 3.0])), [0.5, 1.0, 0.0, 1.75])


def test_focal_losses_by_hand():
    logits = torch.tensor([[0.0, math.log(3.0)]])  # sigmoid: 0.5 and 0.75
    targets = torch.tensor([[1.0, 0.0]])
    # BCE: -log 0.5 - log 0.25; focal gamma 2: 0.5^2 * -log 0.5 + 0.75^2 * -log 0.25.
    assert float(multilabel_loss(logits, targets)[0]) == pytest.approx(math.log(2) + math.log(4))
    assert float(multilabel_loss(logits, targets, 2.0)[0]) == pytest.approx(0.25 * math.log(2) + 0.5625 * math.log(4))
    # Softmax over [0, log 3]: p = (0.25, 0.75); soft target (0.5, 0.5).
    soft = torch.tensor([[0.5, 0.5]])
    plain = 0.5 * math.log(4) + 0.5 * math.log(4 / 3)
    assert float(softmax_loss(logits, soft)[0]) == pytest.approx(plain)
    focal = 0.5 * 0.75**2 * math.log(4) + 0.5 * 0.25**2 * math.log(4 / 3)
    assert float(softmax_loss(logits, soft, 2.0)[0]) == pytest.approx(focal)


def _skewed_catalog(users: int = 80, events: int = 10, seed: int = 3) -> Catalog:
    """Next items are alpine 85% of the time and baking 15%, whatever came before: only the prior matters."""
    gen = np.random.default_rng(seed)
    items = [Item(f"a{j}", f"Alpine {j}", ("alpine",), "all about alpine") for j in range(20)]
    items += [Item(f"b{j}", f"Baking {j}", ("baking",), "all about baking") for j in range(20)]
    uid, idx, ts = [], [], []
    for u in range(users):
        for t in range(events):
            kind = 0 if gen.random() < 0.85 else 1
            uid.append(f"u{u}")
            idx.append(kind * 20 + int(gen.integers(20)))
            ts.append(1e9 + 3600.0 * t + u)
    inter = Interactions(np.array(uid), np.array(idx, dtype=np.int64), np.array(ts), np.full(len(idx), 4.0))
    return Catalog("skewed", items, inter)


HEAD = {"epochs": 15, "batch_size": 64, "hidden": 16, "seed": 3}


def test_class_balanced_and_focal_heads_give_the_rare_class_more_probability(cache):
    catalog = _skewed_catalog()
    env = Env(catalog, "cpu", lambda device: HashEmbedder())
    states = [
        UserState(UserContext(), np.array([i]), np.ones(1), None, seen_index=np.array([i])) for i in range(0, 40, 3)
    ]
    baking = {}
    for loss in ("ce", "class-balanced", "focal"):
        head = TrainedIntentHead({**HEAD, "loss": loss})
        head.prepare(env)
        baking[loss] = float(head.predict_proba(states)[:, head.labels.index("baking")].mean())
        assert head.card["params"].get("loss") == (None if loss == "ce" else loss)
    assert baking["ce"] < 0.3  # the plain head learns the prior
    assert baking["class-balanced"] > baking["ce"] + 0.2  # reweighed towards balance
    assert baking["focal"] > baking["ce"]


def test_plain_cross_entropy_keeps_the_artifact_key_it_had_before_the_loss_option():
    before = {
        "label_field": "categories",
        "hidden": 128,
        "epochs": 8,
        "batch_size": 256,
        "lr": 2e-3,
        "weight_decay": 1e-2,
        "dropout": 0.2,
        "max_history": 50,
        "half_life_items": 3.0,
        "examples_per_user": 50,
        "seed": 42,
    }
    assert TrainedIntentHead().config.artifact_params() == before
    assert TrainedIntentHead({"loss": "focal"}).config.artifact_params() == {
        **before,
        "loss": "focal",
        "focal_gamma": 2.0,
    }


@pytest.mark.parametrize(
    ("option", "value"), [("loss", "hinge"), ("cb_beta", 1.0), ("cb_beta", -0.1), ("focal_gamma", 11.0)]
)
def test_out_of_range_loss_knobs_fail_at_load(tiny_catalog_file, option, value):
    cfg = tiny_config_dict(tiny_catalog_file, intent={"component": "trained-head", "config": {option: value}})
    with pytest.raises(ConfigError, match=option):
        parse_config(cfg)


class FixedHead:
    """A label head whose ranking is given: labels x, y, z; every user gets the same probabilities."""

    label_field = "categories"

    def __init__(self, probs: list[float]) -> None:
        self.labels = ["x", "y", "z"]
        self.probs = np.array(probs)

    def predict_proba(self, states: list[UserState]) -> np.ndarray:
        return np.tile(self.probs, (len(states), 1))

    def top_labels(self, states: list[UserState], k: int) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort(-self.probs, kind="stable")[:k]
        return np.tile(order, (len(states), 1)), np.tile(self.probs[order], (len(states), 1))


def test_macro_accuracy_is_the_mean_per_label_top1_recall():
    items = [Item("a", "A", ("x",)), Item("b", "B", ("y",)), Item("c", "C", ("x", "z"))]
    catalog = Catalog("t", items)
    # Training next-items: u a -> a -> c, v b -> a: x three times, z once.
    train = Interactions(
        np.array(["u", "u", "u", "v", "v"]), np.array([0, 0, 2, 1, 0]), np.arange(5.0), np.full(5, np.nan)
    )
    split = Split(train, train, "temporal")
    targets = [0, 1, 2, 2]  # labels {x}, {y}, {x, z}, {x, z}
    states = [UserState(UserContext(), np.array([0]), np.ones(1), None, seen_index=np.array([0]))] * 4
    head = FixedHead([0.1, 0.2, 0.7])  # always z first, then y, then x
    assert isinstance(head, LabelHead)
    acc = intent_accuracy("c", head, catalog, split, states, targets)
    assert (acc.top1, acc.top3) == (0.5, 1.0)  # z is right for the two c's
    # Recall of the first label per target label: x 0/3, y 0/1, z 2/2 -> macro 1/3.
    assert acc.macro == pytest.approx(round(1 / 3, 4))
    # Majority: x first -> x 3/3, y 0/1, z 0/2 -> 1/3; top-1 3/4.
    assert acc.majority_labels == ["x", "z"] and acc.majority_top1 == 0.75
    assert acc.majority_macro == pytest.approx(round(1 / 3, 4))
    assert "macro 0.333 (baseline 0.333)" in acc.summary() and acc.head == "FixedHead"
