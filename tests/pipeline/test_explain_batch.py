"""Deferred reasons written in batches, rows reported as they land; generator attention only when asked."""

from __future__ import annotations

import pytest

from genre.components.reasoners.local import LocalLLMReasoner
from genre.core.component import ReasonBatch, Reasoner
from genre.core.errors import InputError
from genre.core.types import HistoryEvent, ReasonOut, ReasonRequest, UserContext
from genre.pipeline import Pipeline
from genre.pipeline.explain import FIRST_BATCH

CALLS: list[list[str]] = []
"""Per reasoner call, the item ids it was asked to write for."""


class CountingReasoner(Reasoner):
    """Stands in for a slow generator: one faithful sentence per item, every call recorded."""

    def __call__(self, requests: list[ReasonRequest], *, seed: int | None = None) -> ReasonBatch:
        CALLS.append([r.item.item_id for r in requests])
        return ReasonBatch(
            [
                ReasonOut(
                    text=f"Because you liked {r.history[0].title if r.history else 'them'}, try {r.item.title}.",
                    generator="counting",
                )
                for r in requests
            ],
            notices=[f"counting wrote {len(requests)} reasons"],
        )


COUNTING = {"component": "tests.pipeline.test_explain_batch:CountingReasoner"}
LIGHT = {
    "scorers": {"popularity": {"component": "popularity"}, "itemknn": {"component": "itemknn"}},
    "fusion": {"component": "weighted", "config": {"weights": {"itemknn": 1.0, "popularity": 0.1}}},
    "rerank": [],
}
"""The clustered config without its sequential scorer: ten items to explain, nothing slow to train."""
USER = UserContext(history=[HistoryEvent(item_id="i000"), HistoryEvent(item_id="i001")])


@pytest.fixture
def ten(clustered_pipeline) -> Pipeline:
    CALLS.clear()
    return clustered_pipeline(**LIGHT, explain=COUNTING, k=10)


def test_ten_pending_reasons_take_at_most_two_batched_calls_and_each_row_is_reported(ten):
    trace = ten.run(USER, reasons=False)
    assert CALLS == [] and trace.pending_reasons == list(range(1, 11))
    seen: list[tuple[int, str, list[int]]] = []

    def landed(item) -> None:
        # When a row is reported its reason and verdict are already in the trace.
        seen.append((item.rank, item.reason.generator, list(trace.pending_reasons)))
        assert item.reason.verdict is not None and item.reason.faithful is item.reason.verdict.passed

    assert ten.explain_items(trace, on_reason=landed) == list(range(1, 11))
    assert len(CALLS) <= 2 and sum(len(c) for c in CALLS) == 10
    assert [len(c) for c in CALLS] == [FIRST_BATCH, 10 - FIRST_BATCH]
    assert CALLS[0] == [trace.items[0].item_id]  # the top of the list is written first
    assert [rank for rank, _, _ in seen] == list(range(1, 11))
    assert all(generator == "counting" for _, generator, _ in seen)
    assert seen[0][2] == list(range(FIRST_BATCH + 1, 11))  # the first batch left pending before the rest ran
    assert trace.pending_reasons == [] and all(i.generator_attention is None for i in trace.items)
    # Each call's notices reach the trace.
    assert {"counting wrote 1 reasons", "counting wrote 9 reasons"} <= set(trace.notices)


def test_without_a_callback_all_pending_reasons_are_one_call(ten):
    trace = ten.run(USER, reasons=False)
    assert ten.explain_items(trace) == list(range(1, 11))
    assert [len(c) for c in CALLS] == [10]


def test_iter_reasons_writes_lazily_and_stopping_early_keeps_the_rest_pending(ten):
    trace = ten.run(USER, reasons=False)
    rows = ten.iter_reasons(trace, first_batch=3)
    assert CALLS == []  # nothing is generated until the caller asks for the first row
    first = next(rows)
    assert first.rank == 1 and first.reason.generator == "counting"
    assert [len(c) for c in CALLS] == [3] and trace.pending_reasons == list(range(4, 11))
    assert [next(rows).rank, next(rows).rank] == [2, 3]
    rows.close()
    assert [len(c) for c in CALLS] == [3]
    assert all(i.reason.generator == "template" for i in trace.items[3:])
    # The rest are written later in one call.
    assert [i.rank for i in ten.iter_reasons(trace, first_batch=0)] == list(range(4, 11))
    assert [len(c) for c in CALLS] == [3, 7] and trace.pending_reasons == []


