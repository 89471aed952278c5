"""Pairwise judgements: canonical order, the screen round trip, and refusals of bad input."""

from __future__ import annotations

import pytest

from genre.core.errors import FeedbackError
from genre.data.users import MAX_COMMENT_CHARS
from genre.feedback.pair_summary import summarize
from genre.feedback.pairwise import Arm, Judgement

TUNED = Arm(generator="tuned-local", options={"style": "short"}, config_name="movies")
TEMPLATE = Arm(generator="template", options={"style": "one-line"}, config_name="movies")


def judge(left: Arm = TUNED, right: Arm = TEMPLATE, pick: str = "left", **kw) -> Judgement:
    args = dict(reviewer="Ann", item_id="i1", left_arm=left, right_arm=right, left_reason=f"by {left.generator}",
                right_reason=f"by {right.generator}", pick=pick, faithful_left=True, faithful_right=False)  # fmt: skip
    args.update(kw)
    return Judgement.from_screen(**args)


def test_arm_key_is_canonical_and_label_readable():
    same = Arm(generator="tuned-local", options={"style": "short"}, config_name="movies")
    assert TUNED.key == same.key
    two = Arm(generator="x", options={"b": 1, "a": 2}, config_name="c")
    assert two.key == Arm(generator="x", options={"a": 2, "b": 1}, config_name="c").key
    assert Arm.model_validate_json(TUNED.key) == TUNED  # the key is the arm
    assert TUNED.label == "tuned-local · style=short"
    assert two.label == "x · a=2 · b=1"


@pytest.mark.parametrize("left,right", [(TUNED, TEMPLATE), (TEMPLATE, TUNED)])
@pytest.mark.parametrize("pick", ["left", "right", "tie"])
def test_screen_order_is_stored_and_undone(left, right, pick):
    j = judge(left, right, pick)
    assert j.arm_a.key < j.arm_b.key  # canonical, whichever side each arm was shown on
    assert (j.left_arm, j.right_arm) == (left, right)
    assert j.screen_pick() == pick
    # the reasons and verdicts travel with their arm, not with the side
    shown = {j.arm_a.generator: (j.reason_a, j.faithful_a), j.arm_b.generator: (j.reason_b, j.faithful_b)}
    assert shown[left.generator] == (f"by {left.generator}", True)
    assert shown[right.generator] == (f"by {right.generator}", False)
    if pick == "tie":
        assert j.choice == "tie" and j.winner is None
    else:
        assert j.winner == (left if pick == "left" else right)


def test_both_screen_orders_give_the_same_identity():
    one, other = judge(TUNED, TEMPLATE, "left"), judge(TEMPLATE, TUNED, "right")
    assert one.identity == other.identity and one.choice == other.choice
    assert one.left != other.left


def test_direct_construction_in_the_wrong_order_is_canonicalised():
    j = Judgement(reviewer="Ann", item_id="i1", arm_a=TUNED, arm_b=TEMPLATE, left="a", choice="a",
                  faithful_a=True, reason_a="tuned says", reason_b="template says")  # fmt: skip
    assert j.arm_a == TEMPLATE and j.choice == "b" and j.left == "b"
    assert (j.reason_b, j.faithful_b, j.faithful_a) == ("tuned says", True, None)
    assert j.screen_pick() == "left"


@pytest.mark.parametrize(
    "change,message",
    [
        ({"reviewer": "   "}, "reviewer name is empty"),
        ({"reviewer": "Ann\x1b[31m"}, r"control or invisible characters \(U\+001B\)"),
        ({"reviewer": "Ann\u202eevil"}, r"U\+202E"),
        ({"reviewer": "x" * 81}, "81 characters long; the limit is 80"),
        ({"comment": "x" * 20_000}, f"20,000 characters long; the limit is {MAX_COMMENT_CHARS:,}"),
        ({"comment": "nul\x00here"}, r"U\+0000"),
        ({"right_arm": TUNED}, "both arms are the same"),
        ({"pick": "up"}, "unknown pick 'up'; valid picks: left, right, tie"),
        ({"item_id": ""}, "item id"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(change, message):
    with pytest.raises(FeedbackError, match=message):
        judge(**change)


def test_unknown_choice_is_a_feedback_error():
    with pytest.raises(FeedbackError, match="unknown choice 'A'; valid choices: a, b, tie"):
        Judgement(reviewer="Ann", item_id="i", arm_a=TEMPLATE, arm_b=TUNED, left="a", choice="A",
                  reason_a="", reason_b="")  # fmt: skip


def test_comments_are_plain_text_kept_as_given():
    html = "<script>alert(1)</script> **bold** [x](javascript:1)\nline two"
    j = judge(comment=html, reviewer="  Zoë O'Brien ")
    assert j.comment == html and j.reviewer == "Zoë O'Brien"
    assert judge(comment="   ").comment is None  # a blank comment is no comment


def test_summary_counts_wins_ties_faithful_and_position():
    js = [
        judge(TUNED, TEMPLATE, "left", item_id="1"),  # tuned wins, shown left
        judge(TEMPLATE, TUNED, "right", item_id="2"),  # tuned wins, shown right
        judge(TEMPLATE, TUNED, "left", item_id="3", comment="template is clearer"),  # template wins, left
        judge(TUNED, TEMPLATE, "tie", item_id="4", faithful_left=None),
    ]
    (s,) = summarize(js)
    assert (s.arm_a, s.arm_b) == (TEMPLATE, TUNED)  # canonical: template's key sorts first
    assert (s.n, s.wins_a, s.wins_b, s.ties, s.left_picks, s.n_comments) == (4, 1, 2, 1, 2, 1)
    assert s.win_rate_a == pytest.approx((1 + 0.5) / 4)
    # the left reason is always marked faithful, the right one not (item 4's left left unmarked):
    # tuned: left on 1 (yes), right on 2 and 3 (no), unmarked on 4; template: left on 2 and 3, right on 1 and 4
    assert (s.faithful_b.yes, s.faithful_b.n) == (1, 3)
    assert (s.faithful_a.yes, s.faithful_a.n) == (2, 4)
    assert s.kappa is None and s.kappa_items == 0 and "two or more reviewers" in s.kappa_note
