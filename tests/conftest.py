"""Shared fixtures: a seeded rng, a tiny JSONL catalog, and a deterministic test-only embedder."""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from genre.components.env import Env
from genre.config import DataConfig, parse_config
from genre.core.types import Catalog
from genre.data import load_catalog

ROOT = Path(__file__).resolve().parent.parent

TINY_ITEMS = [
    {"item_id": "a", "title": "Alpine Tent", "category": "Outdoor", "tags": ["tent", "camping"],
     "description": "A light tent for mountain camping trips.", "attributes": {"brand": "Northwind", "price": 300.0, "reviews": 900}},
    {"item_id": "b", "title": "Summit Sleeping Bag", "category": "Outdoor", "tags": ["camping", "sleeping"],
     "description": "A warm sleeping bag for camping in the mountains.", "attributes": {"brand": "Northwind", "price": 180.0, "reviews": 400}},
    {"item_id": "c", "title": "Trail Stove", "category": "Outdoor", "tags": ["camping", "cooking"],
     "description": "A compact stove for cooking on camping trips.", "attributes": {"brand": "Kestrel", "price": 60.0, "reviews": 50}},
    {"item_id": "d", "title": "Chef Knife", "category": "Kitchen", "tags": ["cooking", "knife"],
     "description": "A sharp steel knife for the home kitchen.", "attributes": {"brand": "Forge", "price": 90.0, "reviews": 2000}},
    {"item_id": "e", "title": "Cast Iron Pan", "category": "Kitchen", "tags": ["cooking", "pan"],
     "description": "A heavy pan for searing and baking in the kitchen.", "attributes": {"brand": "Forge", "price": 45.0, "reviews": 1500}},
    {"item_id": "f", "title": "Pour Over Kettle", "category": "Coffee", "tags": ["coffee", "kettle"],
     "description": "A gooseneck kettle for pour over coffee.", "attributes": {"brand": "Brewline", "price": 70.0, "reviews": 300}},
    {"item_id": "g", "title": "Burr Grinder", "category": "Coffee", "tags": ["coffee", "grinder"],
     "description": "A burr grinder for fresh coffee at home.", "attributes": {"brand": "Brewline", "price": 150.0, "reviews": 700}},
    {"item_id": "h", "title": "Field Notebook", "category": "Stationery", "tags": ["paper", "writing"],
     "description": "A waterproof notebook for writing outdoors.", "attributes": {"brand": "Kestrel", "price": 12.0, "reviews": 5}},
]  # fmt: skip


class HashEmbedder:
    """Test-only stand-in for the sentence embedder: hashed bag of words, unit-normalized."""

    name = "hash-test"
    device = "cpu"
    dim = 4096
    stopwords = frozenset({"for", "the", "and", "with", "categories", "tags", "home"})

    def encode(self, texts, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z]+", text.lower()):
                if len(word) > 2 and word not in self.stopwords:
                    out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
            norm = np.linalg.norm(out[row])
            if norm:
                out[row] /= norm
        return out


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261127)


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "cache"
    monkeypatch.setenv("GENRE_CACHE_DIR", str(path))
    return path


@pytest.fixture
def tiny_catalog_file(tmp_path) -> Path:
    path = tmp_path / "tiny" / "items.jsonl"
    path.parent.mkdir()
    path.write_text("\n".join(json.dumps(r) for r in TINY_ITEMS) + "\n")
    return path


@pytest.fixture
def tiny_catalog(tiny_catalog_file, cache) -> Catalog:
    return load_catalog(
        DataConfig(loader="jsonl", path=str(tiny_catalog_file), name="tiny", popularity_field="reviews")
    )


@pytest.fixture
def tiny_env(tiny_catalog) -> Env:
    return Env(tiny_catalog, "cpu", lambda device: HashEmbedder())


def tiny_config_dict(catalog_file: Path, **overrides) -> dict:
    cfg = {
        "name": "tiny",
        "device": "cpu",
        "k": 3,
        "data": {"loader": "jsonl", "path": str(catalog_file), "name": "tiny", "popularity_field": "reviews"},
        "intent": {"component": "zero-shot", "config": {"labels": ["camping gear", "kitchen tools", "coffee"]}},
        "scorers": {
            "popularity": {"component": "popularity", "config": {"count_label": "reviews"}},
            "content": {"component": "content"},
        },
        "fusion": {"component": "weighted", "config": {"weights": {"popularity": 0.3, "content": 0.7}}},
    }
    cfg.update(overrides)
    return cfg


