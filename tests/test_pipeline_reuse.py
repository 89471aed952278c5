"""Component reuse across configs, the reason cache and deferred reasons."""

from __future__ import annotations

from genre.config import parse_config
from genre.core.component import ReasonBatch, Reasoner
from genre.core.types import HistoryEvent, ReasonOut, ReasonRequest, UserContext
from genre.pipeline import Pipeline
from tests.conftest import HashEmbedder, tiny_config_dict

CALLS: list[int] = []


class CountingReasoner(Reasoner):
    """Stands in for a slow generator: names the first history item and counts the items it wrote for."""

    def __call__(self, requests: list[ReasonRequest], *, seed: int | None = None) -> ReasonBatch:
        CALLS.append(len(requests))
        return ReasonBatch(
            [
                ReasonOut(
                    text=f"Because you liked {r.history[0].title}, try {r.item.title}: people with similar taste liked it.",
                    generator="counting",
                )
                for r in requests
            ]
        )


def _pipeline(catalog_file, reuse=None, **overrides) -> Pipeline:
    cfg = tiny_config_dict(catalog_file, **overrides)
    return Pipeline(parse_config(cfg), embedder_factory=lambda device: HashEmbedder(), reuse=reuse)


USER = UserContext(history=[HistoryEvent(item_id="a")], profile="camping")
COUNTING = {"component": "tests.test_pipeline_reuse:CountingReasoner"}


def test_changing_a_weight_rebuilds_only_the_fusion(tiny_catalog_file, cache):
    base = _pipeline(tiny_catalog_file)
    weights = {"component": "weighted", "config": {"weights": {"popularity": 0.9, "content": 0.1}}}
    tuned = _pipeline(tiny_catalog_file, reuse=base, fusion=weights)
    assert set(tuned.reused) == {"context", "intent", "candidates", "scorers.popularity", "scorers.content", "explain"}
    assert tuned.scorers["content"] is base.scorers["content"] and tuned.fusion is not base.fusion
    # The reweighted blend really ranks differently: popularity now dominates.
    a, b = base.run(USER), tuned.run(USER)
    assert a.items[0].contributions["content"] > a.items[0].contributions["popularity"]
    assert b.items[0].contributions["popularity"] > b.items[0].contributions["content"]


def test_reuse_is_refused_for_other_data(tiny_catalog_file, cache, tmp_path):
    other = tmp_path / "other.jsonl"
    other.write_text(tiny_catalog_file.read_text())
    base = _pipeline(tiny_catalog_file)
    cfg = tiny_config_dict(other)
    fresh = Pipeline(parse_config(cfg), embedder_factory=lambda device: HashEmbedder(), reuse=base)
    assert fresh.reused == [] and fresh.catalog is not base.catalog


def test_reasons_are_cached_across_runs_and_reweighted_pipelines(tiny_catalog_file, cache):
    CALLS.clear()
    base = _pipeline(tiny_catalog_file, explain=COUNTING)
    first = base.run(USER)
    assert CALLS == [3] and first.items[0].reason.generator == "counting"
    again = base.run(USER)
    assert CALLS == [3]  # nothing regenerated
    assert [i.reason.text for i in again.items] == [i.reason.text for i in first.items]
    # Same top item evidence under a mildly different blend: the reasoner is reused with its cache.
    tuned = _pipeline(
        tiny_catalog_file,
        reuse=base,
        explain=COUNTING,
        fusion={"component": "weighted", "config": {"weights": {"popularity": 0.25, "content": 0.75}}},
    )
    tuned.run(USER)
    assert "explain" in tuned.reused and CALLS == [3]


def test_deferred_reasons_are_written_per_item_with_verdicts(tiny_catalog_file, cache):
    CALLS.clear()
    pipe = _pipeline(tiny_catalog_file, explain=COUNTING)
    trace = pipe.run(USER, reasons=False)
    assert CALLS == [] and trace.pending_reasons == [1, 2, 3]
    assert all(i.reason.generator == "template" for i in trace.items)
    assert pipe.explain_items(trace, [2]) == [2]
    assert CALLS == [1] and trace.pending_reasons == [1, 3]
    second = trace.items[1]
    assert second.reason.generator == "counting" and "Alpine Tent" in second.reason.text
    assert second.reason.faithful is True and second.reason.verdict is not None and second.reason.verdict.passed
    assert pipe.explain_items(trace) == [1, 3] and trace.pending_reasons == []
    assert pipe.explain_items(trace) == []
    # The written reasons are those a full run gives, and a full run now hits the cache.
    full = pipe.run(USER)
    assert [i.reason.text for i in full.items] == [i.reason.text for i in trace.items]
    assert CALLS == [1, 2]


def test_scores_are_reused_across_reweighted_pipelines(tiny_catalog_file, cache, monkeypatch):
    from genre.components.scorers import PopularityScorer

    calls: list[int] = []
    original = PopularityScorer.__call__

    def counting(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(PopularityScorer, "__call__", counting)
    quiet = {"enabled": False}  # leave-one-out attribution calls the scorers directly, uncached
    base = _pipeline(tiny_catalog_file, attribution=quiet)
    first = base.run(USER)
    assert len(calls) == 1
    base.run(USER)
    assert len(calls) == 1  # same user, same components: the scores come from the cache
    weights = {"component": "weighted", "config": {"weights": {"popularity": 0.9, "content": 0.1}}}
    tuned = _pipeline(tiny_catalog_file, reuse=base, fusion=weights, attribution=quiet)
    reweighted = tuned.run(USER)
    assert len(calls) == 1
    # Cached raw scores, fresh blend: the raw popularity scores agree, the fused ones do not.
    assert reweighted.items[0].scores["popularity"] is not None
    by_id = {i.item_id: i for i in first.items}
    for item in reweighted.items:
        if item.item_id in by_id:
            assert item.scores == by_id[item.item_id].scores
    assert [i.score for i in reweighted.items] != [i.score for i in first.items]
    # Another user, or another context encoder, scores afresh.
    tuned.run(UserContext(history=[HistoryEvent(item_id="b")], profile="camping"))
    assert len(calls) == 2
    recency = {"component": "recency", "config": {"half_life_days": 7.0}}
    _pipeline(tiny_catalog_file, reuse=tuned, context=recency, attribution=quiet).run(USER)
    assert len(calls) == 3
