"""Cross-modal SASRec: items the training data never saw are scored by their text; the gate and ID dropout."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest
import torch

from genre.components.env import Env
from genre.components.scorers.crossmodal import CrossModalScorer
from genre.components.scorers.crossmodal_net import CrossModalNet
from genre.components.scorers.sasrec import SasRecScorer
from genre.config import parse_config
from genre.core.errors import ConfigError
from genre.core.types import Catalog, Intent, Interactions, Item, UserContext, UserState
from tests.conftest import HashEmbedder
from tests.contract.base import ScorerContract
from tests.scorers.test_contract import InteractionScorerTests
from tests.scorers.test_sasrec import SMALL as SASREC_SMALL

WORDS = [
    "apple", "banana", "cherry", "damson", "elder", "fig", "grape", "guava", "kiwi", "lemon",
    "mango", "melon", "olive", "peach", "pear", "plum", "quince", "raisin", "sloe", "tomato",
    "ugli", "vanilla",
]  # fmt: skip
GROUP = {"alpha": range(0, 10), "beta": range(10, 20)}
COLD = {"alpha": 20, "beta": 21}
"""Items 20 and 21 have text like their group's and no interactions at all."""
SMALL = {**SASREC_SMALL, "epochs": 15}
"""SASRec's small model, trained a little longer so the text path has learned the groups."""


def _group_of(i: int) -> str:
    return "alpha" if i in GROUP["alpha"] or i == COLD["alpha"] else "beta"


@pytest.fixture
def two_group_catalog(rng) -> Catalog:
    # The group word three times: items of one group are close in text (cosine 0.9), the groups orthogonal.
    items = [
        Item(item_id=f"i{i:02d}", title=f"{_group_of(i)} {_group_of(i)} {_group_of(i)} {WORDS[i]}") for i in range(22)
    ]
    users, index, stamps = [], [], []
    for u in range(160):
        group = GROUP["alpha"] if u % 2 else GROUP["beta"]
        picks = rng.choice(np.array(group), size=int(rng.integers(4, 9)), replace=False)
        users += [f"u{u}"] * picks.size
        index += picks.tolist()
        stamps += (1e9 + 3600.0 * np.arange(picks.size) + u).tolist()
    inter = Interactions(np.array(users), np.array(index, dtype=np.int64), np.array(stamps), np.full(len(index), 4.0))
    return Catalog("two-groups", items, inter)


@pytest.fixture
def env(two_group_catalog, cache) -> Env:
    return Env(two_group_catalog, "cpu", embedder_factory=lambda device: HashEmbedder())


def _trained(env: Env, **overrides: object) -> CrossModalScorer:
    s = CrossModalScorer({**SMALL, **overrides})
    s.prepare(env)
    return s


def _state(seen: list[int]) -> UserState:
    index = np.asarray(seen, dtype=np.int64)
    return UserState(UserContext(), index, np.full(index.size, 1.0 / index.size), None, seen_index=index)


@pytest.mark.parametrize("gate", ["hybrid", "count"])
def test_a_never_seen_item_is_scored_by_its_text(env, gate):
    # Not the plain learned gate: it may keep some weight on a never-trained ID, whose vector the
    # softmax only ever pushed away; the count prior is what guarantees such an item is its text.
    scorer = _trained(env, gate=gate)
    cold = np.array([COLD["alpha"], COLD["beta"]])
    for group, other in (("alpha", "beta"), ("beta", "alpha")):
        history = list(GROUP[group])[:5]
        scores = scorer(_state(history), Intent(), cold).scores
        assert np.isfinite(scores).all()
        by_item = dict(zip(cold.tolist(), scores.tolist(), strict=True))
        assert by_item[COLD[group]] > by_item[COLD[other]], f"{gate}: a {group} history prefers the {other} cold item"


def test_without_text_the_id_only_model_cannot_tell_the_cold_items_apart(env):
    # The same check on plain SASRec: the two cold items' vectors are untrained, so their order is not by group.
    sasrec = SasRecScorer(SMALL)
    sasrec.prepare(env)
    crossmodal = _trained(env)
    cold = np.array([COLD["alpha"], COLD["beta"]])
    gaps = []
    for model in (sasrec, crossmodal):
        alpha = model(_state(list(GROUP["alpha"])[:5]), Intent(), cold).scores
        beta = model(_state(list(GROUP["beta"])[:5]), Intent(), cold).scores
        # How far the cold items' order moves with the history's group, relative to the scores' spread.
        gaps.append(((alpha[0] - alpha[1]) - (beta[0] - beta[1])) / (np.abs(np.r_[alpha, beta]).mean() + 1e-9))
    assert gaps[1] > 5 * abs(gaps[0])


def test_the_count_prior_makes_an_item_without_events_pure_text(env):
    scorer = _trained(env, gate="count", shrinkage=4.0)
    counts = np.bincount(env.catalog.interactions.item_index, minlength=22)
    np.testing.assert_allclose(scorer.gate_values(np.arange(22)), counts / (counts + 4.0), rtol=1e-6)
    net = scorer.model
    assert isinstance(net, CrossModalNet)
    with torch.no_grad():
        text = net.project(net.text)[1:]
        np.testing.assert_allclose(net.item_vectors()[20:].numpy(), text[20:].numpy(), rtol=1e-6, atol=1e-7)


