"""The store side of reviews: latest-wins events and judgements, summaries, exports, reason texts, run generator."""

from __future__ import annotations

import csv
import json
import sqlite3
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from genre.core.errors import FeedbackError
from genre.core.types import ReasonOut
from genre.feedback import FeedbackEvent
from genre.feedback.pairwise import Arm, Judgement
from genre.feedback.store import SCHEMA_VERSION, FeedbackStore
from genre.feedback.store.judgements import JUDGEMENT_FIELDS
from tests.feedback.test_store import FORK, T0, V1_DDL, make_trace

TUNED = Arm(generator="tuned-local", options={"style": "short"}, config_name="movies")
TEMPLATE = Arm(generator="template", options={"style": "one-line"}, config_name="movies")
OTHER = Arm(generator="grounded", config_name="news")


@pytest.fixture
def store(store_url):
    s = FeedbackStore(store_url)
    yield s
    s.close()


def judge(reviewer="Ann", item="1", pick="left", left=TUNED, right=TEMPLATE, at=T0, **kw) -> Judgement:
    return Judgement.from_screen(
        reviewer=reviewer, item_id=item, left_arm=left, right_arm=right, left_reason=f"{left.generator} on {item}",
        right_reason=f"{right.generator} on {item}", pick=pick, created_at=at, **kw,
    )  # fmt: skip


# ---- judgements ----------------------------------------------------------------------------


def test_a_judgement_saved_twice_is_stored_once_latest_wins(store):
    store.save_judgement(judge(pick="left"))
    store.save_judgement(judge(pick="left"))  # a second tab submitting the same judgement
    assert len(store.judgements()) == 1
    # the same comparison shown the other way round, a minute later, with a changed mind
    store.save_judgement(judge(pick="left", left=TEMPLATE, right=TUNED, at=T0 + timedelta(minutes=1)))
    (j,) = store.judgements()
    assert j.winner == TEMPLATE and j.left_arm == TEMPLATE and j.screen_pick() == "left"
    # a stale tab sending an older answer does not undo the newer one
    store.save_judgement(judge(pick="right", at=T0 - timedelta(minutes=5)))
    assert store.judgements() == [j]
    # another reviewer, item or subject is another judgement
    store.save_judgement(judge(reviewer="Bob"))
    store.save_judgement(judge(item="2"))
    store.save_judgement(judge(subject="movies:user:7"))
    assert store.count_judgements() == 4


def test_judgements_round_trip_with_context_and_filter_by_config_and_reviewer(store):
    ctx = {"domain": "movies", "item": {"id": "1"}, "history": [{"id": "9", "score": 0.5}]}
    saved = judge(context=ctx, comment="<b>bold</b> & **md**", faithful_left=True, faithful_right=False, run_id="r9")
    store.save_judgement(saved)
    store.save_judgement(judge(reviewer="Bob", left=OTHER, right=TEMPLATE))
    # every field, the comment as typed; the reviewer as the pseudonym the store keeps
    assert store.judgements(reviewer="Ann") == [saved.model_copy(update={"reviewer": store.user_key("Ann")})]
    assert len(store.judgements(config_name="movies")) == 2  # either arm in that config
    assert [j.reviewer for j in store.judgements(config_name="news")] == [store.user_key("Bob")]
    assert store.judgements(config_name="nothing") == []


def test_save_judgement_refuses_what_is_not_a_judgement(store):
    with pytest.raises(FeedbackError, match="takes a Judgement"):
        store.save_judgement({"reviewer": "Ann"})  # type: ignore[arg-type]
    assert store.count_judgements() == 0


