"""Integration: the real embedder (offline, from its PyPI package) and the real MovieLens-100K."""

from __future__ import annotations

import os

import numpy as np
import pytest

from genre import Pipeline, load_config
from genre.core.errors import InputError
from genre.data import load_profiles
from genre.data.movielens import load_movielens_100k
from genre.data.profiles import interactions_to_context, profile_to_context
from genre.models import load_embedder
from tests.conftest import ROOT

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def movies() -> Pipeline:
    return Pipeline(load_config(ROOT / "configs" / "movies.toml"))


def test_embedder_loads_offline_and_embeds_meaningfully():
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    emb = load_embedder("cpu")
    vecs = emb.encode(["a film about space battles", "Star Wars (1977). Sci-Fi, War", "Toy Story (1995). Animation"])
    assert vecs.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, rtol=1e-4)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2]
    assert load_embedder("cpu") is emb  # loaded once per process


def test_movielens_is_complete():
    cat = load_movielens_100k()
    assert len(cat) == 1682 and len(cat.interactions) == 100_000
    assert cat.interactions.users().size == 943
    assert cat.items[cat.index_of("12")].title == "The Usual Suspects (1995)"
    assert cat.items[0].categories == ("Animation", "Children's", "Comedy")
    assert len(interactions_to_context(cat, "1").history) == 272


def test_user_1_gets_ten_unseen_explained_items(movies):
    ctx = interactions_to_context(movies.catalog, "1")
    trace = movies.run(ctx)
    seen = {e.item_id for e in ctx.history}
    assert len(trace.items) == 10 and not seen & {i.item_id for i in trace.items}
    assert trace.candidates["excluded"]["seen"] == 272
    assert trace.scorers == list(movies.config.scorers)
    for item in trace.items:
        assert set(item.scores) == set(movies.config.scorers)
        assert item.score == pytest.approx(sum(item.contributions.values()))
        assert item.reason is not None
        # The template names the strongest history evidence of the scorer that added the most.
        ranked = sorted(item.evidence, key=lambda n: -item.contributions.get(n, 0.0))
        first = next(ev for n in ranked for ev in sorted(item.evidence[n], key=lambda e: -e.weight)
                     if ev.kind == "history_item")  # fmt: skip
        assert movies.catalog.index_of(first.item_id) is not None
        assert first.label in item.reason.text


def test_profile_text_steers_the_list(movies):
    profiles = load_profiles(movies.config.data)
    trace = movies.run(profile_to_context(profiles["space-opera-fan"], movies.catalog))
    top_genres = [set(i.categories) for i in trace.items]
    assert sum(bool({"Sci-Fi", "Adventure", "Action"} & g) for g in top_genres) >= 6
    assert trace.intent.labels[0].label in {"science fiction adventure", "action-packed blockbuster"}


def test_every_example_profile_resolves_and_runs():
    for name in ("movies", "products", "news"):
        pipe = Pipeline(load_config(ROOT / "configs" / f"{name}.toml"))
        profiles = load_profiles(pipe.config.data)
        assert len(profiles) >= 5
        for profile in profiles.values():
            trace = pipe.run(profile_to_context(profile, pipe.catalog))
            assert trace.items, f"{name}/{profile.profile_id} returned nothing"
            if profile.constraints.price_max is not None:
                assert all(i.attributes["price"] <= profile.constraints.price_max for i in trace.items)


def test_sample_catalogs_meet_the_brief():
    for name, min_items in (("products", 150), ("news", 150)):
        pipe = Pipeline(load_config(ROOT / "configs" / f"{name}.toml"))
        cat = pipe.catalog
        assert len(cat) >= min_items and len(cat.category_names()) >= 8
        for item in cat.items:
            sentences = [s for s in item.description.replace("?", ".").split(". ") if s.strip()]
            assert 2 <= len(sentences) <= 5, item.item_id
        if name == "products":
            assert all(
                isinstance(i.attributes.get("price"), float | int) and i.attributes.get("brand") for i in cat.items
            )


def test_unknown_dataset_user(movies):
    with pytest.raises(InputError, match=r"valid ids are 1\.\.943"):
        interactions_to_context(movies.catalog, "5000")
