import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genre.core.errors import InputError
from genre.core.types import Constraints, HistoryEvent, RunTrace, UserContext
from tests.conftest import TINY_ITEMS

ITEM_IDS = [r["item_id"] for r in TINY_ITEMS]


def test_trace_has_every_stage_and_decomposable_scores(tiny_pipeline):
    trace = tiny_pipeline.run(UserContext(history=[HistoryEvent(item_id="a")], profile="camping"))
    assert [(t.stage, t.component) for t in trace.timings] == [
        ("context", "RecencyContextEncoder"), ("intent", "ZeroShotIntent"), ("candidates", "CandidateFilter"),
        ("scorers", "popularity"), ("scorers", "content"), ("fusion", "WeightedFusion"), ("explain", "evidence"),
        ("explain", "attribution"), ("explain", "attention"), ("explain", "TemplateReasoner"),
        ("explain", "verify"),
    ]  # fmt: skip
    assert trace.device == "cpu" and len(trace.items) == 3
    for item in trace.items:
        assert item.score == pytest.approx(sum(item.contributions.values()))
        assert set(item.scores) == {"popularity", "content"}
        assert item.reason is not None and item.reason.text
    # The two other camping items share words with the tent and the profile; kitchen and coffee items do not.
    assert {i.item_id for i in trace.items[:2]} == {"b", "c"}
    assert "Alpine Tent" in trace.items[0].reason.text
    assert trace.intent.labels[0].label == "camping gear"


def test_trace_round_trips_through_json(tiny_pipeline):
    trace = tiny_pipeline.run(UserContext(history=[HistoryEvent(item_id="f")]))
    data = json.loads(trace.to_json())
    assert data["items"][0]["evidence"]["content"][0]["item_id"] == "f"
    assert RunTrace.model_validate(data).items == trace.items


def test_cold_start_is_popularity_only_and_labelled(tiny_pipeline):
    trace = tiny_pipeline.run(UserContext())
    assert trace.cold_start and trace.scorers == ["popularity"]
    assert "Cold start" in trace.notices[0]
    assert [i.item_id for i in trace.items] == ["d", "e", "a"]  # most reviews first
    assert "most popular" in trace.items[0].reason.text


@pytest.mark.parametrize("k", [0, -1, 9])
def test_bad_k(tiny_pipeline, k):
    with pytest.raises(InputError, match="k"):
        tiny_pipeline.run(UserContext(), k=k)


def test_filters_leave_fewer_items_with_a_notice(tiny_pipeline):
    trace = tiny_pipeline.run(UserContext(profile="coffee", constraints=Constraints(categories=["Coffee"])), k=5)
    assert [i.item_id for i in trace.items] in (["f", "g"], ["g", "f"])
    assert any("Only 2 items" in n for n in trace.notices)
    trace = tiny_pipeline.run(UserContext(profile="x", constraints=Constraints(price_max=1)), k=2)
    assert trace.items == [] and any("No items left" in n for n in trace.notices)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    history=st.lists(st.sampled_from(ITEM_IDS), max_size=5, unique=True),
    profile=st.sampled_from(["", "coffee", "camping in the mountains", "kitchen knife"]),
    k=st.integers(1, 8),
    price_max=st.none() | st.floats(10, 400),
)
def test_ranking_invariants(tiny_pipeline, history, profile, k, price_max):
    ctx = UserContext(
        history=[HistoryEvent(item_id=i) for i in history],
        profile=profile,
        constraints=Constraints(price_max=price_max),
    )
    trace = tiny_pipeline.run(ctx, k=k)
    ids = [i.item_id for i in trace.items]
    allowed = {
        r["item_id"]
        for r in TINY_ITEMS
        if r["item_id"] not in history and (price_max is None or r["attributes"]["price"] <= price_max)
    }
    assert set(ids) <= allowed and len(ids) == len(set(ids)) == min(k, len(allowed))
    scores = [i.score for i in trace.items]
    assert all(np.isfinite(scores)) and scores == sorted(scores, reverse=True)
    assert [i.rank for i in trace.items] == list(range(1, len(ids) + 1))


def test_config_k_larger_than_catalog_fails_when_built(tiny_catalog_file, cache):
    from genre.config import parse_config
    from genre.core.errors import ConfigError
    from genre.pipeline import Pipeline
    from tests.conftest import HashEmbedder, tiny_config_dict

    with pytest.raises(ConfigError, match=r"k = 50 is larger than the tiny catalog; allowed range 1\.\.8"):
        Pipeline(parse_config(tiny_config_dict(tiny_catalog_file, k=50)), embedder_factory=lambda d: HashEmbedder())


