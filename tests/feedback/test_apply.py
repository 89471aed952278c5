from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from genre.components.context import RecencyContextEncoder
from genre.config import FeedbackConfig, parse_config
from genre.core.errors import ConfigError, FeedbackError
from genre.core.types import FeedbackApplied, HistoryEvent, UserContext
from genre.feedback import FeedbackEvent, apply_feedback
from genre.pipeline import Pipeline
from tests.conftest import TINY_ITEMS, HashEmbedder, tiny_config_dict

T0 = datetime(2026, 5, 1, tzinfo=UTC)
ALL = [r["item_id"] for r in TINY_ITEMS]


def ev(item_id: str, kind: str, value: float | None = None, minutes: int = 0) -> FeedbackEvent:
    return FeedbackEvent(
        user="ann", item_id=item_id, kind=kind, value=value, created_at=T0 + timedelta(minutes=minutes)
    )


def ranks(trace) -> dict[str, int]:
    return {i.item_id: i.rank for i in trace.items}


def comparable(trace) -> dict:
    return trace.model_dump(exclude={"run_id", "created_at", "timings"})


@pytest.mark.parametrize("kind", ["dislike", "not_interested", "rating"])
@pytest.mark.parametrize("target", ["b", "c", "e", "g"])
def test_a_disliked_item_never_appears_and_the_trace_lists_it(tiny_pipeline, kind, target):
    ctx = UserContext(history=[HistoryEvent(item_id="a")], profile="camping")
    events = [ev(target, kind, 1.0 if kind == "rating" else None)]
    for k in (1, 3, 7):
        trace = tiny_pipeline.run(ctx, k=k, feedback=events)
        assert target not in ranks(trace)
    assert trace.feedback == FeedbackApplied(excluded=[target], pushed_away=[target], n_events=1)
    assert trace.candidates["excluded"] == {"seen": 1, "excluded": 1}
    assert trace.user.exclude == [target] and trace.user.push_away == [target]
    assert len(trace.items) == 6  # 8 items less the seen one and the disliked one


def test_liking_an_item_lifts_similar_items(tiny_pipeline):
    ctx = UserContext(profile="coffee at home")
    before = ranks(tiny_pipeline.run(ctx, k=8))
    after_trace = tiny_pipeline.run(ctx, k=8, feedback=[ev("a", "like")])
    after = ranks(after_trace)
    assert "a" not in after  # liked, so now in the history and seen
    for camping in ("b", "c"):  # share words with the tent
        assert after[camping] < before[camping]
    assert [h.item_id for h in after_trace.history] == ["a"]
    assert after_trace.items[0].evidence["content"][0].item_id == "a"


def test_a_liked_item_weighs_more_than_a_click(tiny_pipeline):
    ctx = UserContext(history=[HistoryEvent(item_id="d")])
    liked = tiny_pipeline.run(ctx, k=6, feedback=[ev("a", "like")])
    clicked = tiny_pipeline.run(ctx, k=6, feedback=[ev("a", "click")])
    w_liked = {h.item_id: h.weight for h in liked.history}
    w_clicked = {h.item_id: h.weight for h in clicked.history}
    recency = 0.5 ** (1 / 10)  # d is one position older than a; half-life 10 items
    assert w_liked["a"] / w_liked["d"] == pytest.approx(2.0 / recency, rel=1e-4)
    assert w_clicked["a"] / w_clicked["d"] == pytest.approx(1.0 / recency, rel=1e-4)
    assert liked.feedback.weights == {"a": 2.0} and clicked.feedback.weights == {"a": 1.0}
    content = [{i.item_id: i.scores["content"] for i in t.items} for t in (liked, clicked)]
    assert content[0]["b"] > content[1]["b"]  # the sleeping bag is like the tent: a like pulls u closer
    assert content[0]["e"] < content[1]["e"]  # the pan is like the knife, which now counts less


def test_latest_event_per_item_wins(tiny_pipeline):
    ctx = UserContext(profile="camping")
    trace = tiny_pipeline.run(ctx, k=7, feedback=[ev("b", "like", minutes=0), ev("b", "dislike", minutes=5)])
    assert "b" not in ranks(trace) and trace.feedback.excluded == ["b"] and trace.feedback.liked == []
    # Given out of order: the later time still wins.
    trace = tiny_pipeline.run(ctx, k=7, feedback=[ev("b", "like", minutes=9), ev("b", "dislike", minutes=5)])
    assert trace.feedback.liked == ["b"] and trace.feedback.excluded == []
    assert [h.item_id for h in trace.history] == ["b"]
    # Same time: the later one in the list wins; a neutral rating undoes an earlier dislike.
    trace = tiny_pipeline.run(ctx, k=7, feedback=[ev("c", "dislike"), ev("c", "rating", 3)])
    assert "c" in ranks(trace) and trace.feedback == FeedbackApplied(n_events=2)


def test_trace_feedback_lists_everything_applied(tiny_pipeline):
    events = [
        ev("a", "like", minutes=1),
        ev("c", "click", minutes=2),
        ev("e", "rating", 5, minutes=3),
        ev("f", "rating", 3, minutes=4),
        ev("g", "rating", 1, minutes=5),
        ev("h", "not_interested", minutes=6),
        ev("zz", "dislike", minutes=7),
        FeedbackEvent(user="ann", item_id="b", kind="reason_rating", value=2, generator="template"),
    ]
    trace = tiny_pipeline.run(UserContext(profile="camping"), k=3, feedback=events)
    assert trace.feedback == FeedbackApplied(
        liked=["a", "c", "e"], weights={"a": 2.0, "c": 1.0, "e": 2.0}, excluded=["g", "h"],
        pushed_away=["g", "h"], ignored=["zz"], n_events=8,
    )  # fmt: skip
    assert [(h.item_id, h.rating) for h in trace.user.history] == [("a", None), ("c", None), ("e", 5.0)]
    assert any("not in the tiny catalog was ignored: zz" in n for n in trace.notices)
    assert not {"a", "c", "e", "g", "h"} & set(ranks(trace))
    assert trace.model_validate_json(trace.to_json()).feedback == trace.feedback


