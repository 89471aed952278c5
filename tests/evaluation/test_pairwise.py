"""Blind side-by-side pairs: both arms explain the same ranked items; the left/right order is seeded and undone."""

from __future__ import annotations

import pytest

from genre.config import parse_config
from genre.core.errors import GenreError, InputError
from genre.core.types import HistoryEvent, UserContext
from genre.data.request_records import request_from_record
from genre.evaluation.pairwise import arm_config, build_pairs, check_arms, left_side
from genre.feedback.pairwise import Arm
from genre.pipeline import Pipeline
from tests.conftest import HashEmbedder, tiny_config_dict

ONE = Arm(generator="template", options={"max_evidence": 1}, config_name="tiny")
TWO = Arm(generator="template", options={"max_evidence": 2}, config_name="tiny")
CAMPER = UserContext(history=[HistoryEvent(item_id="a"), HistoryEvent(item_id="b")], profile="camping trips")
COOK = UserContext(history=[HistoryEvent(item_id="d"), HistoryEvent(item_id="e")])


@pytest.fixture
def arm_pipelines(tiny_catalog_file, cache) -> tuple[Pipeline, Pipeline]:
    base = parse_config(tiny_config_dict(tiny_catalog_file, k=4))
    first = Pipeline(arm_config(base, ONE), embedder_factory=lambda device: HashEmbedder())
    second = Pipeline(arm_config(base, TWO), embedder_factory=lambda device: HashEmbedder(), reuse=first)
    return first, second


def test_the_left_side_is_seeded_per_item_and_does_not_depend_on_the_order_the_arms_were_listed():
    items = [f"item-{i}" for i in range(200)]
    sides = [left_side(3, "user:1", i, ONE, TWO) for i in items]
    assert sides == [left_side(3, "user:1", i, ONE, TWO) for i in items]  # reproducible
    assert 70 < sides.count("first") < 130  # a fair coin, not always one side
    # Listed the other way round, the same arm lands on the left for every item.
    swapped = [left_side(3, "user:1", i, TWO, ONE) for i in items]
    assert all((a == "first") == (b == "second") for a, b in zip(sides, swapped, strict=True))
    assert sides != [left_side(4, "user:1", i, ONE, TWO) for i in items]  # another seed, another draw


def test_both_arms_explain_the_same_items_and_a_pick_on_screen_is_stored_as_that_arm(arm_pipelines):
    users = build_pairs(arm_pipelines, (ONE, TWO), [("camper", CAMPER), ("cook", COOK)], k=4, seed=1)
    assert [u.user for u in users] == ["camper", "cook"]
    pairs = [p for u in users for p in u.pairs]
    assert len(pairs) == 8
    for u in users:
        assert [i.item_id for i in u.trace.items] == [i.item_id for i in u.trace_second.items]
        assert all(p.run_id == u.trace.run_id for p in u.pairs)
    # Each arm wrote its own reasons: one history item named against up to two.
    assert all(p.reason_first.generator == p.reason_second.generator == "template" for p in pairs)
    assert any(p.reason_first.text != p.reason_second.text for p in pairs)
    assert all(p.reason_first.verdict is not None and p.reason_second.verdict is not None for p in pairs)
    # Both orders occur, and each pair's stored side is the seeded draw.
    assert {p.left for p in pairs} == {"first", "second"}
    assert all(p.left == left_side(1, p.user, p.item_id, ONE, TWO) for p in pairs)
    for p in pairs:
        assert p.left_arm == (ONE if p.left == "first" else TWO)
        assert p.left_reason.text == (p.reason_first if p.left == "first" else p.reason_second).text
        assert p.context is not None and p.context["item_id"] == p.item_id
        assert p.context["history_ids"] == [h.item_id for h in (CAMPER if p.user == "camper" else COOK).history]
        # Training reads the context back into the request both reasons were written from, without the catalog.
        request = request_from_record(p.context)
        assert request.item.title == p.title and [h.item_id for h in request.history] == p.context["history_ids"]
        for pick, arm, reason in (("left", p.left_arm, p.left_reason), ("right", p.right_arm, p.right_reason)):
            j = p.judgement("Ada", pick, faithful_left=True, faithful_right=False, comment="ok")
            chosen = j.arm_a if j.choice == "a" else j.arm_b
            assert chosen == arm
            assert (j.reason_a if j.choice == "a" else j.reason_b) == reason.text
            assert j.screen_pick() == pick
            # Faithful marks follow their reasons through the reordering too.
            faithful_of_left = j.faithful_a if j.arm_a == p.left_arm else j.faithful_b
            assert faithful_of_left is True
        tie = p.judgement("Ada", "tie", None, None)
        assert tie.choice == "tie" and tie.screen_pick() == "tie"


def test_identical_arms_a_foreign_config_and_a_bad_option_are_refused_by_name(tiny_catalog_file):
    base = parse_config(tiny_config_dict(tiny_catalog_file))
    with pytest.raises(InputError, match="both arms are 'template · max_evidence=1'"):
        check_arms(ONE, ONE.model_copy())
    with pytest.raises(InputError, match=r"belongs to config 'movies'.*ranks with 'tiny'"):
        arm_config(base, Arm(generator="template", config_name="movies"))
    with pytest.raises(GenreError, match="max_evidence"):
        arm_config(base, Arm(generator="template", options={"max_evidence": 9}, config_name="tiny"))


def test_no_users_is_refused(arm_pipelines):
    with pytest.raises(InputError, match="at least one user or profile"):
        build_pairs(arm_pipelines, (ONE, TWO), [], k=2)