def test_leave_one_out_attributions(tiny_pipeline):
    ctx = UserContext(
        history=[HistoryEvent(item_id="a"), HistoryEvent(item_id="f")],
        profile="I go camping in the mountains. I also brew coffee at home.",
    )
    trace = tiny_pipeline.run(ctx, k=3)
    for item in trace.items:
        assert {a.item_id for a in item.attribution} == {"a", "f"}
        assert [a.score_delta for a in item.attribution] == sorted(a.score_delta for a in item.attribution)
        assert len(item.profile_attribution) == 2
    by_id = {i.item_id: i for i in trace.items}
    camping = next(i for i in trace.items if i.item_id in {"b", "c"})
    # Without the tent, a camping item loses score; that is the item's strongest support.
    assert camping.attribution[0].item_id == "a" and camping.attribution[0].score_delta < 0
    if "g" in by_id:  # the grinder is supported by the kettle, not the tent
        assert by_id["g"].attribution[0].item_id == "f"


def test_rescore_with_nothing_removed_reproduces_fused_scores(tiny_pipeline):
    ctx = UserContext(history=[HistoryEvent(item_id="a"), HistoryEvent(item_id="d")], profile="kitchen")
    state = tiny_pipeline.context(ctx)
    state.intent = tiny_pipeline.intent(state)
    cands = tiny_pipeline.candidates(state)
    lists = []
    for name, scorer in tiny_pipeline.scorers.items():
        sl = scorer(state, state.intent, cands.index)
        sl.name = name
        lists.append(sl)
    fused = tiny_pipeline.fusion(lists)
    total, contributions = tiny_pipeline.fusion.rescore(
        {sl.name: sl.scores for sl in lists}, {sl.name: sl.scores for sl in lists}
    )
    np.testing.assert_allclose(total, fused.scores)
    for name in contributions:
        np.testing.assert_allclose(contributions[name], fused.contributions[name])


def test_cold_start_has_no_attribution(tiny_pipeline):
    trace = tiny_pipeline.run(UserContext(), k=2)
    assert all(not i.attribution and not i.profile_attribution for i in trace.items)


def test_every_reason_gets_a_verdict(tiny_pipeline):
    trace = tiny_pipeline.run(UserContext(history=[HistoryEvent(item_id="a"), HistoryEvent(item_id="f")]), k=4)
    for item in trace.items:
        assert item.reason.verdict is not None and item.reason.faithful is item.reason.verdict.passed
        assert any(c.kind == "title" and c.supported for c in item.reason.verdict.claims)
        # Template reasons only name evidence, so they pass.
        assert item.reason.faithful and item.template_reason.text == item.reason.text
    from genre.cli.recommend import format_trace

    assert format_trace(trace).count("[template] verified") == len(trace.items)


def test_unfaithful_generated_reason_is_flagged_and_template_kept(tiny_catalog_file, cache):
    from genre.config import parse_config
    from genre.pipeline import Pipeline
    from tests.conftest import HashEmbedder, tiny_config_dict

    cfg = parse_config(
        tiny_config_dict(tiny_catalog_file, explain={"component": "tests.test_pipeline:InventingReasoner"})
    )
    pipe = Pipeline(cfg, embedder_factory=lambda d: HashEmbedder())
    trace = pipe.run(UserContext(history=[HistoryEvent(item_id="a")]), k=2)
    for item in trace.items:
        assert item.reason.generator == "inventing" and item.reason.faithful is False
        wrong = [c.text for c in item.reason.verdict.claims if c.error == "wrong_title"]
        assert "Chef Knife" in wrong or item.item_id == "d"
        assert item.template_reason.generator == "template" and item.template_reason.faithful
        assert item.template_reason.verdict is not None and item.template_reason.verdict.passed
    assert any("failed verification" in n for n in trace.notices)

    # The CLI table shows each verdict: the rejected reason with its problems, and the template beside it.
    from genre.cli.recommend import format_trace

    table = format_trace(trace)
    assert table.count("[inventing] REJECTED: ") == 2 and "names 'Chef Knife'" in table
    assert table.count("template reason: ") == 2


from genre.core.component import ReasonBatch, Reasoner  # noqa: E402
from genre.core.types import ReasonOut  # noqa: E402


class InventingReasoner(Reasoner):
    """Test reasoner that always names a catalog title outside the evidence."""

    def __call__(self, requests, *, seed=None):
        return ReasonBatch(
            [
                ReasonOut(text="You will love it as much as Chef Knife and Field Notebook.", generator="inventing")
                for _ in requests
            ]
        )


def test_requests_from_trace_regenerate_the_same_template_reasons(tiny_pipeline):
    from genre.components.reasoners.template import TemplateReasoner, requests_from_trace

    trace = tiny_pipeline.run(UserContext(history=[HistoryEvent(item_id="a"), HistoryEvent(item_id="g")]), k=4)
    again = TemplateReasoner()(requests_from_trace(trace, tiny_pipeline.catalog)).reasons
    assert [r.text for r in again] == [i.reason.text for i in trace.items]