def test_pairwise_summary_over_ten_items_with_two_then_three_reviewers(store):
    ann = ["left"] * 7 + ["right"] * 2 + ["tie"]  # tuned on the left every time
    bob = ["left"] * 6 + ["right"] * 3 + ["tie"]
    for n, (a, b) in enumerate(zip(ann, bob, strict=True)):
        store.save_judgement(judge("Ann", str(n), a, faithful_left=True, faithful_right=n % 2 == 0))
        store.save_judgement(judge("Bob", str(n), b))
    (s,) = store.pairwise_summary("movies")
    assert (s.arm_a, s.arm_b) == (TEMPLATE, TUNED)
    # tuned (arm b) won 7 + 6, template 2 + 3, ties 2: template's rate = (5 + 1) / 20
    assert (s.n, s.wins_a, s.wins_b, s.ties, s.reviewers) == (20, 5, 13, 2, 2)
    assert s.win_rate_a == pytest.approx(0.3)
    assert s.win_rate_low < 0.3 < s.win_rate_high < 0.6
    assert (s.faithful_b.yes, s.faithful_b.n, s.faithful_a.yes, s.faithful_a.n) == (10, 10, 5, 10)
    # Cohen over 10 shared items: agree on 0-5 (left), 7-8 (right), 9 (tie) = 9/10; Ann: b 7, a 2, tie 1;
    # Bob: b 6, a 3, tie 1 -> p_e = (7*6 + 2*3 + 1*1) / 100 = 0.49; kappa = (0.9 - 0.49) / 0.51
    assert s.kappa_method == "cohen" and s.kappa == pytest.approx(0.41 / 0.51) and s.kappa_items == 10
    assert s.kappa_note is None
    store.save_judgement(judge("Cy", "0", "left"))
    (s,) = store.pairwise_summary()
    assert s.kappa_method == "fleiss" and s.kappa_items == 10 and s.reviewers == 3


def test_pairwise_summary_says_why_kappa_is_missing(store):
    store.save_judgement(judge("Ann", "1", "left"))
    store.save_judgement(judge("Ann", "2", "tie"))
    (s,) = store.pairwise_summary()
    assert s.kappa is None and "no item was judged by two or more reviewers" in s.kappa_note
    store.save_judgement(judge("Bob", "1", "left"))
    (s,) = store.pairwise_summary()
    assert s.kappa is None and s.kappa_items == 1 and "kappa is undefined" in s.kappa_note


def test_export_judgements_csv_and_jsonl(store, tmp_path):
    store.save_judgement(judge(comment='=HYPERLINK("x")\n<i>two</i>, "quoted"', faithful_left=True))
    store.save_judgement(judge("Bob", pick="tie"))
    assert store.export_judgements(tmp_path / "j.csv", "csv") == 2
    rows = list(csv.DictReader((tmp_path / "j.csv").open(encoding="utf-8", newline="")))
    assert tuple(rows[0]) == JUDGEMENT_FIELDS
    # one cell, the text as typed behind the quote that keeps a spreadsheet from running it as a formula
    assert rows[0]["comment"] == '\'=HYPERLINK("x")\n<i>two</i>, "quoted"'
    assert (rows[0]["winner"], rows[0]["arm_b"], rows[0]["left"], rows[1]["winner"]) == (
        TUNED.label, TUNED.label, "b", "tie",
    )  # fmt: skip
    assert store.export_judgements(tmp_path / "j.jsonl", "jsonl") == 2
    lines = [json.loads(x) for x in (tmp_path / "j.jsonl").read_text(encoding="utf-8").splitlines()]
    back = [Judgement.model_validate({k: v for k, v in d.items() if k != "id"}) for d in lines]
    assert back == store.judgements()
    with pytest.raises(FeedbackError, match="unknown export format 'xlsx'; valid formats: csv, jsonl"):
        store.export_judgements(tmp_path / "j.xlsx", "xlsx")  # type: ignore[arg-type]


# ---- latest-wins events --------------------------------------------------------------------


def test_likes_and_ratings_are_latest_wins_and_clicks_append(store):
    store.add_event("u", "i1", "like")
    store.add_event("u", "i1", "like")  # a repeated Like
    assert [e.kind for e in store.events()] == ["like"]
    store.add_event("u", "i1", "dislike")  # replaces the like
    store.add_event("u", "i1", "not_interested")
    store.add_event("u", "i1", "rating", 4)
    store.add_event("u", "i1", "rating", 2)
    store.add_event("u", "i2", "like")
    store.add_event("v", "i1", "like")  # another user
    store.add_event("u", "i1", "click")
    store.add_event("u", "i1", "click")
    clear = {store.user_key(u): u for u in "uv"}
    got = sorted((clear[e.user], e.item_id, e.kind, e.value) for e in store.events())
    assert got == [
        ("u", "i1", "click", None), ("u", "i1", "click", None), ("u", "i1", "not_interested", None),
        ("u", "i1", "rating", 2.0), ("u", "i2", "like", None), ("v", "i1", "like", None),
    ]  # fmt: skip


