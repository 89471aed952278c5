"""The pipeline pool: one build per key, per-key build locks, LRU, reuse, progress and cancel."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import ClassVar

import pytest

from genre.components.env import Env
from genre.components.scorers import PopularityScorer
from genre.config import parse_config
from genre.core.errors import BuildCancelled, ConfigError
from genre.core.types import HistoryEvent, UserContext
from genre.pipeline import PipelinePool
from tests.conftest import HashEmbedder, tiny_config_dict

USER = UserContext(history=[HistoryEvent(item_id="a")], profile="camping")
WAIT = 60  # seconds a test waits for another thread before it fails instead of hanging


class BlockingScorer(PopularityScorer):
    """Prepares only when the test lets it: stands in for a long training."""

    started: ClassVar[threading.Event] = threading.Event()
    release: ClassVar[threading.Event] = threading.Event()

    def prepare(self, env: Env) -> None:
        BlockingScorer.started.set()
        if not BlockingScorer.release.wait(WAIT):
            raise RuntimeError("the test never released the blocking scorer")
        super().prepare(env)


class CountingScorer(PopularityScorer):
    """Counts how many times it was prepared (once per build)."""

    prepared: ClassVar[list[int]] = []

    def prepare(self, env: Env) -> None:
        CountingScorer.prepared.append(1)
        super().prepare(env)


class FailingOnceScorer(PopularityScorer):
    """Fails its first preparation."""

    failures: ClassVar[list[int]] = []

    def prepare(self, env: Env) -> None:
        if not FailingOnceScorer.failures:
            FailingOnceScorer.failures.append(1)
            raise ConfigError("the first preparation failed")
        super().prepare(env)


@pytest.fixture(autouse=True)
def _fresh_stubs() -> Iterator[None]:
    BlockingScorer.started.clear()
    BlockingScorer.release.clear()
    CountingScorer.prepared.clear()
    FailingOnceScorer.failures.clear()
    yield
    BlockingScorer.release.set()  # never leave a build thread waiting


def _pool(max_size: int = 6) -> PipelinePool:
    return PipelinePool(max_size=max_size, embedder_factory=lambda device: HashEmbedder())


def _config(catalog_file: Path, extra: str | None = None, **overrides):
    scorers = {
        "popularity": {"component": "popularity", "config": {"count_label": "reviews"}},
        "content": {"component": "content"},
    }
    if extra is not None:
        scorers[extra.rsplit(":", 1)[1].lower()] = {"component": extra}
    return parse_config(tiny_config_dict(catalog_file, scorers=scorers, **overrides))


def _weights(popularity: float) -> dict:
    return {"component": "weighted", "config": {"weights": {"popularity": popularity, "content": 1 - popularity}}}


def test_a_slow_build_blocks_neither_a_built_config_nor_a_build_on_other_data(tiny_catalog_file, cache, tmp_path):
    pool = _pool()
    built = pool.get(_config(tiny_catalog_file))
    expected = built.run(USER)
    slow = _config(tiny_catalog_file, "tests.pipeline.test_pool:BlockingScorer")
    with ThreadPoolExecutor(1) as executor:
        pending = executor.submit(pool.get, slow)
        assert BlockingScorer.started.wait(WAIT)
        # While the slow build is stuck in its preparation: the built config is served and runs.
        again = pool.get(_config(tiny_catalog_file))
        assert again is built and pool.peek(slow) is None
        assert [i.item_id for i in again.run(USER).items] == [i.item_id for i in expected.items]
        # A config over other data builds meanwhile too (its own key and its own Env).
        other_file = tmp_path / "other.jsonl"
        other_file.write_text(tiny_catalog_file.read_text())
        other = pool.get(_config(other_file))
        assert other.run(USER).items and not pending.done()
        BlockingScorer.release.set()
        slow_pipeline = pending.result(timeout=WAIT)
    assert pool.peek(slow) is slow_pipeline and len(pool) == 3
    # It started from the built pipeline over the same data: the unchanged scorers were reused.
    assert {"scorers.popularity", "scorers.content"} <= set(slow_pipeline.reused)


def test_one_build_per_key_however_many_callers_ask_at_once(tiny_catalog_file, cache):
    pool = _pool()
    config = _config(tiny_catalog_file, "tests.pipeline.test_pool:CountingScorer")
    start = threading.Barrier(6)

    def ask(_: int):
        start.wait()
        return pool.get(config)

    with ThreadPoolExecutor(6) as executor:
        pipelines = list(executor.map(ask, range(6)))
    assert all(p is pipelines[0] for p in pipelines)
    assert CountingScorer.prepared == [1]
    assert pool.get(config) is pipelines[0] and CountingScorer.prepared == [1]


def test_least_recently_used_pipeline_is_dropped_and_rebuilt_when_asked_again(tiny_catalog_file, cache):
    pool = _pool(max_size=2)
    a, b, c = (_config(tiny_catalog_file, fusion=_weights(w)) for w in (0.1, 0.5, 0.9))
    first = pool.get(a)
    pool.get(b)
    assert pool.get(a) is first  # a is now the most recently used, b the least
    pool.get(c)
    assert pool.peek(b) is None and pool.peek(a) is first and pool.peek(c) is not None and len(pool) == 2
    rebuilt = pool.get(b)
    assert rebuilt is not None and pool.peek(a) is None  # a was least recently used this time


def test_a_new_weight_reuses_the_related_pipeline(tiny_catalog_file, cache):
    pool = _pool()
    base = pool.get(_config(tiny_catalog_file))
    tuned = pool.get(_config(tiny_catalog_file, fusion=_weights(0.9)))
    assert tuned is not base and tuned.scorers["content"] is base.scorers["content"]
    assert set(tuned.reused) == {"context", "intent", "candidates", "scorers.popularity", "scorers.content", "explain"}


def test_a_failed_build_leaves_the_key_free_for_the_next_caller(tiny_catalog_file, cache):
    pool = _pool()
    config = _config(tiny_catalog_file, "tests.pipeline.test_pool:FailingOnceScorer")
    with pytest.raises(ConfigError, match="the first preparation failed"):
        pool.get(config)
    assert pool.peek(config) is None and len(pool) == 0
    assert pool.get(config).run(USER).items


def test_build_progress_is_reported_in_order(tiny_catalog_file, cache):
    seen: list[tuple[str, float]] = []
    _pool().get(_config(tiny_catalog_file), on_progress=lambda stage, fraction: seen.append((stage, fraction)))
    stages = [s for s, _ in seen]
    assert stages[:3] == ["preparing context", "preparing intent", "preparing candidates"]
    assert "preparing scorers.content" in stages and seen[-1] == ("ready", 1.0)
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions) and all(0.0 <= f <= 1.0 for f in fractions)


def test_a_cancelled_build_stops_at_the_next_component_and_leaves_nothing(tiny_catalog_file, cache):
    pool = _pool()
    config = _config(tiny_catalog_file, "tests.pipeline.test_pool:BlockingScorer")
    cancel = threading.Event()
    with ThreadPoolExecutor(1) as executor:
        pending = executor.submit(pool.get, config, cancel=cancel)
        assert BlockingScorer.started.wait(WAIT)
        cancel.set()
        BlockingScorer.release.set()
        with pytest.raises(BuildCancelled, match="cancelled while preparing fusion"):
            pending.result(timeout=WAIT)
    assert pool.peek(config) is None and len(pool) == 0
    assert pool.get(config).run(USER).items  # not cancelled this time
