"""Stage 3 for large catalogs: the filter's candidates, cut to the user vector's nearest items by a faiss index.

Scoring every item of a catalog of a million costs every scorer a million scores per request; this
stage hands the scorers the ``n_candidates`` items whose text embeddings are nearest the user vector
u (the content scorer's measure), found by an approximate index (HNSW or IVF) or exactly (flat).

The filter's rules are the same: the stage is a :class:`CandidateFilter` that computes the filter's
mask first and then searches only among the items it keeps (a faiss ID selector), so seen, excluded,
out-of-price and out-of-category items never come back. Where the filter leaves few items
(``exact_below``), they are ranked exactly instead: an ANN search restricted to a small part of the
catalog walks the graph for little gain.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field, model_validator

from genre.components.ann_index import (
    IndexSpec,
    SearchSpec,
    as_float32,
    build_index,
    deserialize,
    exact_top,
    kind_of,
    search,
    serialize,
)
from genre.components.candidates import CandidateFilter, FilterConfig
from genre.core.errors import CorruptArtifactError
from genre.core.types import CandidateSet, UserState

if TYPE_CHECKING:
    import faiss

    from genre.components.env import Env
    from genre.core.artifacts import ArtifactFiles

NOT_RETRIEVED = "not retrieved"
"""The ``excluded`` reason of items the filter kept but the index did not return among the nearest."""


class AnnConfig(FilterConfig):
    index: Literal["hnsw", "ivf", "flat"] = "ivf"
    """ivf: k-means lists, the smallest index and the fastest build, recall set by nprobe; hnsw: a graph,
    about 8·m bytes per item on top of the vectors, recall set by ef_search; flat: exact search."""
    n_candidates: int = Field(default=500, ge=10, le=100_000)
    """How many of the nearest items go on to the scorers (all the filter keeps when it keeps fewer)."""
    m: int = Field(default=32, ge=4, le=128)
    """HNSW: links per node; more is better recall, more memory and a slower build."""
    ef_construction: int = Field(default=200, ge=16, le=2_000)
    """HNSW: candidate list size while building; more is a better graph and a slower build."""
    ef_search: int = Field(default=2048, ge=16, le=20_000)
    """HNSW: candidate list size while searching (at least n_candidates is used); more is better recall, slower."""
    nlist: int | None = Field(default=None, ge=1, le=65_536)
    """IVF: k-means lists; unset: 2·sqrt(items), 2,000 for a million. Too few items to train them: items/39."""
    nprobe: int = Field(default=128, ge=1, le=65_536)
    """IVF: lists searched per request; more is better recall, slower."""
    exact_below: int = Field(default=20_000, ge=0, le=10_000_000)
    """When the filters leave at most this many items, rank them exactly by u·v instead of through the index."""

    @model_validator(mode="after")
    def _probes_fit(self) -> AnnConfig:
        if self.index == "ivf" and self.nlist is not None and self.nprobe > self.nlist:
            raise ValueError(f"nprobe ({self.nprobe}) cannot exceed nlist ({self.nlist}): it counts lists to visit")
        return self

    def index_spec(self) -> IndexSpec:
        return IndexSpec(self.index, self.m, self.ef_construction, self.nlist)

    def search_spec(self) -> SearchSpec:
        return SearchSpec(self.ef_search, self.nprobe)


class AnnCandidates(CandidateFilter):
    """The filter's candidates nearest the user vector, from a faiss index over the item embeddings."""

    Config = AnnConfig
    config: AnnConfig
    ARTIFACT_VERSION = 1

    def prepare(self, env: Env) -> None:
        super().prepare(env)
        self.vectors = as_float32(env.item_vectors)
        spec = self.config.index_spec().for_size(len(self.catalog))
        # A list count the config asked for and the catalog cannot train is lowered with a notice.
        if spec.kind == "ivf" and self.config.nlist is not None and spec.nlist != self.config.nlist:
            env.notices.append(
                f"The ann candidate stage uses {spec.nlist} IVF lists instead of nlist = {self.config.nlist}: "
                f"the {self.catalog.name} catalog has {len(self.catalog)} items, too few to train more."
            )
        self.spec = spec
        self.index = self._load_or_build(env, spec)

    def _load_or_build(self, env: Env, spec: IndexSpec) -> faiss.Index:
        if spec.kind == "flat":
            return build_index(self.vectors, spec)  # nothing to train: a copy of the vectors
        # Keyed by the vectors themselves: the embedder (and so the vectors) may change under one catalog.
        params = {**spec.params(), "vectors": hashlib.sha256(self.vectors.tobytes()).hexdigest()}
        artifact = env.artifact(f"ann-{spec.kind}", params, self.ARTIFACT_VERSION)
        n, dim = self.vectors.shape

        def read(files: ArtifactFiles) -> faiss.Index:
            index = deserialize(files.arrays("index.npz")["index"])
            if index.ntotal != n or index.d != dim or kind_of(index) != spec.kind:
                raise CorruptArtifactError(
                    f"a {kind_of(index)} index of {index.ntotal} x {index.d}, expected {spec.kind} of {n} x {dim}"
                )
            return index

        index = artifact.load(read, what=f"The {spec.kind} index of {self.catalog.name}", fallback="rebuilt")
        if index is None:
            index = build_index(self.vectors, spec)
            artifact.save({"index.npz": {"index": serialize(index)}})
        return index

    def __call__(self, state: UserState) -> CandidateSet:
        keep, excluded = self.keep_mask(state)
        info: dict[str, Any] = {"index": self.spec.kind, "n_candidates": self.config.n_candidates}
        n_kept = int(keep.sum())
        wanted = self.config.n_candidates
        if state.vector is None or n_kept <= wanted:
            # Nothing to search by (a cold user: popularity ranks them all), or nothing to cut.
            info["search"] = "none (no user vector)" if state.vector is None else "none (few enough items)"
            return CandidateSet(index=np.flatnonzero(keep).astype(np.int64), excluded=excluded, retrieval=info)
        if n_kept <= self.config.exact_below:
            top = exact_top(self.vectors, state.vector, np.flatnonzero(keep), wanted)
            info["search"] = "exact (filtered to few items)"
        else:
            allowed = keep if n_kept < keep.size else None
            _, ids = search(self.index, state.vector, wanted, self.config.search_spec(), allowed)
            top = ids[0][ids[0] >= 0]
            info["search"] = self.spec.kind
        index = np.sort(top.astype(np.int64))
        return CandidateSet(index=index, excluded={**excluded, NOT_RETRIEVED: n_kept - index.size}, retrieval=info)