def test_saving_reviews_twice_does_not_double_the_counts(store):
    store.record_run(make_trace("r1", ["a", "b"], user="rev"))

    def save(rating: float) -> list[FeedbackEvent]:
        evs = []
        for item in ("a", "b"):
            common = {"user": "rev", "item_id": item, "run_id": "r1", "generator": "template"}
            evs.append(FeedbackEvent(kind="reason_rating", value=rating, comment="ok", **common))
            evs.append(FeedbackEvent(kind="reason_faithful", value=1.0, **common))
        return store.add_events(evs)

    first = save(2.0)
    second = save(5.0)
    assert store.count_events() == 4
    assert [e.id for e in second] == [e.id for e in first]  # replaced in place
    acc = store.generator_acceptance()["template"]
    assert (acc.n, acc.n_ratings, acc.mean_rating) == (4, 2, 5.0)
    # another generator's reason on the same item is another verdict
    store.add_event("rev", "a", "reason_rating", 1, run_id="r1", generator="grounded")
    assert store.count_events() == 5


def test_an_older_event_does_not_replace_a_newer_one(store):
    new = store.add_event("u", "i1", "rating", 5, created_at=T0)
    kept = store.add_event("u", "i1", "rating", 1, created_at=T0 - timedelta(days=1))
    assert kept == new and [e.value for e in store.events()] == [5.0]


def test_migrating_a_v2_store_keeps_the_latest_of_each_slot(tmp_path):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as raw:
        raw.executescript(V1_DDL)
        raw.executescript(
            """
            INSERT INTO events VALUES (3, 'ann', 'old', 'a', 'like', NULL, NULL, '2025-01-01 00:00:03.000000');
            INSERT INTO events VALUES (4, 'ann', 'old', 'a', 'dislike', NULL, NULL, '2025-01-01 00:00:04.000000');
            INSERT INTO events VALUES (5, 'ann', 'old', 'b', 'rating', 2.0, NULL, '2025-01-01 00:00:05.000000');
            INSERT INTO events VALUES (6, 'ann', 'old', 'a', 'click', NULL, NULL, '2025-01-01 00:00:06.000000');
            INSERT INTO events VALUES (7, 'ann', 'old', 'a', 'click', NULL, NULL, '2025-01-01 00:00:07.000000');
            """
        )
    with FeedbackStore(f"sqlite:///{path}") as s:
        assert s.applied_migrations() == list(range(1, SCHEMA_VERSION + 1))
        assert [(e.id, e.kind, e.value) for e in s.events()] == [
            (4, "dislike", None), (5, "rating", 2.0), (6, "click", None), (7, "click", None),
        ]  # fmt: skip
        s.add_event("ann", "a", "like", run_id="old")  # the migrated rows have slots: this replaces 4
        assert [e.kind for e in s.events()].count("dislike") == 0 and s.count_events() == 4


# ---- runs and reason texts -----------------------------------------------------------------


def test_record_run_again_names_the_generator_that_wrote_the_reasons(store):
    trace = make_trace("r1", ["a", "b"], generator="template")
    for item in trace.items:
        item.reason = None  # recorded before the reasons were written: the config's name is all there is
    store.record_run(trace)
    store.add_event("ann", "a", "reason_rating", 3, run_id="r1")
    assert store.events()[0].generator == "template"
    for item in trace.items:
        item.reason = ReasonOut(text="written", generator="local-llm")
    store.record_run(trace)
    store.add_event("ann", "b", "reason_rating", 4, run_id="r1")
    assert store.events()[-1].generator == "local-llm"
    assert store.run_items("r1") == ["a", "b"]
    trace.items[0].reason = None
    trace.items[1].reason = None
    store.record_run(trace)  # a reasonless record cannot undo it
    store.add_event("ann", "b", "reason_faithful", 1, run_id="r1")
    assert store.events()[-1].generator == "local-llm"


