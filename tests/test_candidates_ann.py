"""The ANN candidate stage: index recall on a synthetic catalog, the filter's rules, config bounds, saved indexes, trace."""

from __future__ import annotations

import importlib.util
import json
import sys

import numpy as np
import pytest

from genre.components import ann_index
from genre.components import candidates_ann as module
from genre.components.ann_index import IndexSpec, SearchSpec, build_index, deserialize, search, serialize
from genre.components.candidates import CandidateFilter
from genre.components.candidates_ann import NOT_RETRIEVED, AnnCandidates
from genre.components.context import RecencyContextEncoder
from genre.components.env import Env
from genre.config import DataConfig, parse_config
from genre.core.errors import ConfigError
from genre.core.types import Constraints, HistoryEvent, RunTrace, UserContext
from genre.data import load_catalog
from tests.conftest import ROOT, HashEmbedder, tiny_config_dict

WORDS = [
    "tent",
    "stove",
    "trail",
    "summit",
    "river",
    "canyon",
    "kettle",
    "grinder",
    "espresso",
    "roast",
    "pan",
    "knife",
    "oven",
    "bread",
    "notebook",
    "pencil",
    "ink",
    "paper",
    "lamp",
    "desk",
    "chair",
    "speaker",
    "headphone",
    "vinyl",
    "camera",
    "lens",
    "tripod",
    "film",
    "bag",
    "suitcase",
    "strap",
    "wool",
    "cotton",
    "linen",
    "cedar",
    "maple",
    "steel",
    "copper",
    "brass",
    "ceramic",
    "glass",
    "granite",
]
CATEGORIES = ("Outdoor", "Kitchen", "Coffee", "Office")


def synthetic_script():
    spec = importlib.util.spec_from_file_location("synthetic_catalog", ROOT / "scripts" / "synthetic_catalog.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ---- the index functions on a synthetic catalog -----------------------------------------------------------


@pytest.fixture(scope="module")
def synthetic():
    synth = synthetic_script()
    items, labels = synth.mixture(5_000, 64, n_topics=20, n_clusters=250, seed=5)
    queries = synth.user_queries(items, labels, 200, seed=6)
    exact = np.argsort(-(queries @ items.T), axis=1, kind="stable")[:, :50]
    return items, queries, exact


def recall_at(index, queries, exact, spec, k=50) -> float:
    found = search(index, queries, k, spec)[1]
    return float(np.mean([np.intersect1d(f, t).size / k for f, t in zip(found, exact, strict=True)]))


@pytest.mark.parametrize(
    ("spec", "search_spec"),
    [
        (IndexSpec("hnsw", m=16, ef_construction=100), SearchSpec(ef_search=128)),
        (IndexSpec("ivf", nlist=64), SearchSpec(nprobe=16)),
        (IndexSpec("flat"), SearchSpec()),
    ],
    ids=["hnsw", "ivf", "flat"],
)
def test_recall_at_50_against_exact_search_on_5k_synthetic_items(synthetic, spec, search_spec):
    items, queries, exact = synthetic
    index = build_index(items, spec)
    assert index.ntotal == 5_000
    assert recall_at(index, queries, exact, search_spec) >= 0.95


def test_ivf_recall_grows_with_the_lists_probed(synthetic):
    items, queries, exact = synthetic
    index = build_index(items, IndexSpec("ivf", nlist=64))
    # One list of 64 misses much of the top 50: the synthetic catalog is not trivially separable.
    assert (
        recall_at(index, queries, exact, SearchSpec(nprobe=1))
        < 0.8
        < recall_at(index, queries, exact, SearchSpec(nprobe=16))
    )


def test_a_serialized_index_searches_alike(synthetic):
    items, queries, _ = synthetic
    index = build_index(items, IndexSpec("hnsw", m=8, ef_construction=40))
    again = deserialize(serialize(index))
    spec = SearchSpec(ef_search=64)
    np.testing.assert_array_equal(search(index, queries, 20, spec)[1], search(again, queries, 20, spec)[1])


def test_search_returns_only_allowed_items(synthetic):
    items, queries, _ = synthetic
    allowed = np.zeros(len(items), dtype=bool)
    allowed[::3] = True
    for spec in (IndexSpec("hnsw", m=16), IndexSpec("ivf", nlist=64), IndexSpec("flat")):
        ids = search(build_index(items, spec), queries[:20], 30, SearchSpec(nprobe=64), allowed)[1]
        assert (ids >= 0).all() and (ids % 3 == 0).all(), spec.kind


def test_the_synthetic_script_labels_its_files(tmp_path):
    synth = synthetic_script()
    assert synth.main(["--items", "2000", "--dim", "16", "--queries", "10", "--out", str(tmp_path)]) == 0
    where = synth.paths(tmp_path, 2000, 16)
    meta = json.loads(where["meta"].read_text())
    assert meta["synthetic"] is True and "SYNTHETIC" in meta["description"]
    items = np.load(where["items"])
    assert items.shape == (2000, 16) and items.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(items, axis=1), 1.0, rtol=1e-5)
    assert np.load(where["queries"]).shape == (10, 16)
    assert synth.main(["--items", "10", "--out", str(tmp_path)]) == 2