def test_reasons_written_before_come_first_without_the_model(ten):
    first = ten.run(USER, reasons=False)
    ten.explain_items(first, [2, 5])  # generated once, now cached
    CALLS.clear()
    trace = ten.run(USER, reasons=False)
    order = [i.rank for i in ten.iter_reasons(trace)]
    assert order[:2] == [2, 5] and sorted(order) == list(range(1, 11))
    assert [len(c) for c in CALLS] == [FIRST_BATCH, 8 - FIRST_BATCH]
    assert [i.reason.text for i in trace.items] == [i.reason.text for i in ten.run(USER).items]


def test_only_the_asked_pending_ranks_are_written(ten):
    trace = ten.run(USER, reasons=False)
    assert [i.rank for i in ten.iter_reasons(trace, [7, 3, 7, 42])] == [7, 3]
    assert trace.pending_reasons == [1, 2, 4, 5, 6, 8, 9, 10]
    assert [i.rank for i in ten.iter_reasons(trace, [3])] == []  # already written


# ---- generator attention: only when asked ------------------------------------------------------


@pytest.fixture
def local_llm(tiny_pipeline_with, monkeypatch) -> tuple[Pipeline, list[int]]:
    """A local-llm pipeline on the tiny GPT-2 stand-in; the list counts generator-attention rows computed."""
    from tests.explain.test_attention import tiny_gpt2

    gpt2 = tiny_gpt2()
    monkeypatch.setattr(
        "genre.components.reasoners.local.load_generator", lambda device, path=None, precision="auto": gpt2
    )
    # Random weights write noise; a fixed continuation keeps the reasons readable and model-written.
    monkeypatch.setattr(
        LocalLLMReasoner,
        "_generate",
        lambda self, texts, prefixes, seed: [", a fine pick for your trips."] * len(texts),
    )
    rows: list[int] = []
    original = LocalLLMReasoner.generator_attention

    def counted(self, requests, reasons):
        rows.append(len(requests))
        return original(self, requests, reasons)

    monkeypatch.setattr(LocalLLMReasoner, "generator_attention", counted)
    return tiny_pipeline_with(explain={"component": "local-llm"}), rows


CAMPER = UserContext(history=[HistoryEvent(item_id="a")])


def test_generator_attention_is_not_computed_unless_asked(local_llm):
    pipe, rows = local_llm
    trace = pipe.run(CAMPER)
    assert all(i.reason.generator == "local-llm" for i in trace.items)
    assert rows == [] and all(i.generator_attention is None for i in trace.items)
    assert ("explain", "generator-attention") not in {(t.stage, t.component) for t in trace.timings}
    deferred = pipe.run(CAMPER, reasons=False)
    pipe.explain_items(deferred, on_reason=lambda item: None)
    assert rows == [] and all(i.generator_attention is None for i in deferred.items)
    # Asked for in the run, it is computed for every item and timed.
    full = pipe.run(CAMPER, generator_attention=True)
    assert rows == [3] and all(i.generator_attention is not None for i in full.items)
    assert ("explain", "generator-attention") in {(t.stage, t.component) for t in full.timings}


def test_generator_attention_for_one_item_sums_to_one_and_stays_on_the_item(local_llm):
    pipe, rows = local_llm
    trace = pipe.run(CAMPER, reasons=False)
    assert pipe.generator_attention(trace, 2) is None  # still pending: the model has not written it
    pipe.explain_items(trace)
    shares = pipe.generator_attention(trace, 2)
    assert rows == [1]  # one item, one forward pass
    assert shares is not None and sum(shares.values()) == pytest.approx(1.0, abs=1e-4)
    assert all(v >= 0 for v in shares.values()) and any(label.startswith("item: ") for label in shares)
    assert trace.items[1].generator_attention == shares
    assert trace.items[0].generator_attention is None and trace.items[2].generator_attention is None
    assert pipe.generator_attention(trace, 2) == shares and rows == [1]  # kept, not computed again
    # The same shares as a run that computes every item's attention.
    full = pipe.run(CAMPER, generator_attention=True)
    assert full.items[1].generator_attention == pytest.approx(shares, abs=1e-4)


def test_generator_attention_of_a_rank_not_in_the_run_names_the_valid_ranks(local_llm):
    pipe, _ = local_llm
    trace = pipe.run(CAMPER)
    with pytest.raises(InputError, match="rank 4 is not in this run; its ranks are 1 to 3"):
        pipe.generator_attention(trace, 4)


def test_a_template_pipeline_has_no_generator_attention(tiny_pipeline):
    trace = tiny_pipeline.run(CAMPER)
    assert tiny_pipeline.generator_attention(trace, 1) is None
