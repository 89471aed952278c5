"""Blind side-by-side review: two arms write reasons for the same ranked items, shown in a random order.

An *arm* is a reason generator with its options (:class:`~genre.feedback.pairwise.Arm`). Both arms
share one config's ranking: each user's items are ranked once, then every arm writes its reason for
each of those items, so a reviewer always compares two reasons for the same item and the same
evidence. Which arm is shown on the left is drawn per item from a seeded hash of (seed, user, item,
arms): it is stored on the :class:`ScreenPair`, reproducible, and undone when a reviewer's pick is
turned into a :class:`~genre.feedback.pairwise.Judgement`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from genre.components.reasoners.template import requests_from_trace
from genre.config import PipelineConfig, with_generator
from genre.core.errors import InputError
from genre.core.types import RankedItem, ReasonOut, ReasonRequest, RunTrace, UserContext, stable_hash
from genre.data.request_records import request_record
from genre.feedback.pairwise import Arm, Judgement
from genre.pipeline import Pipeline

ScreenPick = Literal["left", "right", "tie"]
Side = Literal["first", "second"]
"""The arms as the caller listed them: ``first`` is arms[0], ``second`` arms[1]."""
SIDES: tuple[Side, Side] = ("first", "second")


def arm_config(base: PipelineConfig, arm: Arm) -> PipelineConfig:
    """``base`` with the arm's generator and options, validated (a bad option fails naming the valid ones)."""
    if arm.config_name != base.name:
        raise InputError(
            f"arm {arm.label!r} belongs to config {arm.config_name!r}, but the review ranks with {base.name!r}: "
            "both arms of a side-by-side review share one config's ranking"
        )
    return with_generator(base, arm.generator, options=dict(arm.options))


def check_arms(first: Arm, second: Arm) -> None:
    """Refuse two arms that would write the same reasons (nothing to compare)."""
    if first.key == second.key:
        raise InputError(f"both arms are {first.label!r}: pick another generator or change an option of one of them")


def left_side(seed: int, user: str, item_id: str, first: Arm, second: Arm) -> Side:
    """Which arm goes on the left for this item: a fair coin seeded by (seed, user, item, both arms).

    The arms enter as a sorted pair, so listing them the other way round flips no coin: the same
    arm lands on the left for the same item whichever order the reviewer picked them in.
    """
    keys = sorted([first.key, second.key])
    coin = random.Random(stable_hash([seed, user, item_id, keys])).random() < 0.5
    lower_left = first.key == keys[0]
    return "first" if coin == lower_left else "second"


def context_record(request: ReasonRequest) -> dict[str, Any]:
    """The item's request as a record (:func:`genre.data.request_records.request_record`, a labelled record's fields).

    Training rebuilds the fact plan from it (:mod:`genre.training.review_data`). The items' fields are
    kept: the review store lives in the user's cache, and a record then reads back without the catalog.
    """
    return request_record(request)


@dataclass
class ScreenPair:
    """One item as a reviewer sees it: two reasons, left and right, without the arms' names."""

    user: str
    """Whose recommendations (the page's label, e.g. ``profile:trail-runner`` or ``user:7``)."""
    run_id: str
    """The ranking run both reasons were written for."""
    rank: int
    item_id: str
    title: str
    first: Arm
    second: Arm
    left: Side
    """Which arm is shown on the left (drawn by :func:`left_side`, stored so the pick can be undone)."""
    reason_first: ReasonOut
    reason_second: ReasonOut
    context: dict[str, Any] | None

    @property
    def key(self) -> str:
        """Stable id of this pair on a page (widget keys): the user and the item."""
        return stable_hash([self.user, self.item_id, self.first.key, self.second.key])

    @property
    def left_arm(self) -> Arm:
        return self.first if self.left == "first" else self.second

    @property
    def right_arm(self) -> Arm:
        return self.second if self.left == "first" else self.first

    @property
    def left_reason(self) -> ReasonOut:
        return self.reason_first if self.left == "first" else self.reason_second

    @property
    def right_reason(self) -> ReasonOut:
        return self.reason_second if self.left == "first" else self.reason_first

    def judgement(
        self,
        reviewer: str,
        pick: ScreenPick,
        faithful_left: bool | None,
        faithful_right: bool | None,
        comment: str | None = None,
    ) -> Judgement:
        """The reviewer's on-screen answer as a stored judgement (the left/right order undone by the store model)."""
        return Judgement.from_screen(
            reviewer=reviewer,
            item_id=self.item_id,
            run_id=self.run_id,
            left_arm=self.left_arm,
            right_arm=self.right_arm,
            left_reason=self.left_reason.text,
            right_reason=self.right_reason.text,
            pick=pick,
            faithful_left=faithful_left,
            faithful_right=faithful_right,
            comment=comment,
            context=self.context,
            subject=self.user,
        )


