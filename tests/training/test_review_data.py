"""Training pairs from reviews: which reviewed reasons are used, which are not and why, and the held-out guard."""

from __future__ import annotations

from collections import Counter

import pytest

from genre.components.reasoners.template import TemplateReasoner
from genre.core.types import ReasonRequest
from genre.data.labelled import LabelledReason
from genre.data.request_records import request_record
from genre.feedback.pairwise import Arm, Judgement
from genre.feedback.store import FeedbackStore
from genre.training.review_data import (
    DPO_MIN_PAIRS,
    dpo_status,
    heldout_keys,
    review_pairs,
    slot_review_pairs,
)
from tests.explain.test_generators import env, three_requests
from tests.feedback.test_store import make_trace

CONFIG = "movies"
GOOD = Arm(generator="tuned-local", options={"style": "one-line"}, config_name=CONFIG)
OTHER = Arm(generator="template", options={"style": "one-line"}, config_name=CONFIG)


def labelled_as(req: ReasonRequest, split: str = "heldout", config: str = CONFIG) -> LabelledReason:
    """A labelled reason for ``req`` (only what the held-out guard and the before/after scoring read)."""
    return LabelledReason(
        id=f"{config}:user:1:template:{req.item.item_id}", domain="movies", config=config, generator="template",
        round="before", source="template", user="user:1", rank=1, item_id=req.item.item_id,
        history_ids=tuple(h.item_id for h in req.history), named_ids=(), mentioned_ids=(),
        intent=tuple(req.intent.labels), contributions=dict(req.contributions),
        evidence={k: tuple(v) for k, v in req.evidence.items()}, cold_start=req.cold_start, faithful=True,
        text="x", label=None, split=split,  # type: ignore[arg-type]
        items={i.item_id: i for i in [req.item, *req.history]},
    )  # fmt: skip


@pytest.fixture
def store(tmp_path):
    s = FeedbackStore(f"sqlite:///{tmp_path / 'fb.sqlite3'}")
    yield s
    s.close()


def judge(store, req, pick="left", faithful_left=True, reviewer="Ann", context=True, item=None):
    text = TemplateReasoner().write(req).text
    store.save_judgement(
        Judgement.from_screen(
            reviewer=reviewer, item_id=item or req.item.item_id, left_arm=GOOD, right_arm=OTHER, left_reason=text,
            right_reason="A worse reason.", pick=pick, faithful_left=faithful_left, faithful_right=False,
            context=request_record(req) if context else None,
        )
    )  # fmt: skip
    return text


def test_pairwise_winners_are_used_only_when_marked_faithful_and_never_ties(store):
    toy, empire, tent = three_requests()
    text = judge(store, toy)  # used
    judge(store, empire, pick="tie")
    judge(store, tent, faithful_left=None)  # the winner was not marked
    judge(store, tent, reviewer="Bob", faithful_left=False)
    judge(store, empire, reviewer="Cy", pick="right")  # the loser-marked-unfaithful side won: not used
    judge(store, toy, reviewer="Dee", context=False, item="other")
    got = review_pairs(store, CONFIG, env().catalog)
    assert [(p.request.item, p.target, p.source) for p in got.pairs] == [(toy.item, text, "review-pairwise:test")]
    assert [(p.chosen, p.rejected) for p in got.preferences] == [(text, "A worse reason.")]
    assert got.judgements == 6 and got.skipped == Counter(
        {"ties": 1, "winner not marked faithful": 3, "judgement: no context stored": 1}
    )
    assert "6 pairwise judgements and 0 reviewed reasons read; used 1 faithful winners" in got.describe()
    assert review_pairs(store, "news", env().catalog).judgements == 0  # another config's arms


def test_rated_reasons_need_a_mean_of_four_and_no_unfaithful_mark(store):
    requests = three_requests()
    store.record_run(make_trace("r1", ["1", "172", "a"], user="ann"))
    store.record_run(make_trace("r2", ["1"], user="bob"))
    texts = [TemplateReasoner().write(r).text for r in requests]
    store.record_reasons(
        "r1", [(r.item.item_id, "template", t, request_record(r)) for r, t in zip(requests, texts, strict=True)]
    )
    store.record_reasons("r2", [("1", "template", texts[0], request_record(requests[0]))])
    for item, rating, faithful in (("1", 5, 1), ("172", 3, 1), ("a", 5, 0)):
        store.add_event("ann", item, "reason_rating", rating, run_id="r1", config_name=CONFIG)
        store.add_event("ann", item, "reason_faithful", faithful, run_id="r1", config_name=CONFIG)
    store.add_event("bob", "1", "reason_rating", 4, run_id="r2", config_name=CONFIG)  # rated, never marked
    got = review_pairs(store, CONFIG, env().catalog)
    assert [(p.request.item.item_id, p.target, p.source) for p in got.pairs] == [("1", texts[0], "review-rated:test")]
    assert got.rated == 4 and got.skipped == Counter(
        {"reason rated below 4": 1, "reason marked unfaithful": 1, "reason not marked faithful": 1}
    )


def test_a_held_out_labelled_request_is_never_trained_on(store):
    toy, empire, _ = three_requests()
    judge(store, toy)
    judge(store, empire)
    keys = heldout_keys([labelled_as(toy), labelled_as(empire, split="dev")])
    got = review_pairs(store, CONFIG, env().catalog, heldout=keys)
    assert [p.request.item for p in got.pairs] == [empire.item]
    assert got.skipped["held-out labelled request"] == 1
    # a labelled record keeps only the end of the history: a longer history ending the same way matches
    short = labelled_as(toy)
    object.__setattr__(short, "history_ids", short.history_ids[-1:])
    assert len(review_pairs(store, CONFIG, env().catalog, heldout=heldout_keys([short])).pairs) == 1


def test_review_pairs_are_delexicalised_like_references(store):
    for req in three_requests():
        judge(store, req)
    got = review_pairs(store, CONFIG, env().catalog)
    kept, survival = slot_review_pairs(got.pairs, env().catalog)
    assert kept and all("{" in k.target for k in kept)  # slotted sentences
    assert sum(survival["review-pairwise:test"].values()) == 3
    assert survival["review-pairwise:test"]["kept"] == len(kept)


def test_dpo_status_names_the_threshold():
    assert f"it needs at least {DPO_MIN_PAIRS}" in dpo_status(3)
