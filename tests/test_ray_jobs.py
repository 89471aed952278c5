"""Ray sharded jobs on a local Ray cluster: results equal to the single-process run, and workers that die.

One Ray session serves the whole module (starting one takes seconds on two cores); its session folder is
under pytest's temporary folder. Ray 2.60 has no local_mode, so these run on real worker processes.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import ray  # the ray extra: make test installs it, so a missing ray fails here rather than skipping

from genre.config import parse_config
from genre.core.errors import ShardError
from genre.evaluation import harness
from genre.evaluation.sharded import evaluate_sharded
from genre.pipeline.batch import batch_explain
from genre.pipeline.shards import FAULT_ENV, RayOptions, init_kwargs
from tests.conftest import TINY_EVENTS, HashEmbedder, clustered_catalog, tiny_config_dict


def hash_embedder(device: str) -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture(scope="module")
def ray_session(tmp_path_factory):
    # A short folder: Ray's unix sockets live under it and their paths may not exceed 107 bytes.
    temp = tmp_path_factory.mktemp("ray")
    ray.init(**init_kwargs(RayOptions(num_cpus=2, temp_dir=temp)))
    yield
    ray.shutdown()


@pytest.fixture
def synthetic(monkeypatch, cache):
    catalog = clustered_catalog(users_per_cluster=12)
    monkeypatch.setattr(harness, "load_catalog", lambda cfg: catalog)
    return catalog


def _eval_config(fusion: dict) -> dict:
    return {
        "name": f"clustered-{fusion['component']}",
        "device": "cpu",
        "data": {"loader": "movielens-100k"},  # replaced by the synthetic catalog
        "scorers": {
            "popularity": {"component": "popularity"},
            "itemknn": {"component": "itemknn", "config": {"neighbors": 20}},
            "content": {"component": "content"},
        },
        "fusion": fusion,
    }


def test_sharded_evaluation_equals_the_single_process_run(ray_session, synthetic):
    cfgs = [
        parse_config(_eval_config({"component": "weighted", "config": {"weights": {"itemknn": 1.0, "content": 0.3}}})),
        parse_config(_eval_config({"component": "learned", "config": {"negatives": 3}})),
    ]
    single = harness.evaluate(cfgs, protocol="T", embedder_factory=hash_embedder)
    sharded = evaluate_sharded(cfgs, "T", ray=RayOptions(shards=3), embedder_factory=hash_embedder)
    assert [(r.name, r.kind) for r in sharded.rows] == [(r.name, r.kind) for r in single.rows]
    assert len(single.rows) == 5 and sharded.users == single.users == 48
    for one, many in zip(single.rows, sharded.rows, strict=True):
        # Exactly equal: every user's ranking is the same, and per-user figures are averaged in the same order.
        assert one.metrics.keys() == many.metrics.keys()
        for key in one.metrics:
            assert one.metrics[key] == many.metrics[key] or (np.isnan(one.metrics[key]) and np.isnan(many.metrics[key]))
        assert one.warm == many.warm and one.detail == many.detail
    assert single.rows[1].metrics["ndcg@10"] > 0.1  # itemknn finds the clusters: the rows are not all zeros


def _write_tiny_logs(tmp_path, tiny_catalog_file):
    log = tmp_path / "tiny" / "log.csv"
    rows = ["user_id,item_id,timestamp,rating"]
    rows += [f"{u},{i},{1_700_000_000 + 3600 * n},5" for n, (u, i) in enumerate(TINY_EVENTS)]
    log.write_text("\n".join(rows) + "\n")
    cfg = tiny_config_dict(tiny_catalog_file)
    cfg["data"]["interactions"] = str(log)
    cfg["scorers"]["itemknn"] = {"component": "itemknn", "config": {"neighbors": 5}}
    cfg["fusion"] = {
        "component": "weighted",
        "config": {"weights": {"popularity": 0.2, "content": 0.5, "itemknn": 1.0}},
    }
    return parse_config(cfg)


USERS = ["u6", "u1", "u3", "u5", "u2", "u4"]  # not sorted: the output keeps the file's order


@pytest.fixture
def tiny_logs(tmp_path, tiny_catalog_file, cache):
    return _write_tiny_logs(tmp_path, tiny_catalog_file)


def test_sharded_batch_explain_writes_the_single_process_lines(ray_session, tiny_logs, tmp_path):
    one, many = tmp_path / "one.jsonl", tmp_path / "many.jsonl"
    batch_explain(tiny_logs, USERS, one, k=3, embedder_factory=hash_embedder)
    result = batch_explain(tiny_logs, USERS, many, k=3, ray=RayOptions(shards=4), embedder_factory=hash_embedder)
    assert result.shards == 4 and result.users == 6
    assert many.read_bytes() == one.read_bytes()
    lines = [json.loads(line) for line in one.read_text().splitlines()]
    assert [line["user"] for line in lines] == USERS
    first = lines[0]["items"][0]
    assert first["reason"] and first["generator"] == "template" and first["verified"] is not None
    seen = {i for u, i in TINY_EVENTS if u == "u6"}
    assert not seen & {item["item_id"] for item in lines[0]["items"]}  # recommendations, not history


def test_a_worker_that_dies_once_is_retried(ray_session, tiny_logs, tmp_path, monkeypatch):
    one, retried = tmp_path / "one.jsonl", tmp_path / "retried.jsonl"
    batch_explain(tiny_logs, USERS, one, k=3, embedder_factory=hash_embedder)
    monkeypatch.setenv(FAULT_ENV, "2:1")  # shard 2's worker exits on its first attempt
    options = RayOptions(shards=3, max_retries=1)
    batch_explain(tiny_logs, USERS, retried, k=3, ray=options, embedder_factory=hash_embedder)
    assert retried.read_bytes() == one.read_bytes()


def test_a_worker_that_keeps_dying_fails_the_job_naming_its_shard(ray_session, tiny_logs, tmp_path, monkeypatch):
    monkeypatch.setenv(FAULT_ENV, "2:99")
    out = tmp_path / "out.jsonl"
    options = RayOptions(shards=3, max_retries=1)
    with pytest.raises(ShardError) as err:
        batch_explain(tiny_logs, USERS, out, k=3, ray=options, embedder_factory=hash_embedder)
    message = str(err.value)
    assert "shard 2 of 3 (users 3-4 of the job, 'u3' to 'u5')" in message
    assert "after 2 attempts" in message and "worker died" in message
    assert not out.exists()  # nothing half-written