def test_runs_without_feedback_are_unchanged(tiny_pipeline):
    ctx = UserContext(history=[HistoryEvent(item_id="a"), HistoryEvent(item_id="f")], profile="camping. coffee.")
    plain = tiny_pipeline.run(ctx, k=5)
    assert plain.feedback is None
    assert comparable(tiny_pipeline.run(ctx, k=5, feedback=None)) == comparable(plain)
    empty = tiny_pipeline.run(ctx, k=5, feedback=[])
    assert empty.feedback == FeedbackApplied() and comparable(empty) | {"feedback": None} == comparable(plain)


def test_dislike_pushes_the_user_vector_away(tiny_env):
    enc = RecencyContextEncoder({})
    enc.prepare(tiny_env)
    ctx = UserContext(history=[HistoryEvent(item_id="a")], profile="camping cooking")
    new_ctx, applied = apply_feedback(ctx, [ev("c", "dislike")], FeedbackConfig(dislike_push=0.5))
    vec_c = tiny_env.item_vectors[tiny_env.catalog.index_of("c")]
    u0, u1 = enc(ctx).vector, enc(new_ctx).vector
    assert np.isclose(np.linalg.norm(u1), 1.0)
    assert u1 @ vec_c < u0 @ vec_c
    expected = u0 - 0.5 * vec_c.astype(np.float64)
    np.testing.assert_allclose(u1, expected / np.linalg.norm(expected), atol=1e-9)
    assert applied.pushed_away == ["c"] and new_ctx.push_strength == 0.5
    # With no push the item is only excluded.
    new_ctx, applied = apply_feedback(ctx, [ev("c", "dislike")], FeedbackConfig(dislike_push=0))
    assert applied.excluded == ["c"] and applied.pushed_away == [] and new_ctx.push_away == []
    np.testing.assert_allclose(enc(new_ctx).vector, u0)


def test_feedback_config_section(tiny_catalog_file, cache):
    cfg = parse_config(tiny_config_dict(tiny_catalog_file))
    assert cfg.feedback == FeedbackConfig(like_weight=2.0, click_weight=1.0, dislike_push=0.3)
    with pytest.raises(ConfigError, match=r"\[feedback\] unknown key 'like_wieght'; valid keys: like_weight"):
        parse_config(tiny_config_dict(tiny_catalog_file, feedback={"like_wieght": 3}))
    cfg = parse_config(tiny_config_dict(tiny_catalog_file, feedback={"like_weight": 5, "dislike_push": 0}))
    pipe = Pipeline(cfg, embedder_factory=lambda device: HashEmbedder())
    trace = pipe.run(UserContext(history=[HistoryEvent(item_id="d")]), feedback=[ev("a", "like"), ev("b", "dislike")])
    assert trace.feedback.weights == {"a": 5.0} and trace.feedback.pushed_away == []
    assert trace.config["feedback"]["like_weight"] == 5


def test_apply_feedback_keeps_history_times_and_drops_disliked_history():
    old = datetime(2020, 1, 1, tzinfo=UTC)
    ctx = UserContext(
        history=[HistoryEvent(item_id="a", timestamp=old), HistoryEvent(item_id="b", timestamp=old + timedelta(days=3))]
    )
    new, applied = apply_feedback(ctx, [ev("c", "like"), ev("a", "dislike"), ev("b", "rating", 4)])
    assert [(h.item_id, h.timestamp, h.weight, h.rating) for h in new.history] == [
        ("b", old + timedelta(days=3), 2.0, 4.0),  # reinforced in place
        ("c", old + timedelta(days=3), 2.0, None),  # as recent as the newest history event
    ]
    assert new.exclude == ["a"] and applied.liked == ["c", "b"]  # in feedback order
    fresh, _ = apply_feedback(UserContext(), [ev("c", "like", minutes=3)])
    assert fresh.history[0].timestamp == T0 + timedelta(minutes=3)
    untimed, _ = apply_feedback(UserContext(history=[HistoryEvent(item_id="a")]), [ev("c", "like")])
    assert untimed.history[-1].timestamp is None


def test_invalid_feedback_is_rejected(tiny_pipeline):
    with pytest.raises(FeedbackError, match="unknown feedback kind 'love'"):
        tiny_pipeline.run(UserContext(profile="x"), feedback=[ev("a", "love")])
    with pytest.raises(FeedbackError, match="rating 9 is out of range"):
        apply_feedback(UserContext(), [ev("a", "rating", 9)])


def test_feedback_from_the_store_applies(tiny_pipeline, tmp_path):
    from genre.feedback import FeedbackStore

    ctx = UserContext(user_id="ann", profile="camping")
    with FeedbackStore(f"sqlite:///{tmp_path / 'fb.sqlite3'}") as store:
        first = tiny_pipeline.run(ctx, k=3)
        store.record_run(first)
        top = first.items[0].item_id
        store.add_event("ann", top, "dislike", run_id=first.run_id)
        second = tiny_pipeline.run(ctx, k=3, feedback=store.events_for_user("ann"))
    assert top not in ranks(second) and second.feedback.excluded == [top]
    assert [i.item_id for i in second.items[:2]] == [i.item_id for i in first.items[1:3]]
