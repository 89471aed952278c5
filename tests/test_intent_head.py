"""The trained intent head: learns the next item's category, is cached, and is measured honestly."""

from __future__ import annotations

import json
from typing import ClassVar

import numpy as np
import pytest

from genre import cli
from genre.components.context import RecencyContextEncoder
from genre.components.env import Env
from genre.components.intent import TrainedIntentHead, next_item_label_counts
from genre.config import load_config, parse_config
from genre.core.errors import ConfigError
from genre.core.types import Catalog, HistoryEvent, Interactions, Item, UserContext
from genre.data.splits import temporal_split
from genre.evaluation import harness
from tests.conftest import ROOT, HashEmbedder, tiny_config_dict

KINDS = ("alpine", "baking", "cinema")
# Tiny data: small batches and a short half-life so the newest item decides.
HEAD = {"half_life_items": 1.0, "epochs": 30, "batch_size": 32, "hidden": 32, "seed": 3}


def cycling_catalog(users: int = 60, events: int = 12, per_kind: int = 10, seed: int = 5) -> Catalog:
    """Users walk alpine -> baking -> cinema -> alpine ... from a random start, a new random item each step.

    Every category is equally frequent, so the majority class is right about a third of the time,
    while the newest history item's category determines the next one.
    """
    gen = np.random.default_rng(seed)
    items = [
        Item(item_id=f"{k}{j}", title=f"{kind.title()} pick {j}", categories=(kind,), description=f"all about {kind}")
        for k, kind in enumerate(KINDS)
        for j in range(per_kind)
    ]
    uid, idx, ts = [], [], []
    for u in range(users):
        start = int(gen.integers(len(KINDS)))
        order = [gen.permutation(per_kind) for _ in KINDS]  # no repeats: splits drop repeated events
        for t in range(events):
            kind = (start + t) % len(KINDS)
            uid.append(f"u{u}")
            idx.append(kind * per_kind + int(order[kind][t // len(KINDS)]))
            ts.append(1_700_000_000.0 + 3600.0 * t + u)
    inter = Interactions(np.array(uid), np.array(idx, dtype=np.int64), np.array(ts), np.full(len(idx), 4.0))
    return Catalog(name="cycling", items=items, interactions=inter)


def _env(catalog: Catalog) -> Env:
    return Env(catalog, "cpu", lambda device: HashEmbedder())


def _state(env: Env, item_ids: list[str], profile: str = ""):
    enc = RecencyContextEncoder()
    enc.prepare(env)
    return enc(UserContext(history=[HistoryEvent(item_id=i) for i in item_ids], profile=profile))


@pytest.fixture
def cycling(cache) -> Catalog:
    return cycling_catalog()


def test_head_predicts_the_next_category_and_its_intent_lives_in_label_space(cycling):
    env = _env(cycling)
    head = TrainedIntentHead(HEAD)
    head.prepare(env)
    assert head.labels == sorted(KINDS)
    intent = head(_state(env, ["00", "13", "25", "02"]))  # alpine, baking, cinema, alpine -> baking
    assert intent.source == "trained-head"
    assert intent.labels[0].label == "baking" and intent.labels[0].probability > 0.8
    probs = [lab.probability for lab in intent.labels]
    assert len(probs) == 3 and probs == sorted(probs, reverse=True) and sum(probs) == pytest.approx(1, abs=1e-3)
    # The vector is a unit mix of label embeddings (as zero-shot's), nearest to the top label.
    y = np.asarray(intent.vector)
    assert np.linalg.norm(y) == pytest.approx(1.0)
    assert int(np.argmax(head.label_vectors @ y)) == head.labels.index("baking")
    assert head(_state(env, [])).labels == []  # no history, no profile: no intent


def test_head_beats_the_majority_baseline_in_the_harness(cycling, monkeypatch):
    monkeypatch.setattr(harness, "load_catalog", lambda cfg: cycling)
    monkeypatch.setattr("genre.pipeline.runner.load_embedder", lambda device: HashEmbedder())
    monkeypatch.setattr(Env, "embedder_factory", staticmethod(lambda device: HashEmbedder()))
    cfg = parse_config(
        {
            "name": "cycling-intent",
            "device": "cpu",
            "data": {"loader": "movielens-100k"},  # replaced by the synthetic catalog above
            "intent": {"component": "trained-head", "config": HEAD},
            "scorers": {"popularity": {"component": "popularity"}},
        }
    )
    report = harness.evaluate([cfg], protocol="T")
    (acc,) = report.extras["intent_accuracy"]
    assert acc["config"] == "cycling-intent" and acc["users"] == 60 and acc["label_field"] == "categories"
    assert acc["top1"] >= 0.9 and acc["majority_top1"] <= 0.5
    assert acc["top3"] == 1.0 and acc["majority_top3"] == 1.0  # three categories: top-3 always hits
    assert json.loads(report.to_json())["extras"]["intent_accuracy"][0]["top1"] == acc["top1"]


class SpyHead(TrainedIntentHead):
    """Records the (user, item) pairs the head was trained on."""

    seen: ClassVar[list[set[tuple[str, int]]]] = []

    def prepare(self, env: Env) -> None:
        inter = env.catalog.interactions
        SpyHead.seen.append(set(zip(inter.user_ids.tolist(), inter.item_index.tolist(), strict=True)))
        super().prepare(env)


def test_harness_head_never_sees_test_interactions_and_flag_measures_default_head(cycling, monkeypatch):
    monkeypatch.setattr(harness, "load_catalog", lambda cfg: cycling)
    monkeypatch.setattr("genre.pipeline.runner.load_embedder", lambda device: HashEmbedder())
    monkeypatch.setattr(Env, "embedder_factory", staticmethod(lambda device: HashEmbedder()))
    base = {"name": "plain", "device": "cpu", "data": {"loader": "movielens-100k"}}
    base["scorers"] = {"popularity": {"component": "popularity"}}
    assert "intent_accuracy" not in harness.evaluate([parse_config(base)]).extras

    SpyHead.seen.clear()
    spied = {**base, "intent": {"component": "tests.test_intent_head:SpyHead", "config": HEAD}}
    harness.evaluate([parse_config(spied)])
    split = temporal_split(cycling.interactions, 0.2)
    test_pairs = set(zip(split.test.user_ids.tolist(), split.test.item_index.tolist(), strict=True))
    assert len(SpyHead.seen) == 1 and SpyHead.seen[0] and not SpyHead.seen[0] & test_pairs

    (acc,) = harness.evaluate([parse_config(base)], intent_head=True).extras["intent_accuracy"]
    assert acc["config"] == "plain (default trained-head)" and acc["users"] == 60


def test_majority_baseline_counts_next_items_only():
    items = [Item("a", "A", ("x",)), Item("b", "B", ("y", "x")), Item("c", "C", ("z",))]
    inter = Interactions(
        np.array(["u", "u", "u", "v", "v"]), np.array([2, 0, 1, 2, 2]), np.arange(5.0), np.full(5, np.nan)
    )
    # u: c -> a -> b, v: c -> c; each user's first event is never a "next" item.
    assert next_item_label_counts(Catalog("t", items), inter) == {"x": 2, "y": 1, "z": 1}


def test_second_prepare_loads_the_cached_head(cycling, monkeypatch):
    env = _env(cycling)
    first = TrainedIntentHead(HEAD)
    first.prepare(env)
    card = first.card
    assert card["params"]["embedder"] == "hash-test" and card["epochs"] == 30
    assert card["data"]["interactions_fingerprint"] == cycling.interactions.fingerprint
    assert len(card["train_loss"]) == 30 and card["train_loss"][-1] < card["train_loss"][0]

    def no_training(self, inter, progress):
        raise AssertionError("the second prepare retrained instead of loading the cache")

    monkeypatch.setattr(TrainedIntentHead, "_train", no_training)
    again = TrainedIntentHead(HEAD)
    again.prepare(_env(cycling))
    states = [_state(env, ["00", "13"]), _state(env, ["25"], profile="baking"), _state(env, [], profile="cinema")]
    np.testing.assert_array_equal(first.predict_proba(states), again.predict_proba(states))
    assert again(states[0]) == first(states[0]) and again.card == card

    with pytest.raises(AssertionError, match="retrained"):  # other parameters: another cache entry
        TrainedIntentHead({**HEAD, "seed": 4}).prepare(_env(cycling))


def test_products_catalog_has_no_interactions_so_the_head_says_to_use_zero_shot(cache):
    data = load_config(ROOT / "configs" / "products.toml").model_dump(mode="json", exclude_none=True)
    data["intent"] = {"component": "trained-head"}
    from genre.pipeline import Pipeline

    with pytest.raises(ConfigError, match=r"'trained-head'.*products catalog has none.*'zero-shot'"):
        Pipeline(parse_config(data), embedder_factory=lambda device: HashEmbedder())


def test_label_field_without_two_labels_is_a_config_error(cycling):
    with pytest.raises(ConfigError, match=r"'brand'.*0 distinct.*label_field"):
        TrainedIntentHead({"label_field": "brand"}).prepare(_env(cycling))


def test_config_typo_lists_the_valid_keys(tiny_catalog_file):
    cfg = tiny_config_dict(tiny_catalog_file, intent={"component": "trained-head", "config": {"hiden": 64}})
    with pytest.raises(ConfigError, match=r"\[intent\.config\] unknown key 'hiden'; valid keys: label_field, hidden"):
        parse_config(cfg)
    with pytest.raises(ConfigError, match=r"'epochs'"):
        parse_config(tiny_config_dict(tiny_catalog_file, intent={"component": "trained-head", "config": {"epochs": 0}}))


def test_cli_prints_head_accuracy_beside_the_baseline(cycling, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(harness, "load_catalog", lambda cfg: cycling)
    monkeypatch.setattr("genre.pipeline.runner.load_embedder", lambda device: HashEmbedder())
    monkeypatch.setattr(Env, "embedder_factory", staticmethod(lambda device: HashEmbedder()))
    path = tmp_path / "c.toml"
    path.write_text(
        'name = "c"\ndevice = "cpu"\n[data]\nloader = "movielens-100k"\n'
        '[scorers.popularity]\ncomponent = "popularity"\n'
    )
    assert cli.main(["evaluate", "--config", str(path), "--intent-accuracy"]) == 0
    out = capsys.readouterr().out
    assert "c (default trained-head): intent head top-1 accuracy" in out
    assert "(majority-class baseline 0." in out and "60 users); top-3" in out


@pytest.mark.integration
def test_head_beats_majority_on_movielens_protocol_t():
    cfg = parse_config(
        {
            "name": "movies-intent-check",
            "device": "cpu",
            "data": {"loader": "movielens-100k"},
            "context": {"component": "recency", "config": {"half_life_days": 30.0, "max_history": 200}},
            "intent": {"component": "trained-head"},
            "scorers": {"popularity": {"component": "popularity"}},
        }
    )
    (acc,) = harness.evaluate([cfg], protocol="T").extras["intent_accuracy"]
    assert acc["users"] > 900
    assert acc["top1"] > acc["majority_top1"] + 0.03
    assert acc["majority_labels"][0] == "Drama"
