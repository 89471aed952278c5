"""Figures built from a real (tiny) run trace: their data must be the trace's numbers."""

from __future__ import annotations

import pytest

from genre.core.types import HistoryEvent, UserContext
from genre.viz import (
    attribution_heatmap,
    compare_ranks,
    contributions_chart,
    highlight_segments,
    intent_chart,
    rank_movement_chart,
    timings_chart,
)


@pytest.fixture
def trace(tiny_pipeline):
    return tiny_pipeline.run(
        UserContext(history=[HistoryEvent(item_id="a"), HistoryEvent(item_id="f")], profile="camping")
    )


def test_contributions_are_the_trace_numbers_rank_one_on_top(trace):
    fig = contributions_chart(trace)
    by_name = {bar.name: bar for bar in fig.data}
    assert set(by_name) == {"popularity", "content"}
    top = trace.items[0]
    # Bars are listed bottom-up, so rank 1 is the last row of every bar trace.
    assert by_name["content"].y[-1].startswith("1. ")
    assert sum(by_name[n].x[-1] for n in by_name) == pytest.approx(top.score)


def test_attribution_heatmap_signs_support_positive(trace):
    fig = attribution_heatmap(trace)
    assert fig is not None
    heat = fig.data[0]
    top = trace.items[0]
    strongest = top.attribution[0]
    col = list(heat.x).index(strongest.label)
    assert heat.z[0][col] == pytest.approx(-strongest.score_delta)


def test_timings_intent_and_ab_charts(trace, tiny_pipeline):
    assert list(timings_chart(trace).data[0].x) == [t.ms for t in trace.timings]
    intent = intent_chart(trace)
    assert intent is not None and intent.data[0].y[-1] == trace.intent.labels[0].label
    other = tiny_pipeline.run(UserContext(history=[HistoryEvent(item_id="d")]))
    comparison = compare_ranks(trace, other)
    ids_a = {i.item_id for i in trace.items}
    ids_b = {i.item_id for i in other.items}
    assert comparison["overlap"] == pytest.approx(len(ids_a & ids_b) / 3)
    assert len(rank_movement_chart(trace, other).data) == len(ids_a | ids_b)
    assert compare_ranks(trace, trace)["overlap"] == 1.0


def test_highlight_segments_prefers_the_longest_phrase():
    parts = highlight_segments(
        "Because you liked The Godfather: Part II and the godfather", ["The Godfather", "The Godfather: Part II"]
    )
    assert parts == [
        ("Because you liked ", False),
        ("The Godfather: Part II", True),
        (" and ", False),
        ("the godfather", True),
    ]
    assert highlight_segments("plain", []) == [("plain", False)]
    assert highlight_segments("", ["x"]) == []
