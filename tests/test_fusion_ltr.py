"""The learning-to-rank fusion: features by hand, SHAP contributions that add up, the fallback, the bounds."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from genre.cli.recommend import format_trace
from genre.components.fusion import WeightedFusion
from genre.components.fusion_ltr import LtrFusion
from genre.components.ltr_features import (
    BASE,
    CONTEXT_GROUPS,
    MODEL,
    OUTSIDE,
    ItemStats,
    feature_names,
    features,
    pool_positions,
    release_time,
)
from genre.components.reasoners.plan import make_plan, strongest_component
from genre.config import parse_config
from genre.core.errors import ConfigError
from genre.core.types import (
    Catalog,
    Evidence,
    HistoryEvent,
    Intent,
    Interactions,
    Item,
    ReasonRequest,
    ScoreList,
    UserContext,
    UserState,
)
from genre.evaluation.harness import _validation_like_protocol
from genre.pipeline import Pipeline
from genre.viz import contributions_chart
from tests.conftest import HashEmbedder, clustered_catalog

DAY = 86400.0


def _small_catalog() -> Catalog:
    items = [
        Item("A", "Alpha", ("X",), attributes={"year": 1990}),
        Item("B", "Beta", ("X", "Y"), attributes={"year": 1995}),
        Item("C", "Gamma", ("Y",)),
        Item("D", "Delta", ("Z",), attributes={"published": "2000-03-15"}),
    ]
    catalog = Catalog("small", items)
    events = [("u1", 0, 100), ("u1", 1, 200), ("u2", 0, 150), ("u2", 2, 185), ("u3", 1, 300), ("u3", 3, 310)]
    catalog.interactions = Interactions(
        np.array([u for u, _, _ in events]),
        np.array([i for _, i, _ in events], dtype=np.int64),
        np.array([d * DAY for _, _, d in events], dtype=np.float64),
        np.full(len(events), 4.0),
    )
    return catalog


def _state(catalog: Catalog, seen: list[int], days: list[float]) -> UserState:
    history = [
        HistoryEvent(item_id=catalog.items[i].item_id, timestamp=datetime.fromtimestamp(d * DAY, tz=UTC))
        for i, d in zip(seen, days, strict=True)
    ]
    idx = np.array(seen, dtype=np.int64)
    return UserState(UserContext(history=history), idx, np.full(idx.size, 1 / idx.size), None, seen_index=idx)


def test_release_time_reads_a_year_or_an_iso_date_and_nothing_else():
    assert release_time({"year": 1995}) == datetime(1995, 7, 1, tzinfo=UTC).timestamp()
    assert release_time({"published": "2026-06-02"}) == datetime(2026, 6, 2, tzinfo=UTC).timestamp()
    assert np.isnan(release_time({"price": 3.0})) and np.isnan(release_time({"year": "soon"}))


def test_features_by_hand():
    catalog = _small_catalog()
    stats = ItemStats.from_catalog(catalog)
    state = _state(catalog, [0, 1], [100, 200])  # A then B, like u1
    items = np.array([2, 3])  # C, D
    x = features(stats, ["s"], items, {"s": np.array([1.0, 3.0])}, {"s": np.array([1.0, 3.0])}, state)
    row = dict(zip(feature_names(["s"]), x.T, strict=True))
    np.testing.assert_allclose(row["s:score"], [-1.0, 1.0])  # z-scored over the candidates
    np.testing.assert_allclose(row["s:rank"], [2.0, 1.0])
    np.testing.assert_allclose(row["popularity"], [1 / 3, 1 / 3])  # one user of three each
    # The 30 days before day 200 hold u1's B (day 200) and u2's C (day 185): C has half of them, D none.
    np.testing.assert_allclose(row["recent_popularity"], [0.5, 0.0])
    np.testing.assert_allclose(row["history_length"], [2.0, 2.0])
    # History: X in both items (share 1), Y in one (0.5), Z in none. C is Y; D is Z.
    np.testing.assert_allclose(row["genre_share_mean"], [0.5, 0.0])
    np.testing.assert_allclose(row["genre_share_max"], [0.5, 0.0])
    ref = 200 * DAY  # the user's latest event
    assert np.isnan(row["item_age_days"][0])  # C has no release date
    assert row["item_age_days"][1] == pytest.approx((ref - datetime(2000, 3, 15, tzinfo=UTC).timestamp()) / DAY)
    np.testing.assert_allclose(row["first_seen_days"], [200 - 185, 200 - 310])
    # C is co-watched with A (1 event ago, cosine 1/sqrt 2); D with B (the latest event).
    np.testing.assert_allclose(row["related_events_ago"], [1.0, 0.0])
    np.testing.assert_allclose(row["related_similarity"], [1 / np.sqrt(2), 1 / np.sqrt(2)])


def test_without_the_user_the_context_features_are_missing():
    stats = ItemStats.from_catalog(_small_catalog())
    x = features(stats, ["s", "t"], np.array([-1, 2]), {"s": np.array([1.0, 2.0])}, {"s": np.array([1.0, 2.0])}, None)
    row = dict(zip(feature_names(["s", "t"]), x.T, strict=True))
    assert np.isnan(row["t:score"]).all() and np.isnan(row["history_length"]).all()
    assert np.isnan(row["popularity"][0]) and row["popularity"][1] == pytest.approx(1 / 3)


def test_the_pool_is_the_union_of_each_scorers_top_list():
    lists = {"a": np.array([5.0, 4.0, 3.0, 2.0, 1.0]), "b": np.array([np.nan, 0.0, 1.0, 9.0, 8.0])}
    assert pool_positions(lists, 2).tolist() == [0, 1, 3, 4]
    assert pool_positions({"a": np.full(3, np.nan)}, 2).size == 0


# ---- fitted in a pipeline, on synthetic clusters -----------------------------------------------------


def _config(**fusion: object) -> dict:
    options = {
        "pool_depth": 6, "n_estimators": 20, "num_leaves": 4, "min_child_samples": 5, "min_users": 10, "min_gain": 0.0,
    }  # fmt: skip
    return {
        "name": "clustered-ltr",
        "device": "cpu",
        "data": {"loader": "movielens-100k"},  # replaced by the synthetic catalog
        "scorers": {
            "popularity": {"component": "popularity"},
            "itemknn": {"component": "itemknn", "config": {"neighbors": 20}},
        },
        "fusion": {"component": "ltr", "config": {**options, **fusion}},
    }


def _pipeline(**fusion: object) -> Pipeline:
    return Pipeline(parse_config(_config(**fusion)), lambda device: HashEmbedder(), catalog=clustered_catalog())


def _user(pipe: Pipeline, user: str = "c1u3") -> UserContext:
    inter = pipe.catalog.interactions
    assert inter is not None
    own = inter.for_user(user)
    return UserContext(
        user_id=user,
        history=[
            HistoryEvent(item_id=pipe.catalog.items[int(i)].item_id, timestamp=datetime.fromtimestamp(t, tz=UTC))
            for i, t in zip(own.item_index[:5], own.timestamps[:5], strict=True)
        ],
    )


def test_contributions_are_grouped_shap_values_that_add_up_to_every_score(cache):
    pipe = _pipeline()
    fusion = pipe.fusion
    assert isinstance(fusion, LtrFusion) and fusion.booster is not None
    assert fusion.fit_report["users"] >= 10
    trace = pipe.run(_user(pipe))
    for item in trace.items:
        assert set(item.contributions) == {"popularity", "itemknn", *CONTEXT_GROUPS, BASE, OUTSIDE}
        assert item.contributions[OUTSIDE] == 0.0  # the top items are pooled ones
        assert item.score == pytest.approx(sum(item.contributions.values()))
    assert any(abs(item.contributions["itemknn"]) > 0 for item in trace.items)
    # The chart has a bar per term; each row's bars add up to the score; only scorers show a raw score.
    bars = {bar.name: bar for bar in contributions_chart(trace).data}
    assert set(bars) == set(trace.items[0].contributions)
    assert sum(bars[n].x[-1] for n in bars) == pytest.approx(trace.items[0].score)
    assert "raw" in bars["itemknn"].hovertemplate and "raw" not in bars[BASE].hovertemplate
    # Over every candidate, pooled or not, the contributions add up; the pool ranks first.
    state = pipe.context(_user(pipe))
    cands = pipe.candidates(state).index
    lists = [ScoreList(n, s(state, Intent(), cands).scores) for n, s in pipe.scorers.items()]
    fused = fusion.fuse_user(state, cands, lists)
    np.testing.assert_allclose(sum(fused.contributions.values()), fused.scores)
    pooled = np.zeros(cands.size, dtype=bool)
    pooled[pool_positions({sl.name: sl.scores for sl in lists}, 6)] = True
    assert (~pooled).any() and fused.scores[pooled].min() > fused.scores[~pooled].max()
    np.testing.assert_allclose(fused.contributions[OUTSIDE][~pooled], fused.scores[~pooled])
    # The user's own cluster is what the model puts on top.
    assert trace.items[0].item_id.startswith("i1")
    # Scores only (the harness): the same scores, the model's under one contribution.
    quick = fusion.fuse_user(state, cands, lists, explain=False)
    np.testing.assert_allclose(quick.scores, fused.scores)
    assert set(quick.contributions) == {MODEL, OUTSIDE}
    # Re-scoring pooled items (leave-one-out) reads the same model: the same scores for the same values.
    some = np.flatnonzero(pooled)[:3]
    total, parts = fusion.rescore_user(
        state, cands[some], {sl.name: sl.scores[some] for sl in lists}, {sl.name: sl.scores for sl in lists}
    )
    np.testing.assert_allclose(total, fused.scores[some])
    np.testing.assert_allclose(sum(parts.values()), total)
    quick_total, _ = fusion.rescore_user(
        state, cands[some], {sl.name: sl.scores[some] for sl in lists}, {sl.name: sl.scores for sl in lists},
        explain=False,
    )  # fmt: skip
    np.testing.assert_allclose(quick_total, total)


def test_the_model_is_saved_as_text_and_loaded_again(cache):
    first = _pipeline()
    folder = first.artifact_paths["fusion"]
    assert "ltr-fusion" in folder
    saved = (cache / "artifacts").rglob("ltr.json")
    text = next(iter(saved)).read_text()
    assert '"model": "tree' in text
    second = _pipeline()
    assert second.fusion.fit_report == first.fusion.fit_report
    ctx = _user(first)
    assert [i.score for i in second.run(ctx).items] == pytest.approx([i.score for i in first.run(ctx).items])


def test_too_few_validation_users_fall_back_to_the_weighted_blend_with_a_notice(cache):
    pipe = _pipeline(min_users=100000, fallback_weights={"itemknn": 1.0, "popularity": 0.2})
    assert isinstance(pipe.fusion, LtrFusion) and pipe.fusion.booster is None
    trace = pipe.run(_user(pipe))
    assert any("fewer than min_users = 100000" in n and "weighted blend" in n for n in trace.notices)
    assert "fewer than min_users" in format_trace(trace)
    blend = Pipeline(
        parse_config(
            {
                **_config(),
                "fusion": {
                    "component": "weighted",
                    "config": {"weights": {"itemknn": 1.0, "popularity": 0.2}, "normalization": "zscore"},
                },
            }
        ),
        lambda device: HashEmbedder(),
        catalog=clustered_catalog(),
    )
    assert [i.item_id for i in trace.items] == [i.item_id for i in blend.run(_user(blend)).items]
    # The fallback is saved too: a second build says the same without fitting again.
    again = _pipeline(min_users=100000, fallback_weights={"itemknn": 1.0, "popularity": 0.2})
    assert any("fewer than min_users" in n for n in again.build_notices)


def test_trees_that_do_not_beat_their_linear_start_by_min_gain_are_dropped_with_a_notice(cache):
    pipe = _pipeline(min_gain=1.0)  # the trees would have to double validation NDCG
    fusion = pipe.fusion
    assert isinstance(fusion, LtrFusion) and fusion.booster is None and fusion.linear
    assert fusion.fit_report["trees"] == 0 and fusion.fit_report["kept"] in ("linear blend", "itemknn")
    trace = pipe.run(_user(pipe))
    assert any("did not beat the" in n and "ranks alone" in n for n in trace.notices)
    for item in trace.items:
        assert item.score == pytest.approx(sum(item.contributions.values()))
        assert all(item.contributions[g] == 0.0 for g in (*CONTEXT_GROUPS, BASE))
    assert trace.items[0].item_id.startswith("i1")


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("pool_depth", 0, "greater than or equal to 5"),
        ("num_leaves", 1, "greater than or equal to 2"),
        ("n_estimators", 5000, "less than or equal to 2000"),
        ("learning_rate", 0.0, "greater than 0"),
        ("min_users", 0, "greater than or equal to 1"),
        ("min_gain", 2.0, "less than or equal to 1"),
        ("early_stopping_rounds", -1, "greater than or equal to 0"),
        ("negatives", -1, "greater than or equal to 0"),
        ("validation", "sideways", "temporal"),
        ("fallback_weights", {"itemknn": -1.0}, "fallback_weights must be >= 0"),
    ],
)
def test_a_knob_out_of_range_fails_at_config_load(option, value, message):
    with pytest.raises(ConfigError) as err:
        parse_config(_config(**{option: value}))
    assert option in str(err.value) and message in str(err.value)


def test_a_fallback_weight_for_an_unknown_scorer_fails_at_load():
    with pytest.raises(ConfigError, match="nosuch"):
        parse_config(_config(fallback_weights={"nosuch": 1.0}))


def test_the_harness_fits_ltr_on_a_validation_split_shaped_like_the_protocol():
    cfg = parse_config(_config())
    assert _validation_like_protocol(cfg, "random").fusion.config["validation"] == "random"
    assert _validation_like_protocol(cfg, "temporal").fusion.config["validation"] == "temporal"


def test_the_strongest_component_is_a_scorer_never_a_model_term():
    item = Item("x", "X Film", ("Drama",))
    hist = Item("h", "H Film", ("Drama",))
    req = ReasonRequest(
        item=item,
        contributions={BASE: 3.0, "genre overlap": 1.0, "itemknn": 0.4, "popularity": 0.1},
        evidence={"itemknn": [Evidence("history_item", hist.title, 0.9, item_id="h", count=12)], "popularity": []},
        history=[hist],
        intent=Intent(),
    )
    assert strongest_component(req) == "itemknn"
    plan = make_plan(req)
    assert plan.why is not None and plan.why.source == "itemknn"
    # A scorer that happens to share a term's name is still a scorer.
    named = ReasonRequest(item, {"recency": 0.5, "itemknn": 0.1}, {"recency": [], "itemknn": []}, [hist], Intent())
    assert strongest_component(named) == "recency"


def test_without_a_model_a_bare_call_is_the_blend():
    fusion = LtrFusion({"fallback_weights": {"a": 2.0}})
    lists = [ScoreList("a", np.array([1.0, 2.0, 3.0])), ScoreList("b", np.array([3.0, 2.0, np.nan]))]
    fused = fusion(lists)
    expected = WeightedFusion({"weights": {"a": 2.0}, "normalization": "zscore"})(lists)
    np.testing.assert_allclose(fused.scores, expected.scores)


def _tune_ltr(current: dict) -> None:
    import streamlit as st

    from pages.common.params import edit_params

    params, problems = edit_params("fusion", "ltr", current, "w")
    st.json({"params": params, "problems": problems})


def test_tune_renders_every_ltr_knob_and_names_an_out_of_range_one():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_tune_ltr, args=({},), default_timeout=60)
    at.run()
    assert not at.exception
    numbers = {w.key for w in at.number_input}
    for knob in ("pool_depth", "n_estimators", "num_leaves", "learning_rate", "min_users", "negatives", "seed"):
        assert f"w_{knob}" in numbers
    assert [b.key for b in at.selectbox] == ["w_validation"]
    at.number_input(key="w_pool_depth").set_value(2).run()
    problems = at.json[0].value
    assert "pool_depth" in problems and "5" in problems
