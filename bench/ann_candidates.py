"""The ANN candidate stage at catalog scale: build time, memory, recall@k against exact search, latency.

Usage: PYTHONPATH=. .venv/bin/python bench/ann_candidates.py [--items 1000000] [--dim 128] [--queries 1000]
       [--nlist N] [--nprobe 32,64,128] [--ef-search 256,512] [--query-kinds user,broad] [--only hnsw|ivf]

Reads (or first writes) the SYNTHETIC catalog of scripts/synthetic_catalog.py under
~/.cache/genre/synthetic: embeddings only, documented as synthetic there. Builds each index through
``genre.components.ann_index.build_index`` and searches it through ``search``, the functions the
``ann`` candidate stage uses, with faiss on ``--threads`` threads (2: the target machine's cores).

Per index setting it prints:
- build time and memory: the serialized index size and the process's resident-memory growth;
- recall@k: the share of the exact top-k (faiss IndexFlatIP, inner product on unit vectors) found;
- latency of one query at a time, p50/p95/p99 in ms, twice: the bare index search, and as the ``ann`` stage
  searches for a user with history (the filter's mask without the user's 20 "seen" items, its count, the
  allowed-items selector, the sorted result, all inside the timed call; recall against the exact top-k of the allowed items).
Targets (issue 16): recall@200 >= 0.95 and p95 <= 20 ms on 2 cores.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from genre.components.ann_index import IndexSpec, SearchSpec, build_index, faiss_module, index_bytes, search

ROOT = Path(__file__).resolve().parent.parent
SEEN = 20
"""Items removed from each filtered query's allowed set, as a user's history is."""


def synthetic_module():
    spec = importlib.util.spec_from_file_location("synthetic_catalog", ROOT / "scripts" / "synthetic_catalog.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load(folder: Path, n_items: int, dim: int, n_queries: int, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """The synthetic items and the first ``n_queries`` queries, written first when missing."""
    synth = synthetic_module()
    where = synth.paths(folder, n_items, dim)
    stale = not where["meta"].exists() or json.loads(where["meta"].read_text()).get("version") != synth.VERSION
    if stale or not where["items"].exists():
        started = time.perf_counter()
        synth.write(folder, n_items, dim, max(n_queries, 2_000), 0)
        print(f"wrote the SYNTHETIC catalog in {time.perf_counter() - started:.1f} s: {where['items']}")
    meta = json.loads(where["meta"].read_text())
    assert meta["synthetic"], f"{where['meta']} does not describe a synthetic catalog"
    items = np.load(where["items"])
    queries = np.load(where["queries" if kind == "user" else "broad"])
    if queries.shape[0] < n_queries:
        raise SystemExit(f"{where['queries']} holds {queries.shape[0]} queries; rerun the script with --queries")
    return items, queries[:n_queries]


def rss() -> int:
    """Resident memory of this process, bytes."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def seen_sets(n_items: int, n_queries: int, seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n_items, size=(n_queries, SEEN))


