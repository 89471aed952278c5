"""The feedback simulation's core (bench/feedback_sim.py) on a tiny synthetic dataset."""

from __future__ import annotations

import numpy as np

from bench.feedback_sim import sample_users, simulate, to_markdown
from genre.config import parse_config
from genre.core.types import Catalog, Interactions, Item
from genre.data.splits import temporal_split
from genre.feedback.store import FeedbackStore
from genre.feedback.versions import VersionRegistry
from genre.pipeline import Pipeline
from genre.training.feedback_update import update_models
from tests.conftest import HashEmbedder


def drifting_catalog(n_clusters: int = 4, per_cluster: int = 15, users_per_cluster: int = 12, seed: int = 3) -> Catalog:
    """Users who watched six items of one cluster and then move on to the next cluster (six more)."""
    gen = np.random.default_rng(seed)
    items = [
        Item(item_id=f"i{c}{j:02d}", title=f"Item {c}-{j}", categories=(f"c{c}",))
        for c in range(n_clusters)
        for j in range(per_cluster)
    ]
    users, idx, ts = [], [], []
    for a in range(n_clusters):
        b = (a + 1) % n_clusters
        for u in range(users_per_cluster):
            old = gen.choice(per_cluster, 6, replace=False) + a * per_cluster
            new = gen.choice(per_cluster, 6, replace=False) + b * per_cluster
            for t, i in enumerate([*old, *new]):
                users.append(f"a{a}u{u}")
                idx.append(int(i))
                ts.append(1.7e9 + 86400.0 * t + u)
    inter = Interactions(np.array(users), np.array(idx, dtype=np.int64), np.array(ts), np.full(len(idx), 4.0))
    return Catalog(name="drift", items=items, interactions=inter)


def test_feedback_makes_the_second_round_better(tmp_path, cache):
    catalog = drifting_catalog()
    split = temporal_split(catalog.interactions, 0.34)  # the last 4 of 12 events: all in the new cluster
    train = catalog.with_interactions(split.train)
    stand_in = tmp_path / "items.jsonl"
    stand_in.write_text('{"item_id": "x", "title": "X"}\n')
    cfg = parse_config(
        {
            "name": "drift",
            "device": "cpu",
            "k": 4,
            "data": {"loader": "jsonl", "path": str(stand_in)},
            "scorers": {"ease": {"component": "ease", "config": {"l2": 5.0}}},
            "fusion": {"component": "weighted"},
            "attribution": {"enabled": False},
        }
    )
    embedder = lambda device: HashEmbedder()  # noqa: E731
    pipe = Pipeline(cfg, catalog=train, embedder_factory=embedder)
    users = sample_users(split, 30, seed=1)
    assert len(users) == 30 and users == sorted(users)

    def retrained(events):
        with FeedbackStore(f"sqlite:///{tmp_path / 'fb.sqlite3'}") as store:
            store.add_events(events)
            version = update_models(
                cfg, store, catalog=train, embedder_factory=embedder, registry=VersionRegistry("drift", tmp_path / "v")
            )
        return Pipeline(cfg, catalog=train, embedder_factory=embedder, version=version)

    results = simulate(pipe, split, users, rounds=2, k=4, retrained=retrained)
    first, second, final = results
    assert (first.round, second.round, final.round) == (1, 2, 3)
    # Round 1 is the same list in both arms; from round 2 the feedback arm knows what the user liked.
    assert first.ndcg_with == first.ndcg_without and first.users_with == first.users_without == 30
    assert second.ndcg_with > second.ndcg_without
    assert second.ndcg_with > 0 and second.hits_with >= second.hits_without
    assert final.ndcg_retrained is not None and final.seconds_retrained is not None
    assert 0.0 <= final.ndcg_retrained <= 1.0
    table = to_markdown(results, 4)
    assert table.count("\n") == 4 and "| 3 |" in table and "NDCG@4 with feedback" in table
