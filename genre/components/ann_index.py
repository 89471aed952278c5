"""Approximate nearest-neighbour indexes over unit item vectors (faiss): build, (de)serialize, search.

Inner product on unit vectors, i.e. cosine similarity, the measure the content scorer ranks by. The
ANN candidate stage and ``bench/ann_candidates.py`` both build and search through these functions,
so the benchmark's figures are the component's.

faiss is an optional dependency (the ``serve`` extra); it is imported when an index is first built
or read, so importing this module needs nothing beyond numpy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from genre.core.errors import ConfigError

if TYPE_CHECKING:
    import faiss

IndexKind = Literal["hnsw", "ivf", "flat"]
INDEX_KINDS: tuple[str, ...] = ("hnsw", "ivf", "flat")
MIN_POINTS_PER_LIST = 39
"""faiss's k-means wants at least this many training points per IVF list; fewer lists are used otherwise."""


def faiss_module() -> Any:
    """The faiss module, or a ConfigError saying how to install it."""
    try:
        import faiss
    except ImportError as exc:
        raise ConfigError(
            f"the ann candidate stage needs faiss ({exc}); install it with pip install 'genre[serve]' (faiss-cpu)"
        ) from exc
    return faiss


@dataclass(frozen=True)
class IndexSpec:
    """What an index is built with: its kind and build-time parameters (search-time ones are separate)."""

    kind: IndexKind = "hnsw"
    m: int = 32
    """HNSW: links per node; more is better recall and more memory (about 8·m bytes per item)."""
    ef_construction: int = 200
    """HNSW: candidate list size while inserting; more is a better graph and a slower build."""
    nlist: int | None = None
    """IVF: number of k-means lists; None: about 2·sqrt(items) (see :meth:`for_size`)."""

    def for_size(self, n_items: int) -> IndexSpec:
        """This spec with ``nlist`` settled for ``n_items``: 2·sqrt(n_items) when unset, and never more
        than ``n_items`` can train (k-means needs points per list)."""
        if self.kind != "ivf":
            return self
        wanted = self.nlist if self.nlist is not None else round(2 * math.sqrt(n_items))
        nlist = max(1, min(wanted, n_items // MIN_POINTS_PER_LIST))
        return IndexSpec(self.kind, self.m, self.ef_construction, nlist)

    def params(self) -> dict[str, Any]:
        """The parameters that change the built index (the artifact key)."""
        if self.kind == "hnsw":
            return {"kind": "hnsw", "m": self.m, "ef_construction": self.ef_construction}
        if self.kind == "ivf":
            return {"kind": "ivf", "nlist": self.nlist}
        return {"kind": "flat"}


@dataclass(frozen=True)
class SearchSpec:
    """Search-time parameters: changing them needs no rebuild."""

    ef_search: int = 256
    """HNSW: candidate list size while searching (at least the number of neighbours asked for)."""
    nprobe: int = 32
    """IVF: lists visited per query."""


def as_float32(vectors: np.ndarray) -> np.ndarray:
    """C-contiguous float32 rows, as faiss takes them."""
    return np.ascontiguousarray(vectors, dtype=np.float32)


def build_index(vectors: np.ndarray, spec: IndexSpec, *, seed: int = 1234) -> faiss.Index:
    """An inner-product index of ``vectors`` (unit rows), of ``spec.kind``; IVF is trained on them first."""
    lib = faiss_module()
    data = as_float32(vectors)
    n, dim = data.shape
    spec = spec.for_size(n)
    if spec.kind == "hnsw":
        index = lib.IndexHNSWFlat(dim, spec.m, lib.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = spec.ef_construction
    elif spec.kind == "ivf":
        quantizer = lib.IndexFlatIP(dim)
        index = lib.IndexIVFFlat(quantizer, dim, spec.nlist, lib.METRIC_INNER_PRODUCT)
        index.cp.seed = seed
        # k-means on a sample: faiss caps it at max_points_per_centroid x nlist anyway.
        index.train(data)
    elif spec.kind == "flat":
        index = lib.IndexFlatIP(dim)
    else:
        raise ConfigError(f"unknown ANN index kind {spec.kind!r}; valid: {', '.join(INDEX_KINDS)}")
    index.add(data)
    return index


def serialize(index: faiss.Index) -> np.ndarray:
    """The index as a uint8 array (what the artifact store saves in an npz)."""
    return np.asarray(faiss_module().serialize_index(index), dtype=np.uint8)


def deserialize(data: np.ndarray) -> faiss.Index:
    """The index :func:`serialize` wrote."""
    return faiss_module().deserialize_index(np.ascontiguousarray(data, dtype=np.uint8))


def kind_of(index: faiss.Index) -> IndexKind:
    """Which of the kinds ``index`` is (a read-back index is checked against its key with this)."""
    lib = faiss_module()
    if isinstance(index, lib.IndexHNSW):
        return "hnsw"
    if isinstance(index, lib.IndexIVF):
        return "ivf"
    return "flat"


def search(
    index: faiss.Index,
    queries: np.ndarray,
    k: int,
    search_spec: SearchSpec,
    allowed: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(scores, ids), each (n_queries, k), best first; id -1 where fewer than ``k`` were found.

    ``allowed``: a boolean mask over the indexed items (dtype bool); only those are returned (faiss still walks the
    others, so an HNSW graph stays connected). Parameters go per call, never set on the shared index,
    so concurrent searches with different settings do not see each other's.
    """
    lib = faiss_module()
    selector, bits = None, None
    if allowed is not None:
        bits = np.packbits(allowed, bitorder="little")
        selector = lib.IDSelectorBitmap(allowed.size, lib.swig_ptr(bits))
    kind = kind_of(index)
    params: Any
    if kind == "hnsw":
        params = lib.SearchParametersHNSW(efSearch=max(search_spec.ef_search, k))
    elif kind == "ivf":
        params = lib.SearchParametersIVF(nprobe=min(search_spec.nprobe, lib.extract_index_ivf(index).nlist))
    else:
        params = lib.SearchParameters()
    if selector is not None:
        params.sel = selector
    scores, ids = index.search(as_float32(np.atleast_2d(queries)), k, params=params)
    # ``bits`` must outlive the search: the selector only points at it.
    del selector, bits
    return scores, ids


def exact_top(vectors: np.ndarray, query: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` rows of ``rows`` (catalog indices) with the largest inner product with ``query``."""
    if rows.size <= k:
        return rows
    sims = vectors[rows] @ query.astype(vectors.dtype)
    return rows[np.argpartition(-sims, k - 1)[:k]]


def index_bytes(index: faiss.Index) -> int:
    """The serialized size of ``index``: what it holds in memory, within a few percent."""
    return int(serialize(index).size)
