"""One shared pipeline, run from eight threads at once, gives every user the trace a lone run gives."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from genre.core.component import ReasonBatch, Reasoner
from genre.core.types import Constraints, HistoryEvent, ReasonOut, ReasonRequest, RunTrace, UserContext
from genre.pipeline import Pipeline
from tests.conftest import ROOT

THREADS = 8
ROUNDS = 4


class EchoReasoner(Reasoner):
    """A generating reasoner stand-in: deterministic text, so its reasons go through the reason cache."""

    name = "echo"

    def __call__(self, requests: list[ReasonRequest], *, seed: int | None = None) -> ReasonBatch:
        reasons = [
            ReasonOut(
                text=f"Because you liked {r.history[0].title}, try {r.item.title}." if r.history else r.item.title,
                generator=self.name,
            )
            for r in requests
        ]
        return ReasonBatch(reasons)


def comparable(trace: RunTrace) -> dict[str, Any]:
    """Everything a trace says except what differs between two runs by design (id, clock, stage times)."""
    return trace.model_dump(mode="json", exclude={"run_id", "created_at", "timings"})


def _threaded_then_sequential(pipe: Pipeline, users: list[UserContext]) -> tuple[list[list[dict]], list[dict]]:
    """Each user's traces from ``THREADS`` threads started together (``ROUNDS`` runs each), then from
    lone runs on emptied caches, so the threads raced on empty caches and the lone runs compute afresh."""
    start = threading.Barrier(len(users))

    def work(n: int) -> list[dict]:
        start.wait()
        return [comparable(pipe.run(users[n])) for _ in range(ROUNDS)]

    with ThreadPoolExecutor(len(users)) as pool:
        threaded = list(pool.map(work, range(len(users))))  # re-raises any thread's exception
    pipe._score_cache.clear()
    pipe._reason_cache.clear()
    return threaded, [comparable(pipe.run(u)) for u in users]


TINY_USERS = [
    UserContext(history=[HistoryEvent(item_id="a")], profile="camping"),
    UserContext(history=[HistoryEvent(item_id="f"), HistoryEvent(item_id="g")]),
    UserContext(profile="I cook at home. I also brew coffee every morning."),
    UserContext(),  # cold start: popularity only
    UserContext(history=[HistoryEvent(item_id="d")], constraints=Constraints(price_max=100)),
    UserContext(history=[HistoryEvent(item_id="b"), HistoryEvent(item_id="c")], profile="mountains"),
    UserContext(history=[HistoryEvent(item_id="h")], profile="writing outdoors"),
    UserContext(history=[HistoryEvent(item_id="e"), HistoryEvent(item_id="a"), HistoryEvent(item_id="f")]),
]


def test_threads_sharing_the_tiny_pipeline_get_the_sequential_traces(tiny_pipeline_with):
    pipe = tiny_pipeline_with(explain={"component": "tests.pipeline.test_concurrency:EchoReasoner"})
    threaded, sequential = _threaded_then_sequential(pipe, TINY_USERS)
    for n, runs in enumerate(threaded):
        for trace in runs:
            assert trace == sequential[n]
    # The runs really differ per user.
    assert len({str(t["items"]) for t in sequential}) == len(TINY_USERS)
    warm = sequential[0]
    assert warm["items"][0]["reason"]["generator"] == "echo"
    assert warm["items"][0]["reason"]["text"].startswith("Because you liked Alpine Tent")
    assert sequential[3]["cold_start"] and sequential[3]["scorers"] == ["popularity"]


def test_threads_sharing_a_sequential_pipeline_get_the_sequential_traces(clustered_pipeline, clustered):
    from genre.pipeline.rank import user_contexts

    pipe = clustered_pipeline()
    users = user_contexts(clustered.interactions, clustered, [f"c{c}u{u}" for c in range(4) for u in (0, 1)])
    # Half the users are unknown to the training data: the same history under another name.
    users = [u if n % 2 else u.model_copy(update={"user_id": None}) for n, u in enumerate(users)]
    threaded, sequential = _threaded_then_sequential(pipe, users)
    for n, runs in enumerate(threaded):
        for trace in runs:
            assert trace == sequential[n]
    first = sequential[0]["items"][0]
    assert first["attention"]["sasrec"]["weights"]  # the attending scorer's view is in every trace
    assert len({str(t["items"]) for t in sequential}) == len(users)


@pytest.mark.integration
@pytest.mark.slow
def test_threads_sharing_the_movies_pipeline_get_the_sequential_traces():
    from genre import load_config
    from genre.data.profiles import interactions_to_context

    pipe = Pipeline(load_config(ROOT / "configs" / "movies.toml"))
    users = [interactions_to_context(pipe.catalog, str(u)) for u in range(1, THREADS + 1)]
    threaded, sequential = _threaded_then_sequential(pipe, users)
    for n, runs in enumerate(threaded):
        for trace in runs:
            assert trace == sequential[n]
    assert all(len(t["items"]) == 10 for t in sequential)
