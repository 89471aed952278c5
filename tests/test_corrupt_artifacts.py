"""Every trained component: corrupt saved state is retrained, re-saved and reported, never a crash."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import genre.data
from genre.components.env import Env, WarmStart
from genre.components.intent import TrainedIntentHead
from genre.components.scorers.bpr import BprScorer
from genre.components.scorers.collaborative import EaseScorer, ItemKNNScorer
from genre.components.scorers.sasrec import SasRecScorer
from genre.config import parse_config
from genre.core.artifacts import MANIFEST, verify
from genre.core.types import Catalog, Intent, UserContext, UserState
from genre.data.profiles import interactions_to_context
from genre.pipeline import Pipeline
from tests.conftest import HashEmbedder, clustered_catalog
from tests.test_intent_head import HEAD, cycling_catalog

SMALL_HEAD = {**HEAD, "epochs": 2, "hidden": 8}

SCORERS = {
    "bpr": (BprScorer, {"dims": 8, "epochs": 5, "seed": 3}),
    "itemknn": (ItemKNNScorer, {"neighbors": 10}),
    "ease": (EaseScorer, {"l2": 10.0}),
    "sasrec": (SasRecScorer, {"hidden": 16, "heads": 1, "layers": 1, "max_len": 8, "epochs": 3, "dropout": 0.0}),
}


def _env(catalog: Catalog, **kwargs) -> Env:
    return Env(catalog, "cpu", lambda device: HashEmbedder(), **kwargs)


def _truncate_data_files(folder: Path) -> list[str]:
    """Cut every file but the manifest to half its size, as a full disk would; the names cut."""
    cut = []
    for path in sorted(folder.iterdir()):
        if path.name != MANIFEST:
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
            cut.append(path.name)
    assert cut
    return cut


def _assert_retrained_notice(notices: list[str], what: str, folder: Path, fallback: str = "retrained") -> None:
    assert len(notices) == 1, notices
    assert notices[0].startswith(f"{what} at {folder} was unreadable (")
    assert "bytes, expected" in notices[0] and notices[0].endswith(f"; {fallback}.")


def _scores(scorer, catalog: Catalog) -> np.ndarray:
    seen = [np.array(h, dtype=np.int64) for h in ([0, 1, 2], [10, 11], [35])]
    states = [UserState(UserContext(), s, np.full(s.size, 1.0 / s.size), None, seen_index=s) for s in seen]
    return scorer.score_users(states, [Intent()] * len(states), np.arange(len(catalog)))


@pytest.mark.parametrize("name", list(SCORERS))
def test_a_corrupt_scorer_artifact_is_retrained_with_a_notice(name, cache):
    cls, cfg = SCORERS[name]
    catalog = clustered_catalog()
    first = cls(cfg)
    first_env = _env(catalog)
    first.prepare(first_env)
    ((logged, folder),) = first_env.artifact_log
    assert logged == name and verify(folder) is not None
    _truncate_data_files(folder)

    env = _env(catalog)
    again = cls(cfg)
    again.prepare(env)
    _assert_retrained_notice(env.notices, f"Trained state of {name}", folder)
    assert verify(folder) is not None  # retrained state saved whole
    np.testing.assert_allclose(_scores(again, catalog), _scores(first, catalog), rtol=1e-5, atol=1e-6)

    # Saved again: the next build loads it quietly.
    quiet = _env(catalog)
    cls(cfg).prepare(quiet)
    assert quiet.notices == []


def test_a_corrupt_warm_start_trains_from_scratch_with_a_notice(cache):
    _, cfg = SCORERS["bpr"]
    catalog = clustered_catalog()
    source = _env(catalog)
    BprScorer(cfg).prepare(source)
    ((_, folder),) = source.artifact_log
    _truncate_data_files(folder)
    grown = clustered_catalog(users_per_cluster=41)  # other interactions: no saved state of its own
    env = _env(grown, warm_start=WarmStart(source, epochs=2))
    scorer = BprScorer(cfg)
    scorer.prepare(env)
    _assert_retrained_notice(env.notices, "Warm-start state of bpr", folder, "trained from scratch")
    (own,) = [f for n, f in env.artifact_log if n == "bpr"]
    assert verify(own) is not None
    meta = (own / "meta.json").read_text()
    assert "warm_start" not in meta and meta.count(",") >= cfg["epochs"]  # a full cold run: one loss per epoch


def test_a_corrupt_intent_head_is_retrained_with_a_notice(cache):
    catalog = cycling_catalog(users=12, events=6)
    first_env = _env(catalog)
    first = TrainedIntentHead(SMALL_HEAD)
    first.prepare(first_env)
    (folder,) = [f for n, f in first_env.artifact_log if n == "trained-head"]
    assert _truncate_data_files(folder) == ["card.json", "model.safetensors"]
    env = _env(catalog)
    again = TrainedIntentHead(SMALL_HEAD)
    again.prepare(env)
    _assert_retrained_notice(env.notices, "Trained state of trained-head", folder)
    assert again.card["labels"] == first.card["labels"] and verify(folder) is not None
    for a, b in zip(again.model.state_dict().values(), first.model.state_dict().values(), strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_corrupt_item_embeddings_are_recomputed_with_a_notice(tiny_catalog, monkeypatch):
    monkeypatch.setattr(genre.data, "_embedding_memo", {})
    first = _env(tiny_catalog).item_vectors.copy()
    (folder,) = list(_env(tiny_catalog).store.root.glob("tiny-*/embeddings-v1-*"))
    assert verify(folder) is not None
    _truncate_data_files(folder)
    monkeypatch.setattr(genre.data, "_embedding_memo", {})  # a new process: only the disk copy is left
    env = _env(tiny_catalog)
    np.testing.assert_allclose(env.item_vectors, first)
    _assert_retrained_notice(env.notices, "Item embeddings of tiny", folder, "recomputed")
    assert verify(folder) is not None


def _fusion_config(tmp_path: Path):
    stand_in = tmp_path / "stand-in.jsonl"  # validation only: the pipeline gets the catalog directly
    stand_in.write_text('{"item_id": "x", "title": "X"}\n')
    return parse_config(
        {
            "name": "clustered-learned",
            "device": "cpu",
            "k": 5,
            "data": {"loader": "jsonl", "path": str(stand_in)},
            "scorers": {"popularity": {"component": "popularity"}, "ease": {"component": "ease"}},
            "fusion": {"component": "learned", "config": {"max_users": 40}},
            "attribution": {"enabled": False},
        }
    )


def test_corrupt_state_reaches_every_run_trace_and_the_learned_fusion_refits(tmp_path, cache):
    catalog = clustered_catalog()
    cfg = _fusion_config(tmp_path)
    first = Pipeline(cfg, catalog=catalog, embedder_factory=lambda device: HashEmbedder())
    assert first.build_notices == []
    fusion_folder, ease_folder = Path(first.artifact_paths["fusion"]), Path(first.artifact_paths["scorers.ease"])
    assert _truncate_data_files(fusion_folder) == ["weights.json"]
    _truncate_data_files(ease_folder)

    pipe = Pipeline(cfg, catalog=catalog, embedder_factory=lambda device: HashEmbedder())
    assert pipe.fusion.weights == first.fusion.weights and verify(fusion_folder) is not None
    notices = [n for n in pipe.build_notices if "was unreadable" in n]
    assert len(notices) == 2
    assert notices[0].startswith(f"Trained state of ease at {ease_folder} was unreadable (")
    assert notices[1].startswith(f"Trained state of learned-fusion at {fusion_folder} was unreadable (")
    for _ in range(2):  # repeated in every run, not only the first
        trace = pipe.run(interactions_to_context(catalog, "c0u1"))
        assert [n for n in trace.notices if "was unreadable" in n] == notices
        assert len(trace.items) == 5