def test_record_reasons_joins_reviews_to_their_text_and_context(store):
    store.record_run(make_trace("r1", ["a", "b"], user="rev"))
    ctx = {"domain": "movies", "item": {"id": "a"}}
    assert store.record_reasons("r1", [("a", "template", "old text", None), ("b", "template", "b text", None)],
                                options={"style": "short"}) == 2  # fmt: skip
    store.record_reasons("r1", [("a", "template", "because a", ctx)])  # replaces a's text
    assert [(r.item_id, r.text) for r in store.reasons("r1")] == [("a", "because a"), ("b", "b text")]
    store.add_event("rev", "a", "reason_rating", 2, run_id="r1")
    store.add_event("rev", "a", "reason_rating", 5, run_id="r1")
    store.add_event("rev", "a", "reason_faithful", 1, run_id="r1")
    store.add_event("rev", "b", "reason_faithful", 0, run_id="r1")
    got = {r.item_id: r for r in store.reviewed_reasons()}
    assert (got["a"].rating, got["a"].faithful, got["a"].text, got["a"].context) == (5.0, True, "because a", ctx)
    assert (got["b"].rating, got["b"].faithful, got["b"].options) == (None, False, {"style": "short"})
    assert got["a"].options == {}  # recorded again without options
    with pytest.raises(FeedbackError, match="unknown run id 'nope'"):
        store.record_reasons("nope", [("a", "template", "x", None)])
    with pytest.raises(FeedbackError, match="expected \\(item_id, generator, text, context\\)"):
        store.record_reasons("r1", [("a", "template")])  # type: ignore[list-item]


def test_export_events_by_format(store, tmp_path):
    store.add_event("u", "i1", "like")
    assert store.export_events(tmp_path / "e.jsonl", "jsonl") == 1
    assert json.loads((tmp_path / "e.jsonl").read_text())["kind"] == "like"
    assert store.export_events(tmp_path / "e.csv", "csv") == 1
    with pytest.raises(FeedbackError, match="valid formats: csv, jsonl"):
        store.export_events(tmp_path / "e.txt", "txt")  # type: ignore[arg-type]


def test_upserts_compile_for_postgresql():
    # No PostgreSQL server in the tests: check the ON CONFLICT statements the store sends compile for it.
    from genre.feedback.store.schema import events, judgements

    for table, keys in ((events, ["slot"]), (judgements, ["reviewer", "subject", "item_id", "arm_a_key", "arm_b_key"])):
        stmt = postgresql.insert(table).values({c: None for c in keys})
        stmt = stmt.on_conflict_do_update(
            index_elements=keys, set_={"created_at": stmt.excluded.created_at},
            where=table.c.created_at <= stmt.excluded.created_at,
        )  # fmt: skip
        sql = str(stmt.returning(table.c.id).compile(dialect=postgresql.dialect()))
        assert "ON CONFLICT" in sql and "WHERE" in sql and isinstance(stmt, sa.Insert)


@pytest.mark.parametrize(
    "comment,message",
    [("x" * 20_000, "20,000 characters long; the limit is 1,000"), ("a\x00b", r"U\+0000"), ("\u202eevil", r"U\+202E")],
)
def test_event_comments_too_long_or_with_control_characters_store_nothing(store, comment, message):
    store.record_run(make_trace("r1", ["a"], user="rev"))
    with pytest.raises(FeedbackError, match=message):
        store.add_events(
            [
                FeedbackEvent(user="rev", item_id="a", kind="reason_faithful", value=1, run_id="r1"),
                FeedbackEvent(user="rev", item_id="a", kind="reason_rating", value=4, run_id="r1", comment=comment),
            ]
        )
    assert store.count_events() == 0
    # markup and line breaks are plain text, kept as typed
    e = store.add_event("rev", "a", "reason_rating", 4, run_id="r1", comment="<b>x</b>\n**y**")
    assert store.events() == [e] and e.comment == "<b>x</b>\n**y**"


def _same_answers(url: str, tab: int, start) -> None:
    start.wait(30)
    with FeedbackStore(url) as s:
        for n in range(10):  # the same judgement and the same Like, over and over, from each "tab"
            s.save_judgement(judge(pick="left" if (tab + n) % 2 else "tie"))
            s.add_event("u", "i1", "like")


def test_two_tabs_submitting_the_same_answers_at_once_store_one_row_each(store_url):
    url = store_url
    FeedbackStore(url).close()  # created before the fork: no connection crosses it
    start = FORK.Event()
    procs = [FORK.Process(target=_same_answers, args=(url, tab, start)) for tab in range(2)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    with FeedbackStore(url) as s:
        assert s.count_judgements() == 1 and s.count_events() == 1
