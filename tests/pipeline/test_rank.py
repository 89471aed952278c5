"""One ranker: the batched ranking the harness uses ranks as ``Pipeline.run`` does, cold start included."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from genre.core.errors import InputError
from genre.core.types import HistoryEvent, UserContext
from genre.pipeline.rank import encode_users, rank_users, score_matrices, user_contexts
from tests.conftest import ROOT


def test_batched_ranking_equals_the_runs_of_the_pipeline(clustered_pipeline, clustered):
    pipe = clustered_pipeline(attribution={"enabled": False})
    names = [f"c{c}u{u}" for c in range(4) for u in range(3)]
    contexts = user_contexts(clustered.interactions, clustered, names)
    contexts[1] = contexts[1].model_copy(update={"history": contexts[1].history[:1]})  # a short history
    contexts.append(UserContext())  # a cold start: popularity alone, in both
    contexts.append(UserContext(profile="thing 2"))  # a profile alone is not a cold start
    states, intents = encode_users(pipe.context, pipe.intent, contexts)
    k = 7
    top = rank_users(pipe.ranker, states, intents, k, score_matrices(pipe.scorers, states, intents))
    assert top.shape == (len(contexts), k)
    for row, ctx in enumerate(contexts):
        trace = pipe.run(ctx, k=k, reasons=False)
        assert [clustered.items[int(i)].item_id for i in top[row]] == [item.item_id for item in trace.items]
    cold = pipe.run(UserContext(), k=k)
    assert cold.cold_start and cold.scorers == ["popularity"]


def test_batched_ranking_pads_short_candidate_lists(clustered_pipeline, clustered):
    pipe = clustered_pipeline(rerank=[])
    everything = [HistoryEvent(item_id=item.item_id) for item in clustered.items[:-3]]
    contexts = [UserContext(history=everything)]
    states, intents = encode_users(pipe.context, pipe.intent, contexts)
    top = rank_users(pipe.ranker, states, intents, 5, score_matrices(pipe.scorers, states, intents))
    assert sorted(top[0][:3].tolist()) == [len(clustered) - 3, len(clustered) - 2, len(clustered) - 1]
    assert top[0][3:].tolist() == [-1, -1]


def test_cold_start_without_popularity_signal_names_the_reason(tiny_catalog_file, cache):
    from genre.config import parse_config
    from genre.pipeline import Pipeline
    from tests.conftest import HashEmbedder, tiny_config_dict

    data = {"loader": "jsonl", "path": str(tiny_catalog_file), "name": "tiny"}  # no popularity field
    cfg = tiny_config_dict(
        tiny_catalog_file, data=data, scorers={"content": {"component": "content"}}, fusion={"component": "weighted"}
    )
    pipe = Pipeline(parse_config(cfg), embedder_factory=lambda device: HashEmbedder())
    assert pipe.run(UserContext(profile="coffee")).items  # only a cold start needs popularity
    with pytest.raises(InputError, match="no popularity signal to fall back on: scorer 'popularity' needs"):
        pipe.run(UserContext())


def test_the_learned_fusion_fit_and_the_ranker_import_no_evaluation():
    code = (
        "import sys; import genre.pipeline.fit, genre.pipeline.rank, genre.pipeline; "
        "print(sorted(m for m in sys.modules if m.startswith('genre.evaluation')))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_user_contexts_are_each_users_events_oldest_first(clustered):
    (ctx,) = user_contexts(clustered.interactions, clustered, ["c1u3"])
    inter = clustered.interactions.for_user("c1u3")
    assert ctx.user_id == "c1u3"
    assert [e.item_id for e in ctx.history] == [clustered.items[int(i)].item_id for i in inter.item_index]
    stamps = [e.timestamp.timestamp() for e in ctx.history]
    assert stamps == sorted(stamps) and np.allclose(stamps, inter.timestamps)
