"""Reason feedback picks the generator (`[feedback] prefer_reviewed`), only with enough reviews."""

from __future__ import annotations

import pytest

from genre.components.reasoners.template import TemplateReasoner
from genre.config import parse_config
from genre.core.component import Reasoner
from genre.core.types import HistoryEvent, UserContext
from genre.feedback.choice import choose_generator, review_score
from genre.feedback.store import FeedbackStore, GeneratorAcceptance
from genre.pipeline import Pipeline
from tests.conftest import HashEmbedder, tiny_config_dict

CAREFUL = "tests.feedback.test_choice:CarefulReasoner"


class CarefulReasoner(TemplateReasoner, Reasoner):
    """A second generator for the tests: template reasons under another name."""

    name = CAREFUL


def acc(n: int, faithful: float | None, rating: float | None) -> GeneratorAcceptance:
    return GeneratorAcceptance(
        n=n,
        n_ratings=n if rating is not None else 0,
        mean_rating=rating,
        n_verdicts=n if faithful is not None else 0,
        faithful_rate=faithful,
    )


def test_review_score_averages_faithfulness_and_the_scaled_rating():
    assert review_score(acc(4, 0.5, 5.0)) == pytest.approx(0.75)
    assert review_score(acc(4, None, 3.0)) == pytest.approx(0.5)
    assert review_score(acc(4, 0.9, None)) == pytest.approx(0.9)
    assert review_score(acc(4, None, None)) is None


def test_the_better_reviewed_generator_wins_only_with_enough_reviews_of_two():
    reviews = {"template": acc(30, 0.6, 3.0), "local-llm": acc(25, 0.95, 4.2)}
    choice = choose_generator("template", reviews, min_reviews=20)
    assert choice.chosen == "local-llm" and choice.changed
    assert "chosen by reviews: local-llm (faithful 95%, rating 4.2/5, 25 reviews)" in choice.notice
    assert "template (faithful 60%, rating 3.0/5, 30 reviews)" in choice.notice

    few = choose_generator("template", reviews, min_reviews=26)  # local-llm has too few now
    assert few.chosen == "template" and not few.changed and set(few.scores) == {"template"}
    assert "needs two or more generators with at least 26 reviews" in few.notice and "local-llm 25" in few.notice

    worse = choose_generator("local-llm", {**reviews, "local-llm": acc(25, 0.4, 2.0)}, min_reviews=20)
    assert worse.chosen == "template" and worse.changed
    tie = choose_generator("local-llm", {"template": acc(20, 0.8, 4.0), "local-llm": acc(20, 0.8, 4.0)}, 20)
    assert tie.chosen == "local-llm" and not tie.changed and "kept by reviews" in tie.notice


def build(tiny_catalog_file, reviews=None, **feedback) -> Pipeline:
    cfg = parse_config(tiny_config_dict(tiny_catalog_file, feedback=feedback))
    return Pipeline(cfg, embedder_factory=lambda device: HashEmbedder(), reviews=reviews)


CTX = UserContext(history=[HistoryEvent(item_id="a")], profile="camping")


def test_a_pipeline_uses_the_better_reviewed_generator_and_says_so(tiny_catalog_file, cache):
    reviews = {"template": acc(5, 0.4, 2.5), CAREFUL: acc(5, 1.0, 4.5)}
    pipe = build(tiny_catalog_file, reviews, prefer_reviewed=True, min_reviews=5)
    assert isinstance(pipe.reasoner, CarefulReasoner)
    trace = pipe.run(CTX)
    assert trace.config["explain"]["component"] == CAREFUL
    assert {item.reason.generator for item in trace.items} == {CAREFUL}
    assert any(n.startswith(f"Reason generator chosen by reviews: {CAREFUL}") for n in trace.notices)


def test_too_few_reviews_keep_the_configured_generator(tiny_catalog_file, cache):
    reviews = {"template": acc(5, 0.4, 2.5), CAREFUL: acc(4, 1.0, 4.5)}
    trace = build(tiny_catalog_file, reviews, prefer_reviewed=True, min_reviews=5).run(CTX)
    assert {item.reason.generator for item in trace.items} == {"template"}
    assert trace.config["explain"]["component"] == "template"
    assert any("needs two or more generators with at least 5 reviews" in n for n in trace.notices)


def test_off_by_default_reviews_change_nothing(tiny_catalog_file, cache):
    reviews = {"template": acc(50, 0.1, 1.0), CAREFUL: acc(50, 1.0, 5.0)}
    pipe = build(tiny_catalog_file, reviews)
    assert type(pipe.reasoner) is TemplateReasoner and pipe.build_notices == []
    assert not any("generator" in n.lower() for n in pipe.run(CTX).notices)


def test_reviews_are_read_from_the_feedback_store_by_default(tiny_catalog_file, cache, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'reviews.sqlite3'}"
    monkeypatch.setenv("GENRE_FEEDBACK_URL", url)
    with FeedbackStore(url) as store:
        # Three reviewers: one reviewer's verdicts on one reason are latest-wins, so they would count once.
        for who in ("ann", "bob", "cy"):
            store.add_event(who, "b", "reason_rating", 2.0, generator="template", config_name="tiny")
            store.add_event(who, "b", "reason_rating", 5.0, generator=CAREFUL, config_name="tiny")
            store.add_event(who, "b", "reason_faithful", 1.0, generator=CAREFUL, config_name="other")
        assert store.generator_acceptance("tiny")[CAREFUL].n == 3
    assert isinstance(build(tiny_catalog_file, prefer_reviewed=True, min_reviews=3).reasoner, CarefulReasoner)
    assert type(build(tiny_catalog_file, prefer_reviewed=True, min_reviews=4).reasoner) is TemplateReasoner


def test_a_chosen_generator_that_cannot_start_falls_back_with_a_notice(tiny_catalog_file, cache):
    reviews = {"template": acc(5, 0.2, 2.0), "tests.feedback.test_choice:Missing": acc(5, 1.0, 5.0)}
    pipe = build(tiny_catalog_file, reviews, prefer_reviewed=True, min_reviews=5)
    assert type(pipe.reasoner) is TemplateReasoner and pipe.config.explain.component == "template"
    assert any(
        n.startswith("Could not start the tests.feedback.test_choice:Missing generator") for n in pipe.build_notices
    )
