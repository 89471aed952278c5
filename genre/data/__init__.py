"""Catalog loading: MovieLens-100K from recbole, and the project's JSONL catalogs."""

from __future__ import annotations

import threading

import numpy as np

from genre.config.data import DataConfig
from genre.core.errors import DataError
from genre.core.paths import cache_dir
from genre.core.types import Catalog
from genre.data.jsonl import load_jsonl_catalog
from genre.data.movielens import load_movielens_100k
from genre.data.profiles import Profile, read_profiles
from genre.models import Embedder

_lock = threading.Lock()
_catalogs: dict[str, Catalog] = {}


def load_catalog(cfg: DataConfig) -> Catalog:
    """Load (once per process) the catalog a data config names."""
    key = cfg.model_dump_json()
    with _lock:
        if key not in _catalogs:
            if cfg.loader == "movielens-100k":
                catalog = load_movielens_100k()
            else:
                assert cfg.path is not None
                path = cfg.resolve(cfg.path)
                catalog = load_jsonl_catalog(path, cfg.name or path.parent.name, cfg.popularity_field)
            if cfg.name:
                catalog.name = cfg.name
            _catalogs[key] = catalog
        return _catalogs[key]


def load_profiles(cfg: DataConfig) -> dict[str, Profile]:
    """Example profiles for the config's domain (empty when the config names none)."""
    return read_profiles(cfg.resolve(cfg.profiles)) if cfg.profiles else {}


_embedding_memo: dict[tuple[str, str, str], np.ndarray] = {}


def item_embeddings(catalog: Catalog, embedder: Embedder, progress: bool = False) -> np.ndarray:
    """Unit item embeddings, computed once and cached on disk keyed by catalog text and model."""
    memo_key = (catalog.name, catalog.fingerprint, embedder.name)
    if memo_key in _embedding_memo:
        return _embedding_memo[memo_key]
    path = cache_dir() / "embeddings" / f"{catalog.name}-{catalog.fingerprint}-{embedder.name}.npz"
    vectors: np.ndarray | None = None
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as data:
                vectors = data["vectors"]
        except (OSError, ValueError, KeyError):
            vectors = None  # a truncated or foreign file: recompute and overwrite it
        if vectors is not None and vectors.shape[0] != len(catalog):
            vectors = None
    if vectors is None:
        vectors = embedder.encode([item.text() for item in catalog.items], progress=progress)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".partial.npz")
        np.savez(tmp, vectors=vectors)
        tmp.replace(path)
    _embedding_memo[memo_key] = vectors.astype(np.float32, copy=False)
    return _embedding_memo[memo_key]


__all__ = [
    "DataConfig",
    "DataError",
    "Profile",
    "item_embeddings",
    "load_catalog",
    "load_profiles",
]
