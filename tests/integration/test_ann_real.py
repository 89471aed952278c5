"""Integration: the ann candidate stage on the real embedder's item vectors, in the shipped configs."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest

from genre import Pipeline
from genre.components.candidates_ann import NOT_RETRIEVED
from genre.config import parse_config
from genre.core.types import Constraints, UserContext
from genre.data.profiles import interactions_to_context
from tests.conftest import ROOT

pytestmark = pytest.mark.integration


def config_with_ann(name: str, ann: dict, keep_scorers: tuple[str, ...] | None = None):
    data = tomllib.loads((ROOT / "configs" / f"{name}.toml").read_text())
    data["candidates"] = {"component": "ann", "config": ann}
    if keep_scorers is not None:
        # Only scorers that train nothing: the test is about the candidates, not about training.
        data["scorers"] = {k: v for k, v in data["scorers"].items() if k in keep_scorers}
        data["fusion"] = {"component": "weighted", "config": {"weights": dict.fromkeys(keep_scorers, 1.0)}}
    return parse_config(data)


def nearest_share(pipe: Pipeline, vector: np.ndarray, found: list[int], allowed: np.ndarray) -> float:
    vectors = pipe.env.item_vectors
    exact = allowed[np.argsort(-(vectors[allowed] @ vector), kind="stable")[: len(found)]]
    return len(set(found) & set(exact.tolist())) / len(found)


def test_movielens_user_1_gets_the_200_nearest_unseen_films():
    pipe = Pipeline(
        config_with_ann("movies", {"index": "hnsw", "n_candidates": 200, "exact_below": 0}, ("popularity", "content"))
    )
    ctx = interactions_to_context(pipe.catalog, "1")
    trace = pipe.run(ctx)
    assert trace.candidates["count"] == 200
    assert trace.candidates["excluded"] == {"seen": 272, NOT_RETRIEVED: 1682 - 272 - 200}
    assert trace.candidates["retrieval"] == {"index": "hnsw", "n_candidates": 200, "search": "hnsw"}
    seen = {e.item_id for e in ctx.history}
    assert len(trace.items) == 10 and not seen & {i.item_id for i in trace.items}

    state = pipe.context(ctx)
    found = pipe.candidates(state).index.tolist()
    unseen = np.setdiff1d(np.arange(len(pipe.catalog)), state.seen_index)
    assert nearest_share(pipe, state.vector, found, unseen) >= 0.95


def test_products_ivf_keeps_price_and_category_constraints():
    pipe = Pipeline(
        config_with_ann("products", {"index": "ivf", "n_candidates": 20, "nlist": 4, "nprobe": 4, "exact_below": 0})
    )
    wanted = {"Coffee & Tea", "Kitchen & Dining"}
    ctx = UserContext(
        profile="I brew pour-over coffee every morning and want a better grinder.",
        constraints=Constraints(price_max=300, categories=sorted(wanted)),
    )
    trace = pipe.run(ctx)
    assert trace.candidates["count"] == 20
    assert trace.candidates["retrieval"] == {"index": "ivf", "n_candidates": 20, "search": "ivf"}
    assert sum(trace.candidates["excluded"].values()) == len(pipe.catalog) - 20
    state = pipe.context(ctx)
    found = pipe.candidates(state).index.tolist()
    allowed = np.array(
        [i for i, item in enumerate(pipe.catalog.items) if item.price <= 300 and wanted & set(item.categories)]
    )
    assert set(found) <= set(allowed.tolist())
    # Every list probed: IVF is exact here.
    assert nearest_share(pipe, state.vector, found, allowed) == 1.0
    assert {i.item_id for i in trace.items} <= {pipe.catalog.items[i].item_id for i in found}