@dataclass
class UserPairs:
    """One user's ranking and the pairs made from it."""

    user: str
    trace: RunTrace
    """The ranking run, with the first arm's reasons."""
    trace_second: RunTrace
    """The same items with the second arm's reasons."""
    pairs: list[ScreenPair]


def write_all_reasons(
    pipeline: Pipeline, trace: RunTrace, on_reason: Callable[[RankedItem], None] | None = None
) -> RunTrace:
    """A copy of ``trace`` with every item's reason written by ``pipeline``'s reasoner (and verified).

    The ranking is not redone: each item's reason request is rebuilt from the trace, so a trace ranked
    by one arm's pipeline gets another arm's reasons for exactly the same items and evidence.
    """
    copy = trace.model_copy(deep=True)
    copy.pending_reasons = [item.rank for item in copy.items]
    pipeline.explain_items(copy, on_reason=on_reason)
    return copy


def _reporter(
    on_reason: Callable[[str, Side, RankedItem], None] | None, user: str, side: Side
) -> Callable[[RankedItem], None] | None:
    """``on_reason`` bound to one user and side, as :meth:`Pipeline.explain_items` calls it (None stays None)."""
    if on_reason is None:
        return None
    return lambda item: on_reason(user, side, item)


def build_pairs(
    pipelines: tuple[Pipeline, Pipeline],
    arms: tuple[Arm, Arm],
    users: Sequence[tuple[str, UserContext]],
    k: int,
    *,
    seed: int = 0,
    on_reason: Callable[[str, Side, RankedItem], None] | None = None,
) -> list[UserPairs]:
    """Rank each user once with the first pipeline, have both arms write reasons for those ``k`` items,
    and pair them in a seeded random left/right order per item.

    ``pipelines[i]`` must be built from ``arm_config(base, arms[i])`` of one base config (the page
    takes them from its pipeline pool, so each arm is built once); ``on_reason(user, side, item)`` is
    called as each reason lands.
    """
    first, second = arms
    check_arms(first, second)
    if not users:
        raise InputError("pick at least one user or profile to review")
    out = []
    for user, ctx in users:
        trace = pipelines[0].run(ctx, k=k, reasons=False)
        traces = []
        for side, pipeline in zip(SIDES, pipelines, strict=True):
            traces.append(write_all_reasons(pipeline, trace, _reporter(on_reason, user, side)))
        requests = requests_from_trace(trace, pipelines[0].catalog)
        pairs = []
        for item_1, item_2, request in zip(traces[0].items, traces[1].items, requests, strict=True):
            assert item_1.reason is not None and item_2.reason is not None
            pairs.append(
                ScreenPair(
                    user=user,
                    run_id=trace.run_id,
                    rank=item_1.rank,
                    item_id=item_1.item_id,
                    title=item_1.title,
                    first=first,
                    second=second,
                    left=left_side(seed, user, item_1.item_id, first, second),
                    reason_first=item_1.reason,
                    reason_second=item_2.reason,
                    context=context_record(request),
                )
            )
        out.append(UserPairs(user, traces[0], traces[1], pairs))
    return out
