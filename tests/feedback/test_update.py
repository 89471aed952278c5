"""Retraining from stored feedback: model versions, rollback, warm start and explicit negatives."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from genre.config import parse_config
from genre.core.errors import InputError
from genre.data.profiles import interactions_to_context
from genre.feedback.store import FeedbackStore
from genre.feedback.versions import VersionRegistry, dataset_user, fold_feedback
from genre.pipeline import Pipeline
from genre.training.feedback_update import update_models
from tests.conftest import HashEmbedder, clustered_catalog

T0 = datetime(2026, 3, 1, tzinfo=UTC)
BPR = {"dims": 8, "epochs": 20, "seed": 3}
SASREC = {"hidden": 16, "heads": 1, "layers": 1, "max_len": 10, "epochs": 6, "dropout": 0.0}


def config(tmp_path: Path, **scorers: dict) -> object:
    catalog_file = tmp_path / "stand-in.jsonl"  # validation only: every pipeline here gets the catalog directly
    catalog_file.write_text('{"item_id": "x", "title": "X"}\n')
    return parse_config(
        {
            "name": "clustered-feedback",
            "device": "cpu",
            "k": 5,
            "data": {"loader": "jsonl", "path": str(catalog_file)},
            "scorers": scorers or {"bpr": {"component": "bpr", "config": BPR}, "ease": {"component": "ease"}},
            "fusion": {"component": "weighted"},
            "attribution": {"enabled": False},
        }
    )


@pytest.fixture
def catalog(cache):
    return clustered_catalog()


@pytest.fixture
def store(tmp_path):
    with FeedbackStore(f"sqlite:///{tmp_path / 'feedback.sqlite3'}") as s:
        yield s


def build(cfg, catalog, **kwargs) -> Pipeline:
    return Pipeline(cfg, catalog=catalog, embedder_factory=lambda device: HashEmbedder(), **kwargs)


def update(cfg, catalog, store, **kwargs):
    return update_models(cfg, store, catalog=catalog, embedder_factory=lambda device: HashEmbedder(), **kwargs)


def ranking(pipe: Pipeline, catalog, user: str = "c0u1") -> list[tuple[str, float, float | None]]:
    trace = pipe.run(interactions_to_context(catalog, user), k=10)
    return [(i.item_id, i.score, i.scores["bpr"]) for i in trace.items]


def like(store, user, *items, minutes=0, kind="like", value=None):
    for n, item in enumerate(items):
        store.add_event(user, item, kind, value, created_at=T0 + timedelta(minutes=minutes + n))


def test_update_adds_feedback_as_interactions_and_makes_a_new_current_version(tmp_path, catalog, store):
    cfg = config(tmp_path)
    base = build(cfg, catalog)
    like(store, "c0u1", "i100", "i101")  # a dataset user, by its own id
    like(store, "clustered:c1u2", "i300")  # the explorer's key for a dataset user
    like(store, "zoe", "i200")  # someone new
    like(store, "zoe", "i201", kind="rating", value=5.0)
    like(store, "c0u2", "i205", kind="rating", value=3.0)  # neutral: adds nothing
    like(store, "c0u1", "i001", kind="dislike")

    version = update(cfg, catalog, store)

    assert version.version_id == "v1" and version.parent is None
    assert (version.positives, version.negatives, version.users, version.new_users) == (5, 1, 3, 1)
    assert version.feedback_events == 7 and version.warm_start_epochs == 3
    registry = VersionRegistry(cfg.name)
    assert registry.current_id() == "v1"

    pipe = build(cfg, catalog)  # no version named: the current one, since it was made from this catalog
    assert pipe.model_version == "v1" and base.model_version is None
    inter = pipe.catalog.interactions
    assert len(inter) == len(catalog.interactions) + 5
    tail = zip(
        inter.user_ids[-5:].tolist(), inter.item_index[-5:].tolist(), inter.timestamps[-5:].tolist(), strict=True
    )
    added = {(user, item): when for user, item, when in tail}
    index = catalog.index_of
    zoe = store.user_key("zoe")  # a new user joins the data under the pseudonym the store keeps
    assert set(added) == {
        ("c0u1", index("i100")), ("c0u1", index("i101")), ("c1u2", index("i300")),
        (zoe, index("i200")), (zoe, index("i201")),
    }  # fmt: skip
    assert added[("c0u1", index("i101"))] == (T0 + timedelta(minutes=1)).timestamp()  # at the feedback's own time
    assert pipe.run(interactions_to_context(catalog, "c0u1")).model_version == "v1"

    # The new version's artifacts are its own and differ from the base training's.
    for where in ("scorers.bpr", "scorers.ease"):
        new, old = Path(version.artifacts[where]), Path(base.artifact_paths[where])
        assert new != old and new.is_relative_to(registry.folder / "v1") and new.is_dir() and old.is_dir()
    new_bpr = load_file(Path(version.artifacts["scorers.bpr"]) / "factors.safetensors")
    old_bpr = load_file(Path(base.artifact_paths["scorers.bpr"]) / "factors.safetensors")
    assert new_bpr["users"].shape[0] == old_bpr["users"].shape[0] + 1  # zoe has a row now
    assert not np.allclose(new_bpr["items"], old_bpr["items"])


def test_rollback_restores_the_previous_versions_scores_exactly(tmp_path, catalog, store):
    cfg = config(tmp_path)
    before = ranking(build(cfg, catalog), catalog)
    like(store, "c0u1", "i100", "i101", "i102")
    v1 = update(cfg, catalog, store)
    after_v1 = ranking(build(cfg, catalog), catalog)
    assert after_v1 != before

    like(store, "c0u1", "i103", "i104", minutes=10)
    v2 = update(cfg, catalog, store)
    assert (v2.version_id, v2.parent) == ("v2", "v1")
    after_v2 = ranking(build(cfg, catalog), catalog)
    assert after_v2 != after_v1

    registry = VersionRegistry(cfg.name)
    registry.set_current("v1")
    assert ranking(build(cfg, catalog), catalog) == after_v1
    registry.set_current("base")
    assert build(cfg, catalog).model_version is None
    assert ranking(build(cfg, catalog), catalog) == before
    # Every version stays loadable by name, whichever is current.
    assert ranking(build(cfg, catalog, version="v2"), catalog) == after_v2
    assert v1.folder.is_dir() and v2.folder.is_dir()


def test_versions_are_listed_in_order_and_unknown_ones_are_named(tmp_path, catalog, store):
    cfg = config(tmp_path)
    like(store, "c0u1", "i100")
    update(cfg, catalog, store)
    like(store, "c0u3", "i101", minutes=5)
    update(cfg, catalog, store)
    registry = VersionRegistry(cfg.name)
    versions = registry.list()
    assert [(v.version_id, v.parent, v.feedback_events) for v in versions] == [("v1", None, 1), ("v2", "v1", 2)]
    assert versions[0].data_hash != versions[1].data_hash and registry.current_id() == "v2"
    assert all(v.created_at.tzinfo is not None and v.artifacts for v in versions)
    with pytest.raises(InputError, match=r"no model version 'v9'; versions: v1, v2"):
        registry.set_current("v9")
    with pytest.raises(InputError, match="v9"):
        build(cfg, catalog, version="v9")
    assert registry.current_id() == "v2"


def test_an_update_without_new_feedback_changes_nothing_unless_forced(tmp_path, catalog, store):
    cfg = config(tmp_path)
    with pytest.raises(InputError, match="no item feedback"):
        update(cfg, catalog, store)
    like(store, "c0u1", "i100")
    assert update(cfg, catalog, store).version_id == "v1"
    assert update(cfg, catalog, store) is None
    assert [v.version_id for v in VersionRegistry(cfg.name).list()] == ["v1"]
    assert update(cfg, catalog, store, force=True).version_id == "v2"


def test_a_version_made_from_other_data_is_not_applied_to_this_one(tmp_path, catalog, store):
    cfg = config(tmp_path)
    like(store, "c0u1", "i100")
    update(cfg, catalog, store)
    other = clustered_catalog(seed=11)  # e.g. an evaluation split: the version was not made from it
    assert build(cfg, other).model_version is None
    with pytest.raises(InputError, match="other data"):
        build(cfg, other, version="v1")


def test_bpr_warm_start_continues_from_the_saved_weights(tmp_path, catalog, store):
    cfg = config(tmp_path)
    base = build(cfg, catalog)
    like(store, "c0u1", "i100", "i101", "i102")
    like(store, "zoe", "i200", "i201")
    version = update(cfg, catalog, store, epochs=4)
    meta = json.loads((Path(version.artifacts["scorers.bpr"]) / "meta.json").read_text())
    assert meta["warm_start"] == {"from": base.artifact_paths["scorers.bpr"], "epochs": 4}
    assert len(meta["loss"]) == 4

    # A cold start on exactly the same data (the version's catalog, trained as plain data) starts higher.
    augmented = build(cfg, catalog, version="v1").catalog
    cold = build(cfg, augmented)
    assert cold.model_version is None
    cold_meta = json.loads((Path(cold.artifact_paths["scorers.bpr"]) / "meta.json").read_text())
    assert "warm_start" not in cold_meta and len(cold_meta["loss"]) == BPR["epochs"]
    assert meta["loss"][0] < cold_meta["loss"][0]
    assert meta["loss"][0] < 0.8 * cold_meta["loss"][0]


def test_sasrec_warm_start_continues_from_the_saved_weights(tmp_path, catalog, store):
    cfg = config(tmp_path, sasrec={"component": "sasrec", "config": SASREC})
    base = build(cfg, catalog)
    like(store, "c0u1", "i003", "i004")
    like(store, "c2u5", "i201")
    version = update(cfg, catalog, store, epochs=2)
    meta = json.loads((Path(version.artifacts["scorers.sasrec"]) / "meta.json").read_text())
    assert meta["warm_start"] == {"from": base.artifact_paths["scorers.sasrec"], "epochs": 2}
    assert meta["epochs"] == 2 and len(meta["loss"]) == 2
    cold = build(cfg, build(cfg, catalog, version="v1").catalog)
    cold_meta = json.loads((Path(cold.artifact_paths["scorers.sasrec"]) / "meta.json").read_text())
    assert meta["loss"][0] < cold_meta["loss"][0]


def test_bpr_treats_dislikes_as_explicit_negatives(tmp_path, catalog, store):
    cfg = config(tmp_path, bpr={"component": "bpr", "config": BPR})
    user = "c0u1"
    seen = {catalog.items[int(i)].item_id for i in catalog.interactions.for_user(user).item_index}
    disliked = sorted(seen)[:2]  # items the user has in the data: no longer positives for BPR
    base = build(cfg, catalog)
    like(store, user, *disliked, kind="dislike")
    version = update(cfg, catalog, store, epochs=15)
    assert version.negatives == 2 and version.positives == 0
    meta = json.loads((Path(version.artifacts["scorers.bpr"]) / "meta.json").read_text())
    assert meta["explicit_negatives"] == 2

    def score_rank(pipe: Pipeline, item_id: str) -> int:
        bpr = pipe.scorers["bpr"]
        row = bpr.user_factors[bpr.user_rows[user]]
        scores = bpr.item_factors @ row + bpr.item_bias
        return int((scores > scores[catalog.index_of(item_id)]).sum())

    # Before: among the user's top 4 of 40 items. After: pushed below most of their own cluster's items.
    after = build(cfg, catalog)
    for item in disliked:
        assert score_rank(base, item) < 4 and score_rank(after, item) >= 5, item


def test_fold_feedback_keeps_the_latest_event_per_user_and_item(catalog):
    from genre.feedback import FeedbackEvent

    def ev(user, item, kind, minutes, value=None):
        return FeedbackEvent(
            user=user, item_id=item, kind=kind, value=value, created_at=T0 + timedelta(minutes=minutes)
        )

    folded = fold_feedback(
        catalog,
        [
            ev("c0u1", "i100", "like", 0), ev("c0u1", "i100", "dislike", 1),  # changed their mind: negative
            ev("c0u1", "i101", "dislike", 0), ev("c0u1", "i101", "rating", 2, 4.0),  # now a positive, rated
            ev("c0u1", "nope", "like", 0),  # not in the catalog
            ev("c0u1", "i102", "click", 3),
        ],
    )  # fmt: skip
    assert folded.positives.item_index.tolist() == [catalog.index_of("i101"), catalog.index_of("i102")]
    assert folded.positives.ratings[0] == 4.0 and np.isnan(folded.positives.ratings[1])
    assert folded.negatives.item_index.tolist() == [catalog.index_of("i100")]
    assert (folded.events, folded.ignored, folded.users, folded.new_users) == (6, 1, 1, 0)
    known = {"1", "196"}
    assert dataset_user("196", catalog, known) == "196"
    assert dataset_user("clustered:196", catalog, known) == "196"
    assert dataset_user("movies:profile:196", catalog, known) == "movies:profile:196"
    assert dataset_user("explorer", catalog, known) == "explorer"