@pytest.fixture
def tiny_pipeline(tiny_catalog_file, cache):
    from genre.pipeline import Pipeline

    return Pipeline(parse_config(tiny_config_dict(tiny_catalog_file)), embedder_factory=lambda device: HashEmbedder())


TINY_EVENTS = [  # (user, item): campers, cooks, coffee people and two mixed users
    ("u1", "a"), ("u1", "b"), ("u1", "c"),
    ("u2", "a"), ("u2", "b"),
    ("u3", "d"), ("u3", "e"),
    ("u4", "f"), ("u4", "g"),
    ("u5", "a"), ("u5", "c"), ("u5", "f"),
    ("u6", "d"), ("u6", "f"), ("u6", "g"),
]  # fmt: skip


@pytest.fixture
def tiny_cf_env(tiny_catalog) -> Env:
    """The tiny catalog with interactions, for scorers that learn from them."""
    from genre.core.types import Catalog, Interactions

    users = np.array([u for u, _ in TINY_EVENTS])
    items = np.array([tiny_catalog.index_of(i) for _, i in TINY_EVENTS], dtype=np.int64)
    inter = Interactions(users, items, np.arange(len(TINY_EVENTS), dtype=np.float64), np.full(len(TINY_EVENTS), 5.0))
    catalog = Catalog(name="tiny-cf", items=tiny_catalog.items, interactions=inter)
    return Env(catalog, "cpu", lambda device: HashEmbedder())


def clustered_catalog(n_clusters: int = 4, per_cluster: int = 10, users_per_cluster: int = 40, seed: int = 7):
    """Synthetic catalog where users only consume items of their own cluster, in time order.

    Popularity is flat by construction, so only scorers that use co-occurrence can do well.
    """
    from genre.core.types import Catalog, Interactions, Item

    gen = np.random.default_rng(seed)
    items = [
        Item(item_id=f"i{c}{j:02d}", title=f"Item {c}-{j}", categories=(f"cluster{c}",), description=f"thing {c}")
        for c in range(n_clusters)
        for j in range(per_cluster)
    ]
    users, idx, ts = [], [], []
    for c in range(n_clusters):
        for u in range(users_per_cluster):
            picks = gen.choice(per_cluster, size=8, replace=False) + c * per_cluster
            for t, i in enumerate(picks):
                users.append(f"c{c}u{u}")
                idx.append(int(i))
                ts.append(1_700_000_000.0 + 86400.0 * t + u)
    inter = Interactions(np.array(users), np.array(idx, dtype=np.int64), np.array(ts), np.full(len(idx), 4.0))
    return Catalog(name="clustered", items=items, interactions=inter)


# ---- the feedback store on SQLite and on PostgreSQL -------------------------------------------

PG_URL_ENV = "GENRE_TEST_PG_URL"
"""Set by scripts/pg_test_server.sh (``make test``): a PostgreSQL database the store tests may use."""


def pg_test_url() -> str:
    """``$GENRE_TEST_PG_URL``; skips without it, except in CI (``CI=true``, as .ci/run sets), where it fails."""
    url = os.environ.get(PG_URL_ENV)
    if url:
        return url
    if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
        pytest.fail(f"{PG_URL_ENV} is not set in CI: run the tests through scripts/pg_test_server.sh (make test)")
    pytest.skip(f"no PostgreSQL server: set {PG_URL_ENV} or run `scripts/pg_test_server.sh pytest ...`")


def pg_schema_url(tag: str) -> Iterator[str]:
    """A fresh schema in the test server, as a URL whose connections use it alone; dropped afterwards."""
    base = sa.engine.make_url(pg_test_url())
    schema = f"t_{tag}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        yield base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> Iterator[str]:
    """A URL of an empty feedback database: a SQLite file, or a fresh schema on the PostgreSQL test server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fb' / 'feedback.sqlite3'}"
    else:
        yield from pg_schema_url("s")


@pytest.fixture(autouse=True)
def _user_id_key(monkeypatch) -> str:
    """A fixed pseudonymisation key, so no test writes one into the real cache dir."""
    key = "test-key-0123456789abcdef0123456789abcdef"
    monkeypatch.setenv("GENRE_USER_ID_KEY", key)
    return key


@pytest.fixture
def other_url(store_url, tmp_path) -> Iterator[str]:
    """A second empty database on the same backend as ``store_url`` (to import into)."""
    if store_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'other' / 'feedback.sqlite3'}"
    else:
        yield from pg_schema_url("o")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh schema on the PostgreSQL test server alone (for what only a server can do)."""
    yield from pg_schema_url("p")