def test_missing_faiss_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)
    with pytest.raises(ConfigError, match=r"genre\[serve\]"):
        ann_index.faiss_module()


# ---- the component on a 300-item catalog ------------------------------------------------------------------


@pytest.fixture
def catalog_file(tmp_path):
    gen = np.random.default_rng(11)
    rows = []
    for i in range(300):
        category = CATEGORIES[i % 4]
        words = gen.choice(WORDS, size=6, replace=False)
        rows.append(
            {
                "item_id": f"p{i:03d}",
                "title": f"{words[0].title()} {words[1].title()} {i}",
                "category": category,
                "description": " ".join(words) + ".",
                "attributes": {"price": float(gen.integers(5, 500)), "reviews": int(gen.integers(1, 1000))},
            }
        )
    path = tmp_path / "mid" / "items.jsonl"
    path.parent.mkdir()
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


@pytest.fixture
def env(catalog_file, cache) -> Env:
    catalog = load_catalog(DataConfig(loader="jsonl", path=str(catalog_file), name="mid", popularity_field="reviews"))
    return Env(catalog, "cpu", lambda device: HashEmbedder())


def built(env: Env, **config) -> AnnCandidates:
    stage = AnnCandidates({"exact_below": 0, **config})
    stage.prepare(env)
    return stage


def encode(env: Env, ctx: UserContext):
    encoder = RecencyContextEncoder()
    encoder.prepare(env)
    return encoder(ctx)


def user(**extra) -> UserContext:
    history = [HistoryEvent(item_id=f"p{i:03d}") for i in (3, 17, 42, 100)]
    return UserContext(history=history, profile="espresso grinder and a copper kettle", **extra)


def assert_nearest(env: Env, state, found: np.ndarray, allowed: np.ndarray, n: int) -> None:
    """``found`` are ``n`` of the items of ``allowed`` nearest u (compared by similarity: the test embedder ties)."""
    assert found.size == n and set(found.tolist()) <= set(allowed.tolist())
    sims = np.sort(env.item_vectors[allowed] @ state.vector)[::-1][:n]
    np.testing.assert_allclose(np.sort(env.item_vectors[found] @ state.vector)[::-1], sims, rtol=1e-6)


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_candidates_are_the_nearest_unseen_items(env, kind):
    stage = built(env, index=kind, n_candidates=40, nlist=7, nprobe=7)
    state = encode(env, user())
    out = stage(state)
    filt = CandidateFilter()
    filt.prepare(env)
    unseen = filt(state).index
    assert np.all(np.diff(out.index) > 0) and out.index.dtype == np.int64
    assert not set(out.index.tolist()) & set(state.seen_index.tolist())
    # flat is exact; on 300 items an HNSW search with ef_search >= 40 and IVF probing every list are too.
    assert_nearest(env, state, out.index, unseen, 40)
    assert out.excluded == {"seen": 4, NOT_RETRIEVED: 300 - 4 - 40}
    assert out.retrieval == {"index": kind, "n_candidates": 40, "search": kind}


def test_the_filters_rules_still_apply(env):
    ctx = user(exclude=["p005", "p006"], constraints=Constraints(price_min=50, price_max=400))
    state = encode(env, ctx)
    filt = CandidateFilter()
    filt.prepare(env)
    allowed = filt(state)
    out = built(env, n_candidates=30)(state)
    assert_nearest(env, state, out.index, allowed.index, 30)
    assert {k: v for k, v in out.excluded.items() if k != NOT_RETRIEVED} == allowed.excluded
    assert sum(out.excluded.values()) == len(env.catalog) - out.index.size
    prices = np.array([env.catalog.items[i].price for i in out.index])
    assert ((prices >= 50) & (prices <= 400)).all()


def test_few_filtered_items_are_ranked_exactly(env):
    state = encode(env, user(constraints=Constraints(categories=["Coffee"])))
    out = AnnCandidates({"n_candidates": 20})  # exact_below defaults far above 75 Coffee items
    out.prepare(env)
    result = out(state)
    coffee = np.flatnonzero([("Coffee" in i.categories) for i in env.catalog.items])
    unseen = np.setdiff1d(coffee, state.seen_index)
    assert result.retrieval["search"].startswith("exact")
    assert_nearest(env, state, result.index, unseen, 20)


