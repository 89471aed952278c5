"""Catalog loading: MovieLens-100K from recbole, and the project's JSONL catalogs."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from genre.data.jsonl import load_jsonl_catalog
from genre.data.movielens import load_movielens_100k
from genre.data.profiles import Profile, read_profiles
from genre.errors import DataError
from genre.models import Embedder
from genre.paths import PROJECT_ROOT, cache_dir
from genre.types import Catalog

CatalogLoader = Literal["movielens-100k", "jsonl"]


class DataConfig(BaseModel):
    """Where a pipeline's items, interactions and example profiles come from."""

    model_config = ConfigDict(extra="forbid")

    loader: CatalogLoader
    """`movielens-100k` reads the copy inside the installed recbole package; `jsonl` reads `path`."""
    path: str | None = None
    """JSONL catalog file (relative paths resolve against the project root)."""
    name: str | None = None
    """Catalog name shown in messages and used in cache keys; defaults to the file's folder name."""
    profiles: str | None = None
    """Optional JSON array of example profiles (see sample_data/*/profiles.json)."""
    popularity_field: str | None = Field(default=None, min_length=1)
    """Item attribute used as the popularity signal when the catalog has no interactions."""

    @model_validator(mode="after")
    def _needs_path(self) -> DataConfig:
        if self.loader == "jsonl" and not self.path:
            raise ValueError("loader 'jsonl' needs `path` (the catalog file)")
        if self.loader == "movielens-100k" and self.path:
            raise ValueError("loader 'movielens-100k' takes no `path`: it reads the installed recbole package")
        return self

    def resolve(self, path: str) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else PROJECT_ROOT / p


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
