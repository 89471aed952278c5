"""Integration: on real MovieLens-100K recommendations, every template reason passes the verifier, and a
reason that claims what its evidence does not say is caught, through the pipeline's own trace."""

from __future__ import annotations

import pytest

from genre import Pipeline, load_config
from genre.components.reasoners.template import TemplateReasoner, requests_from_trace
from genre.data import load_profiles
from genre.data.profiles import interactions_to_context, profile_to_context
from genre.text.verifier import Verifier
from tests.conftest import ROOT

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def movies() -> Pipeline:
    return Pipeline(load_config(ROOT / "configs" / "movies.toml"))


def test_fifty_template_reasons_for_movielens_recommendations_pass(movies):
    contexts = [interactions_to_context(movies.catalog, u) for u in ("1", "7", "100", "405")]
    contexts.append(profile_to_context(next(iter(load_profiles(movies.config.data).values())), movies.catalog))
    verdicts = []
    for ctx in contexts:
        trace = movies.run(ctx, k=10)
        verdicts += [(item.reason.text, item.reason.verdict) for item in trace.items]
    assert len(verdicts) == 50
    failed = [(text, v.problems) for text, v in verdicts if v is None or not v.passed]
    assert not failed, failed
    # Each names real history: a supported title claim backed by a history item.
    assert all(
        any(c.kind == "title" and (c.evidence or "").startswith("history:") for c in v.claims) for _, v in verdicts
    )


def test_a_reason_with_a_false_genre_and_a_foreign_title_fails_on_real_evidence(movies):
    trace = movies.run(interactions_to_context(movies.catalog, "1"), k=3)
    request = requests_from_trace(trace, movies.catalog)[0]
    named = TemplateReasoner().write(request)
    history = movies.catalog.items[movies.catalog.index_of(named.evidence_ids[0])]
    absent = next(g for g in movies.catalog.category_names() if g not in request.item.categories + history.categories)
    foreign = next(
        i.title
        for i in movies.catalog.items
        if i.item_id not in {h.item_id for h in request.history} | {request.item.item_id}
    )
    text = f"Because you liked {history.title}; like them it is {absent}, and you may enjoy {foreign}."
    verdict = Verifier(movies.catalog).verify(text, request)
    assert {"unsupported_attribute", "wrong_title", "wrong_target"} <= set(verdict.errors), verdict.problems
