"""Catalog loading: MovieLens-100K from recbole, and the project's JSONL catalogs."""

from __future__ import annotations

import threading

import numpy as np

from genre.config.data import DataConfig
from genre.core.artifacts import ArtifactFiles, ArtifactStore
from genre.core.errors import CorruptArtifactError, DataError
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

EMBEDDINGS_ARTIFACT_VERSION = 1
"""Bump when the item text fed to the embedder or the saved layout changes: older vectors are then a miss."""


def item_embeddings(
    catalog: Catalog, embedder: Embedder, progress: bool = False, notices: list[str] | None = None
) -> np.ndarray:
    """Unit item embeddings, computed once and kept in the artifact store, keyed by catalog text and model.

    A corrupt saved copy is recomputed, with a notice added to ``notices``.
    """
    memo_key = (catalog.name, catalog.fingerprint, embedder.name)
    if memo_key in _embedding_memo:
        return _embedding_memo[memo_key]
    store = ArtifactStore(notices=notices if notices is not None else [])
    artifact = store.artifact(
        f"{catalog.name}-{catalog.fingerprint}", "embeddings", {"embedder": embedder.name}, EMBEDDINGS_ARTIFACT_VERSION
    )

    def read(files: ArtifactFiles) -> np.ndarray:
        vectors = files.arrays("vectors.npz")["vectors"]
        if vectors.ndim != 2 or vectors.shape[0] != len(catalog):
            raise CorruptArtifactError(f"vectors of shape {vectors.shape} for {len(catalog)} items")
        return vectors

    vectors = artifact.load(read, what=f"Item embeddings of {catalog.name}", fallback="recomputed")
    if vectors is None:
        vectors = embedder.encode([item.text() for item in catalog.items], progress=progress)
        artifact.save({"vectors.npz": {"vectors": vectors}})
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