def test_the_learned_gate_opens_per_item_and_hybrid_stays_under_the_count_prior(env):
    learned = _trained(env, gate="learned").gate_values(np.arange(22))
    assert ((learned > 0) & (learned < 1)).all() and np.ptp(learned) > 0
    hybrid = _trained(env, gate="hybrid", shrinkage=4.0).gate_values(np.arange(22))
    counts = np.bincount(env.catalog.interactions.item_index, minlength=22)
    assert (hybrid <= counts / (counts + 4.0) + 1e-6).all()
    assert hybrid[20] == hybrid[21] == 0.0


def _net(id_dropout: float, gate: str = "learned", **kwargs: object) -> CrossModalNet:
    torch.manual_seed(0)
    text = torch.nn.functional.normalize(torch.randn(12, 6), dim=1)
    counts = torch.arange(12, dtype=torch.float32)
    return CrossModalNet(
        12, 8, 4, 1, 2, 0.0, text=text, counts=counts, gate=gate, projection="mlp", id_dropout=id_dropout, shrinkage=2.0,
        **kwargs,
    )  # type: ignore[arg-type]  # fmt: skip


def test_residual_fusion_keeps_the_whole_text_and_adds_the_earned_id():
    net = _net(0.0, gate="count", fusion="residual").eval()
    with torch.no_grad():
        prior = torch.arange(12.0) / (torch.arange(12.0) + 2.0)
        expected = prior[:, None] * net.items.weight[1:] + net.project(net.text)[1:]
        torch.testing.assert_close(net.item_vectors(), expected)
        gated = _net(0.0, gate="count").eval()
        expected = prior[:, None] * gated.items.weight[1:] + (1 - prior[:, None]) * gated.project(gated.text)[1:]
        torch.testing.assert_close(gated.item_vectors(), expected)


def test_logit_adjustment_shifts_only_the_training_logits_by_the_capped_log_prior():
    net = _net(0.0, logit_adjustment=0.5, adjustment_cap=4.0).eval()
    hidden = torch.randn(3, 8)
    with torch.no_grad():
        plain = hidden @ net.item_vectors().T
        offset = 0.5 * torch.log1p(torch.arange(12.0).clamp(max=4.0))
        torch.testing.assert_close(net.training_logits(hidden), plain + offset)
        assert offset[4:].unique().numel() == 1  # above the cap every item is shifted alike
        torch.testing.assert_close(_net(0.0).training_logits(hidden), hidden @ _net(0.0).item_vectors().T)


def test_id_dropout_hides_the_same_ids_on_both_sides_of_a_training_step():
    net = _net(id_dropout=0.5).train()
    tokens = torch.tensor([[0, 1, 2, 3], [4, 5, 6, 7]])
    with torch.no_grad():
        net(tokens)
        keep = net._keep
        assert keep is not None and 0 < keep[1:].sum() < 12
        text = net.project(net.text)
        table = net.table()
        dropped = (keep == 0).nonzero().ravel()
        dropped = dropped[dropped > 0]
        torch.testing.assert_close(table[dropped], text[dropped])
        torch.testing.assert_close(net.item_vectors(), table[1:])
        torch.testing.assert_close(net.input_vectors(tokens), table[tokens])
        assert table[0].abs().sum() == 0  # padding stays zero
        net.eval()
        a, b = net.table(), net.table()
        torch.testing.assert_close(a, b)
        kept = (keep == 1).nonzero().ravel()
        kept = kept[kept > 0]
        assert not torch.allclose(a[kept], text[kept])  # at inference every item keeps its ID


def test_artifacts_are_its_own_and_keyed_by_the_text_embedder(env):
    scorer = _trained(env)
    params = scorer._artifact_params()
    assert params["text_embedder"] == HashEmbedder.name and params["gate"] == "hybrid"
    folder = env.artifact_dir("sasrec-crossmodal", params, CrossModalScorer.ARTIFACT_VERSION)
    assert (folder / "model.safetensors").is_file()
    assert scorer(_state([0, 1]), Intent(), np.array([2])).name == "sasrec-crossmodal"
    assert len(scorer.explain(_state([0, 1, 2]), np.array([20]))[20]) == 3


@pytest.mark.parametrize(
    ("knob", "value", "message"),
    [
        ("id_dropout", 1.5, "less than or equal to 0.9"),
        ("shrinkage", 0.0, "greater than 0"),
        ("gate", "maybe", "'learned', 'count' or 'hybrid'"),
        ("projection", "deep", "'linear' or 'mlp'"),
        ("fusion", "sum", "'gated' or 'residual'"),
        ("logit_adjustment", 2.5, "less than or equal to 2"),
        ("adjustment_cap", 0.5, "greater than or equal to 1"),
        ("heads", 3, "heads"),
    ],
)
def test_an_out_of_range_knob_fails_at_config_load(knob, value, message):
    cfg = {
        "name": "x",
        "data": {"loader": "movielens-100k"},
        "scorers": {"xm": {"component": "sasrec-crossmodal", "config": {"hidden": 16, knob: value}}},
    }
    with pytest.raises(ConfigError, match=knob) as exc:
        parse_config(cfg)
    assert message in str(exc.value)


class TestCrossModalContract(InteractionScorerTests):
    component = CrossModalScorer
    config: ClassVar[dict] = SMALL
    train_method = "_train"


class TestCrossModalStageContract(ScorerContract):
    component = "sasrec-crossmodal"
    config: ClassVar[dict] = {"max_len": 4, "hidden": 8, "heads": 2, "layers": 1, "epochs": 2, "batch_size": 8}
    needs_interactions = True
