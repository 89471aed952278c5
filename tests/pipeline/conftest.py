"""Pipelines for the pipeline-layer tests: the tiny catalog, and the clustered one with interactions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from genre.config import parse_config
from genre.core.types import Catalog
from genre.pipeline import Pipeline
from tests.conftest import HashEmbedder, clustered_catalog, tiny_config_dict

SEQUENTIAL = {
    "name": "clustered",
    "device": "cpu",
    "k": 5,
    "data": {"loader": "movielens-100k"},  # replaced by the clustered catalog
    "intent": {"component": "zero-shot", "config": {"labels": ["thing 0", "thing 1", "thing 2", "thing 3"]}},
    "scorers": {
        "popularity": {"component": "popularity"},
        "itemknn": {"component": "itemknn", "config": {"neighbors": 10}},
        "content": {"component": "content"},
        "sasrec": {"component": "sasrec", "config": {"hidden": 16, "heads": 2, "layers": 1, "epochs": 2}},
    },
    "fusion": {"component": "weighted", "config": {"weights": {"itemknn": 1.0, "sasrec": 0.5, "popularity": 0.1}}},
    "rerank": [{"component": "mmr", "config": {}}],
}
"""A config with a sequential scorer (attention views) and a re-ranker, over the clustered catalog."""


def hash_embedder(device: str) -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture
def clustered() -> Catalog:
    return clustered_catalog(users_per_cluster=10)


@pytest.fixture
def clustered_pipeline(clustered, cache) -> Callable[..., Pipeline]:
    """Builds pipelines over the clustered catalog: ``make(**overrides)`` of :data:`SEQUENTIAL`."""

    def make(**overrides: Any) -> Pipeline:
        return Pipeline(parse_config({**SEQUENTIAL, **overrides}), hash_embedder, catalog=clustered)

    return make


@pytest.fixture
def tiny_pipeline_with(tiny_catalog_file, cache) -> Callable[..., Pipeline]:
    """Builds pipelines over the tiny catalog: ``make(**overrides)`` of the tiny config."""

    def make(**overrides: Any) -> Pipeline:
        return Pipeline(parse_config(tiny_config_dict(tiny_catalog_file, **overrides)), hash_embedder)

    return make
