"""Building: capabilities checked once against the declared protocols, progress and cancel per epoch."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from genre.components.env import Env
from genre.components.intent import TrainedIntentHead
from genre.components.scorers import BprScorer, PopularityScorer, SasRecScorer
from genre.core.errors import BuildCancelled
from genre.core.types import HistoryEvent, UserContext, UserState
from genre.pipeline.explain import TransformerEmbedder
from tests.conftest import HashEmbedder


class LookingScorer(PopularityScorer):
    """Declares ``Attends``: every item looks only at the newest history item."""

    def attention(self, state: UserState, items: np.ndarray) -> dict[int, np.ndarray]:
        n = min(state.seen_index.size, 2)
        return {int(i): np.eye(n)[-1] if n else np.zeros(0) for i in items}


def test_capabilities_are_read_from_the_protocols_once_when_built(tiny_pipeline_with):
    looking = {"component": "tests.pipeline.test_build:LookingScorer", "config": {"count_label": "reviews"}}
    pipe = tiny_pipeline_with(scorers={"popularity": looking, "content": {"component": "content"}})
    caps = pipe.capabilities
    assert dict(caps.attending) == {"popularity": pipe.scorers["popularity"]}
    assert caps.primes_profiles is pipe.context  # the recency encoder batches profile texts
    assert caps.prompt_attention is None and caps.template_reasons
    trace = pipe.run(UserContext(history=[HistoryEvent(item_id="a"), HistoryEvent(item_id="f")]), k=2)
    for item in trace.items:
        assert set(item.attention) == {"popularity"}  # content does not attend
        assert item.attention["popularity"].item_ids == ["a", "f"]
        assert item.attention["popularity"].weights == [0.0, 1.0]


def test_a_stand_in_embedder_is_no_transformer_so_no_profile_attention_is_shown(tiny_pipeline):
    assert not isinstance(HashEmbedder(), TransformerEmbedder)
    trace = tiny_pipeline.run(UserContext(profile="I camp. I cook."))
    assert trace.profile_attention is None
    assert ("explain", "profile-attention") not in {(t.stage, t.component) for t in trace.timings}


def test_the_packaged_embedder_class_declares_its_transformer():
    from genre.models import Embedder

    assert isinstance(Embedder(model=None, device="cpu"), TransformerEmbedder)


@pytest.mark.parametrize(
    ("component", "stage"),
    [
        (lambda: BprScorer({"dims": 8, "epochs": 5}), "training bpr"),
        (lambda: SasRecScorer({"hidden": 8, "heads": 1, "layers": 1, "epochs": 5}), "training sasrec"),
        (lambda: TrainedIntentHead({"hidden": 8, "epochs": 5}), "training the intent head"),
    ],
    ids=["bpr", "sasrec", "intent-head"],
)
def test_training_reports_each_epoch_and_stops_at_the_next_one_when_cancelled(tiny_cf_env: Env, component, stage):
    cancel = threading.Event()
    seen: list[tuple[str, float]] = []

    def progress(what: str, fraction: float) -> None:
        seen.append((what, fraction))
        if len(seen) == 2:
            cancel.set()  # during the second epoch

    tiny_cf_env.on_progress, tiny_cf_env.cancel = progress, cancel
    with pytest.raises(BuildCancelled, match=f"cancelled while {stage}"):
        component().prepare(tiny_cf_env)
    assert seen == [(stage, 0.0), (stage, 0.2)]
    # Nothing half-trained was saved: the next build trains from scratch.
    trained = [p for _, p in tiny_cf_env.artifact_log if p.exists() and any(p.iterdir())]
    assert trained == []


def test_without_cancel_every_epoch_is_reported_once(tiny_cf_env: Env):
    seen: list[float] = []
    tiny_cf_env.on_progress = lambda what, fraction: seen.append(fraction)
    BprScorer({"dims": 8, "epochs": 4}).prepare(tiny_cf_env)
    assert seen == [0.0, 0.25, 0.5, 0.75]