def exact(items: np.ndarray, queries: np.ndarray, k: int, seen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k ids per query: unfiltered, and without each query's seen items."""
    faiss = faiss_module()
    flat = faiss.IndexFlatIP(items.shape[1])
    flat.add(items)
    _, ids = flat.search(queries, k + SEEN)
    filtered = np.empty((len(queries), k), dtype=np.int64)
    for row in range(len(queries)):
        keep = ids[row][~np.isin(ids[row], seen[row])]
        filtered[row] = keep[:k]
    return ids[:, :k], filtered


def recall(found: list[np.ndarray], truth: np.ndarray) -> float:
    k = truth.shape[1]
    return float(np.mean([np.intersect1d(f[f >= 0], t).size / k for f, t in zip(found, truth, strict=True)]))


def measure(index, queries: np.ndarray, k: int, spec: SearchSpec, seen: np.ndarray | None, n_items: int):
    """(ids per query, latencies in ms). With ``seen``, the timed call also does the stage's array work
    around the search: the filter's keep mask, its count, the allowed-items selector, the sorted result."""
    out, lat = [], []
    for row, query in enumerate(queries):
        started = time.perf_counter()
        if seen is None:
            _, ids = search(index, query, k, spec)
            found = ids[0]
        else:
            keep = np.ones(n_items, dtype=bool)
            keep[seen[row]] = False
            int(keep.sum())  # the stage counts what the filter kept
            _, ids = search(index, query, k, spec, keep)
            found = np.sort(ids[0][ids[0] >= 0])
        lat.append((time.perf_counter() - started) * 1000)
        out.append(found)
    return out, np.array(lat)


def pct(lat: np.ndarray) -> str:
    p50, p95, p99 = np.percentile(lat, [50, 95, 99])
    return f"{p50:.2f} / {p95:.2f} / {p99:.2f}"


class RowEmbedder:
    """Stand-in for the sentence embedder: item ``i``'s text is its title ``item-<i>``, its vector row ``i``."""

    name = "synthetic-rows"
    device = "cpu"

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors = vectors

    def encode(self, texts, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        return self.vectors[[int(t.split()[0].removeprefix("item-")) for t in texts]]


def measure_stage(items: np.ndarray, queries: np.ndarray, seen: np.ndarray, k: int, cache: Path) -> None:
    """The ``ann`` stage itself, with its default config, on a catalog of the synthetic vectors: prepare
    time (index built and saved), then per-call latency for users with 20 seen items and a vector."""
    from genre.components.candidates_ann import AnnCandidates
    from genre.components.env import Env
    from genre.core.types import Catalog, HistoryEvent, Item, UserContext, UserState

    os.environ["GENRE_CACHE_DIR"] = str(cache)
    catalog = Catalog(
        name=f"synthetic-{len(items)}", items=[Item(item_id=str(i), title=f"item-{i}") for i in range(len(items))]
    )
    env = Env(catalog, "cpu", lambda device: RowEmbedder(items))
    stage = AnnCandidates({"n_candidates": k})
    started = time.perf_counter()
    stage.prepare(env)
    print(
        f"ann stage (defaults: {stage.spec.kind}, nlist {stage.spec.nlist}, nprobe {stage.config.nprobe}): "
        f"prepared in {time.perf_counter() - started:.1f} s (embeddings cached, index built and saved)"
    )
    lat, found = [], []
    for row, query in enumerate(queries):
        ctx = UserContext(history=[HistoryEvent(item_id=str(i)) for i in seen[row]])
        state = UserState(
            context=ctx,
            history_index=seen[row],
            history_weights=np.full(SEEN, 1 / SEEN),
            vector=query.astype(np.float64),
            seen_index=seen[row],
        )
        started = time.perf_counter()
        out = stage(state)
        lat.append((time.perf_counter() - started) * 1000)
        found.append(out.index)
    # Exact answers after the timed loop: scanning every vector between calls would time the calls cold.
    rec = []
    for row, query in enumerate(queries):
        sims = items @ query
        sims[seen[row]] = -np.inf
        rec.append(np.intersect1d(found[row], np.argpartition(-sims, k)[:k]).size / k)
    print(
        f"ann stage call (filter + search + result): recall@{k} {np.mean(rec):.3f}, p50/p95/p99 {pct(np.array(lat))} ms"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--queries", type=int, default=1_000)
    ap.add_argument("-k", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", type=Path, default=Path.home() / ".cache" / "genre" / "synthetic")
    ap.add_argument("--m", type=int, default=32, help="HNSW links per node")
    ap.add_argument("--ef-construction", type=int, default=80)
    ap.add_argument("--ef-search", default="256,512", help="HNSW settings to search with, comma-separated")
    ap.add_argument("--nlist", type=int, default=None, help="IVF lists (default: the stage's, 2·sqrt(items))")
    ap.add_argument("--nprobe", default="32,64,128", help="IVF settings to search with, comma-separated")
    ap.add_argument("--only", choices=("hnsw", "ivf"), help="build one kind only")
    ap.add_argument(
        "--query-kinds",
        default="user,broad",
        help="user: histories from 1-3 clusters; broad: from 5-12 (harder for IVF); comma-separated",
    )
    ap.add_argument("--stage", action="store_true", help="also time the ann stage itself (its defaults)")
    args = ap.parse_args()
    kinds = args.query_kinds.split(",")
    if unknown := [k for k in kinds if k not in ("user", "broad")]:
        ap.error(f"unknown query kinds {', '.join(unknown)}; valid: user, broad")

    faiss = faiss_module()
    faiss.omp_set_num_threads(args.threads)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores visible, "
        f"faiss {faiss.__version__} on {args.threads} threads, load average {os.getloadavg()[0]:.2f}"
    )
    sets = {kind: load(args.data, args.items, args.dim, args.queries, kind) for kind in kinds}
    items = sets[kinds[0]][0]
    print(
        f"SYNTHETIC catalog: {items.shape[0]:,} items x {items.shape[1]} dims ({items.nbytes / 2**20:.0f} MiB), "
        f"{args.queries:,} queries of each kind ({', '.join(kinds)}), k = {args.k}"
    )
    seen = seen_sets(len(items), args.queries)
    truths = {}
    for kind in kinds:
        started = time.perf_counter()
        truths[kind] = exact(items, sets[kind][1], args.k, seen)
        print(f"exact top-{args.k} of the {kind} queries (IndexFlatIP, batched): {time.perf_counter() - started:.1f} s")

    settings: list[tuple[IndexSpec, list[SearchSpec]]] = []
    if args.only in (None, "hnsw"):
        ef = [int(x) for x in args.ef_search.split(",")]
        settings.append(
            (IndexSpec("hnsw", m=args.m, ef_construction=args.ef_construction), [SearchSpec(ef_search=e) for e in ef])
        )
    if args.only in (None, "ivf"):
        probes = [int(x) for x in args.nprobe.split(",")]
        settings.append((IndexSpec("ivf", nlist=args.nlist), [SearchSpec(nprobe=p) for p in probes]))

    if args.stage:
        import tempfile

        with tempfile.TemporaryDirectory() as cache:
            measure_stage(items, sets[kinds[-1]][1], seen, args.k, Path(cache))

    rows = []
    for spec, searches in settings:
        before = rss()
        started = time.perf_counter()
        index = build_index(items, spec)
        built = time.perf_counter() - started
        grown = rss() - before
        size = index_bytes(index)
        label = (
            f"hnsw m={spec.m} efC={spec.ef_construction}"
            if spec.kind == "hnsw"
            else f"ivf nlist={spec.for_size(len(items)).nlist}"
        )
        print(
            f"{label}: built in {built:.1f} s, index {size / 2**20:.0f} MiB, RSS +{grown / 2**20:.0f} MiB", flush=True
        )
        for search_spec in searches:
            knob = f"ef_search={search_spec.ef_search}" if spec.kind == "hnsw" else f"nprobe={search_spec.nprobe}"
            for kind in kinds:
                queries = sets[kind][1]
                truth, truth_filtered = truths[kind]
                found, lat = measure(index, queries, args.k, search_spec, None, len(items))
                found_f, lat_f = measure(index, queries, args.k, search_spec, seen, len(items))
                rec, rec_f = recall(found, truth), recall(found_f, truth_filtered)
                rows.append((label, knob, kind, built, size, grown, rec, lat, rec_f, lat_f))
                print(
                    f"  {knob}, {kind} queries: recall@{args.k} {rec:.3f}, p50/p95/p99 {pct(lat)} ms; "
                    f"with seen-item filter recall {rec_f:.3f}, {pct(lat_f)} ms",
                    flush=True,
                )
        del index

    print()
    print(
        f"| index | search | queries | build s | index MiB | RSS + MiB | recall@{args.k} | p50 / p95 / p99 ms "
        "| filtered recall | filtered p50 / p95 / p99 ms |"
    )
    print("|---|---|---|---:|---:|---:|---:|---|---:|---|")
    for label, knob, kind, built, size, grown, rec, lat, rec_f, lat_f in rows:
        print(
            f"| {label} | {knob} | {kind} | {built:.1f} | {size / 2**20:.0f} | {grown / 2**20:.0f} | {rec:.3f} "
            f"| {pct(lat)} | {rec_f:.3f} | {pct(lat_f)} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
