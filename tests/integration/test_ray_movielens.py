"""``evaluate --ray`` and ``batch-explain --ray`` on MovieLens-100K through the CLI: the single-process results.

Each command starts its own local Ray cluster (its session folder under pytest's temporary folder).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]
FAST = str(ROOT / "tests" / "fixtures" / "movies-fast.toml")


@pytest.fixture
def ray_tmp():
    # Short: Ray's unix socket paths under it may not exceed 107 bytes, which pytest's folders can.
    path = tempfile.mkdtemp(prefix="genre-ray-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def genre(ray_tmp: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RAY_TMPDIR": ray_tmp, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "genre", *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600, env=env)


def test_evaluate_ray_reports_the_single_process_metrics(ray_tmp):
    args = ("evaluate", "--config", FAST, "--users", "40", "--format", "json")
    single = genre(ray_tmp, *args)
    assert single.returncode == 0, single.stderr
    sharded = genre(ray_tmp, *args, "--ray", "--shards", "3")
    assert sharded.returncode == 0, sharded.stderr
    assert "ranking 40 users in 3 shards" in sharded.stderr
    one, many = json.loads(single.stdout), json.loads(sharded.stdout)
    assert (
        [r["name"] for r in one["rows"]] == [r["name"] for r in many["rows"]] == ["popularity", "ease", "movies-fast"]
    )
    for a, b in zip(one["rows"], many["rows"], strict=True):
        assert a["metrics"] == b["metrics"] and a["warm"] == b["warm"] and a["cold"] == b["cold"]
    assert one["rows"][1]["metrics"]["ndcg@10"] > 0.1


def test_batch_explain_ray_writes_the_single_process_lines(tmp_path, ray_tmp):
    users = tmp_path / "users.txt"
    users.write_text("\n".join(["405", "1", "13", "655", "7"]) + "\n")
    base = ("batch-explain", "--config", FAST, "--users", str(users), "--k", "5")
    single = genre(ray_tmp, *base, "--out", str(tmp_path / "one.jsonl"))
    assert single.returncode == 0, single.stderr
    sharded = genre(ray_tmp, *base, "--out", str(tmp_path / "many.jsonl"), "--ray", "--shards", "2")
    assert sharded.returncode == 0, sharded.stderr
    assert "on Ray in 2 shards" in sharded.stderr
    one = (tmp_path / "one.jsonl").read_text()
    assert (tmp_path / "many.jsonl").read_text() == one
    lines = [json.loads(line) for line in one.splitlines()]
    assert [line["user"] for line in lines] == ["405", "1", "13", "655", "7"]
    assert all(len(line["items"]) == 5 and all(item["reason"] for item in line["items"]) for line in lines)