def test_a_user_without_a_vector_gets_everything_the_filter_keeps(env):
    state = encode(env, UserContext())
    out = built(env, n_candidates=10)(state)
    assert out.index.tolist() == list(range(300)) and out.excluded == {}
    assert out.retrieval["search"].startswith("none")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"n_candidates": 5}, "n_candidates"),
        ({"n_candidates": 200_000}, "n_candidates"),
        ({"index": "annoy"}, "'hnsw', 'ivf' or 'flat'"),
        ({"m": 2}, "'m'"),
        ({"index": "ivf", "nlist": 16, "nprobe": 32}, r"nprobe \(32\) cannot exceed nlist \(16\)"),
        ({"ef_search": 0}, "ef_search"),
        ({"n_neighbours": 10}, "unknown key 'n_neighbours'"),
    ],
)
def test_config_out_of_bounds_fails_at_load(catalog_file, config, message):
    data = tiny_config_dict(catalog_file, candidates={"component": "ann", "config": config})
    with pytest.raises(ConfigError, match=message):
        parse_config(data)


def test_the_index_is_saved_and_reused_across_search_settings(env, monkeypatch):
    first = built(env, index="hnsw", m=8, ef_search=64, n_candidates=20)
    names = [name for name, _ in env.artifact_log]
    assert names == ["ann-hnsw"] and (env.artifact_log[0][1] / "index.npz").is_file()

    def no_build(*args, **kwargs):
        raise AssertionError("the saved index should have been read")

    monkeypatch.setattr(module, "build_index", no_build)
    # Search-time settings share the index; n_candidates too.
    second = built(env, index="hnsw", m=8, ef_search=200, n_candidates=50)
    assert second.index.ntotal == first.index.ntotal == 300
    state = encode(env, user())
    assert second(state).index.size == 50
    # A build-time setting is another index.
    with pytest.raises(AssertionError, match="saved index"):
        built(env, index="hnsw", m=16)


def test_a_corrupt_saved_index_is_rebuilt_with_a_notice(env):
    built(env, index="ivf", nlist=4, nprobe=4)
    folder = env.artifact_log[-1][1]
    (folder / "index.npz").write_bytes(b"not an index")
    env.notices.clear()
    again = built(env, index="ivf", nlist=4, nprobe=4)
    assert again.index.ntotal == 300
    assert any("ivf index of mid" in n and "rebuilt" in n for n in env.notices)


def test_default_ivf_lists_grow_with_the_catalog_and_stop_where_it_cannot_train_them():
    assert IndexSpec("ivf").for_size(1_000_000).nlist == 2000
    assert IndexSpec("ivf").for_size(100_000).nlist == 632
    assert IndexSpec("ivf", nlist=64).for_size(100_000).nlist == 64
    assert IndexSpec("ivf").for_size(300).nlist == 300 // ann_index.MIN_POINTS_PER_LIST
    assert IndexSpec("ivf").for_size(10).nlist == 1


def test_default_ivf_lists_are_lowered_quietly_for_a_small_catalog(env):
    stage = built(env, n_candidates=20)
    assert stage.spec.kind == "ivf" and stage.spec.nlist == 300 // ann_index.MIN_POINTS_PER_LIST
    assert not env.notices
    assert stage(encode(env, user())).retrieval == {"index": "ivf", "n_candidates": 20, "search": "ivf"}


def test_ivf_lists_are_lowered_for_a_small_catalog(env):
    stage = built(env, index="ivf", nlist=1024, nprobe=64)
    assert stage.spec.nlist == 300 // ann_index.MIN_POINTS_PER_LIST
    assert any("uses 7 IVF lists instead of nlist = 1024" in n for n in env.notices)
    # 296 unseen items, fewer than n_candidates = 500: all of them, unsearched.
    out = stage(encode(env, user()))
    assert out.index.size == 296 and out.retrieval["search"] == "none (few enough items)"


def test_the_trace_records_the_index_and_the_count(catalog_file, cache):
    from genre.pipeline import Pipeline

    data = tiny_config_dict(
        catalog_file,
        candidates={"component": "ann", "config": {"index": "hnsw", "n_candidates": 25, "exact_below": 0}},
    )
    data["data"]["name"] = "mid"
    pipe = Pipeline(parse_config(data), embedder_factory=lambda device: HashEmbedder())
    trace = pipe.run(user())
    assert trace.candidates["count"] == 25
    assert trace.candidates["excluded"] == {"seen": 4, NOT_RETRIEVED: 300 - 4 - 25}
    assert trace.candidates["retrieval"] == {"index": "hnsw", "n_candidates": 25, "search": "hnsw"}
    assert any(t.stage == "candidates" and t.component == "AnnCandidates" for t in trace.timings)
    assert RunTrace.model_validate_json(trace.model_dump_json()).candidates == trace.candidates
    assert len(trace.items) == 3


def test_tune_lists_the_stage_with_its_options():
    from genre.registry import describe

    rows = {row["name"]: row for row in describe()["candidates"]}
    options = {o["name"]: o for o in rows["ann"]["options"]}
    assert {"index", "n_candidates", "m", "ef_search", "ef_construction", "nlist", "nprobe", "exclude_seen"} <= set(
        options
    )
    assert options["index"]["default"] == "ivf" and options["n_candidates"]["doc"]
