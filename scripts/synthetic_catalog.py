"""Write a SYNTHETIC item-embedding catalog (default 1,000,000 items x 128 dims) and user-like queries.

    python scripts/synthetic_catalog.py                      # ~/.cache/genre/synthetic/items-1000000x128.npy
    python scripts/synthetic_catalog.py --items 100000 --dim 384 --out /tmp/synth

Embeddings only: no titles, no users, no interactions. Nothing here comes from a real catalog; the
files say so in their name's folder and in ``meta-<items>x<dim>.json``. ``bench/ann_candidates.py``
reads them to measure the ANN candidate stage at a size no sample catalog has.

Why this shape. Isotropic Gaussian noise in 128 dimensions is the worst case for any ANN index and
nothing like text embeddings; one tight blob per cluster is the easy case, and a cluster count that
matches the IVF list count flatters IVF. The mixture here has two levels (200 topics, 10,000 clusters
of uneven size around them) and is shaped after the statistics of the sentence embedder's item vectors
(all-MiniLM-L6-v2, 384-d) on the project's catalogs: a shared direction (norm of the mean unit vector
0.3-0.7; 0.62 here), a power-law variance spectrum (participation ratio 40-60; about 50 here), mean
pairwise cosine 0.1-0.45 (0.38 here) and nearest-neighbour cosine among 1,682 items 0.65-0.75 (0.73
here). The default 128 dimensions are what a deployment with a million items would store (PCA or a
Matryoshka cut of the embedder to 128 keeps most of that spectrum and a third of the memory: 1M x 128
float32 is 512 MB, x 384 is 1.5 GB); ``--dim 384`` writes the embedder's own width.

Queries are built as the context stage builds u: a recency-weighted mean of 5-30 "history" items,
normalised, drawn from one to three clusters (``queries-*``) or from five to twelve
(``queries-broad-*``). They are not catalog items, so the nearest item is not the query itself.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

DEFAULT_OUT = Path.home() / ".cache" / "genre" / "synthetic"
VERSION = 3
"""Of the generator: files written by another version are rewritten by the benchmark, never reused."""
CHUNK = 100_000


def mixture(
    n_items: int,
    dim: int,
    *,
    n_topics: int = 200,
    n_clusters: int = 10_000,
    seed: int = 0,
    alpha: float = 0.7,
    topic_spread: float = 0.7,
    spread: float = 0.8,
    shared: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(unit item vectors float32 (n_items, dim), cluster of each item) from a two-level Gaussian mixture.

    Clusters sit around topics (``topic_spread``), items around clusters (``spread``), so there is
    structure at more than one scale and no single IVF list count lines up with it. ``alpha``: the
    variance spectrum falls as rank^-alpha (in a random orthonormal basis); ``shared``: weight of the
    direction every item shares. The defaults give the statistics in the module docstring.
    """
    gen = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(gen.standard_normal((dim, dim)))
    spectrum = np.arange(1, dim + 1, dtype=np.float64) ** -alpha
    scale = np.sqrt(spectrum / spectrum.sum() * dim)  # per-direction std, mean variance 1

    def directions(n: int) -> np.ndarray:
        return (gen.standard_normal((n, dim)) * scale) @ basis.T / np.sqrt(dim)

    common = gen.standard_normal(dim)
    common /= np.linalg.norm(common)
    topics = directions(n_topics)
    topics /= np.linalg.norm(topics, axis=1, keepdims=True)
    centres = topics[gen.integers(0, n_topics, size=n_clusters)] + topic_spread * directions(n_clusters)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    # Uneven cluster sizes, as catalogs have big and small genres.
    weights = gen.dirichlet(np.full(n_clusters, 2.0))
    labels = gen.choice(n_clusters, size=n_items, p=weights)
    out = np.empty((n_items, dim), dtype=np.float32)
    for start in range(0, n_items, CHUNK):
        stop = min(n_items, start + CHUNK)
        rows = shared * common + centres[labels[start:stop]] + spread * directions(stop - start)
        out[start:stop] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return out, labels.astype(np.int32)


def user_queries(
    items: np.ndarray,
    labels: np.ndarray,
    n_queries: int,
    *,
    seed: int = 1,
    clusters: tuple[int, int] = (1, 3),
    half_life_items: float = 10.0,
) -> np.ndarray:
    """Unit query vectors (n_queries, dim) made like the context stage's u from synthetic histories.

    Each history draws from ``clusters`` (least, most) clusters: (1, 3) is a user with a few tastes,
    whose nearest items sit in a few clusters; a broad user (5, 12) mixes many, and is harder for IVF.
    """
    gen = np.random.default_rng(seed)
    order = np.argsort(labels, kind="stable")
    present, starts, counts = np.unique(labels[order], return_index=True, return_counts=True)
    out = np.empty((n_queries, items.shape[1]), dtype=np.float32)
    for row in range(n_queries):
        size = min(present.size, int(gen.integers(clusters[0], clusters[1] + 1)))
        picked = gen.choice(present.size, size=size, replace=False)
        pool = np.concatenate([order[starts[c] : starts[c] + counts[c]] for c in picked])
        length = int(gen.integers(5, 31))
        history = items[gen.choice(pool, size=length)]
        weights = 0.5 ** (np.arange(length - 1, -1, -1) / half_life_items)
        vector = weights @ history
        out[row] = vector / np.linalg.norm(vector)
    return out


def paths(out: Path, n_items: int, dim: int) -> dict[str, Path]:
    """Where the items, queries and description of one size are written."""
    tag = f"{n_items}x{dim}"
    return {
        "items": out / f"items-{tag}.npy",
        "queries": out / f"queries-{tag}.npy",
        "broad": out / f"queries-broad-{tag}.npy",
        "meta": out / f"meta-{tag}.json",
    }


def write(out: Path, n_items: int, dim: int, n_queries: int, seed: int) -> dict[str, Path]:
    """Generate and save one synthetic catalog; returns its paths."""
    out.mkdir(parents=True, exist_ok=True)
    where = paths(out, n_items, dim)
    items, labels = mixture(n_items, dim, seed=seed)
    queries = user_queries(items, labels, n_queries, seed=seed + 1)
    np.save(where["items"], items)
    np.save(where["queries"], queries)
    np.save(where["broad"], user_queries(items, labels, n_queries, seed=seed + 2, clusters=(5, 12)))
    meta = {
        "synthetic": True,
        "version": VERSION,
        "description": "SYNTHETIC item embeddings from a clustered Gaussian mixture (scripts/synthetic_catalog.py); "
        "not derived from any real catalog, users or interactions",
        "items": n_items,
        "dim": dim,
        "queries": n_queries,
        "seed": seed,
        "dtype": "float32",
        "unit_norm": True,
    }
    where["meta"].write_text(json.dumps(meta, indent=2))
    return where


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000, help="catalog size (default 1,000,000)")
    parser.add_argument("--dim", type=int, default=128, help="embedding width (default 128; 384 = the embedder's)")
    parser.add_argument("--queries", type=int, default=2_000, help="user-like query vectors (default 2,000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"folder (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    for name, value, low in (("--items", args.items, 1_000), ("--dim", args.dim, 8), ("--queries", args.queries, 1)):
        if value < low:
            print(f"{name} must be at least {low}, got {value}", file=sys.stderr)
            return 2
    started = time.perf_counter()
    where = write(args.out, args.items, args.dim, args.queries, args.seed)
    print(
        f"SYNTHETIC catalog: {args.items:,} items x {args.dim} dims, {args.queries:,} queries "
        f"in {time.perf_counter() - started:.1f} s -> {where['items'].parent}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
