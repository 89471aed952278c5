"""`python -m genre update / versions / rollback` through subprocess, on MovieLens with the fast config."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from genre.config import load_config
from genre.feedback.store import FeedbackStore
from genre.pipeline import Pipeline
from tests.conftest import ROOT

pytestmark = pytest.mark.integration
FAST = str(ROOT / "tests" / "fixtures" / "movies-fast.toml")


@pytest.fixture
def env(tmp_path):
    url = f"sqlite:///{tmp_path / 'feedback.sqlite3'}"
    return {**os.environ, "GENRE_CACHE_DIR": str(tmp_path / "cache"), "GENRE_FEEDBACK_URL": url}, url


def genre(env: dict, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "genre", *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300
    )


def test_update_versions_and_rollback(env, monkeypatch):
    environ, url = env
    when = datetime(1998, 4, 23, tzinfo=UTC)
    with FeedbackStore(url) as store:
        store.add_event("1", "50", "like", config_name="movies-fast", created_at=when)  # a dataset user
        store.add_event("movielens-100k:2", "181", "rating", 5.0, created_at=when)  # the explorer's key for user 2
        store.add_event("explorer", "1", "dislike", config_name="movies-fast", created_at=when)
        store.add_event("1", "2", "like", config_name="movies", created_at=when)  # another config's: not folded

    proc = genre(environ, "versions", "--config", FAST)
    assert proc.returncode == 0, proc.stderr
    assert "current model version base" in proc.stdout and "no model versions yet" in proc.stdout

    proc = genre(environ, "update", "--config", FAST)
    assert proc.returncode == 0, proc.stderr
    assert "3 item events from 3 users -> 2 positives, 1 explicit negatives (1 new users, 0 ignored)" in proc.stdout
    assert "movies-fast: model version v1 is current" in proc.stdout and "scorers.ease:" in proc.stdout

    proc = genre(environ, "update", "--config", FAST)
    assert proc.returncode == 0 and "no new feedback since version v1" in proc.stdout

    with FeedbackStore(url) as store:
        store.add_event("3", "7", "click", created_at=when)
    proc = genre(environ, "update", "--config", FAST, "--store", url)
    assert proc.returncode == 0, proc.stderr
    assert "model version v2 is current" in proc.stdout

    proc = genre(environ, "versions", "--config", FAST)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "current model version v2" in lines[0]
    assert lines[2].startswith("  v1 ") and lines[3].startswith("* v2 ") and " v1 " in lines[3]

    proc = genre(environ, "rollback", "--config", FAST, "--to", "v1")
    assert proc.returncode == 0, proc.stderr
    assert "model version v1 is current" in proc.stdout
    listing = json.loads(genre(environ, "versions", "--config", FAST, "--format", "json").stdout)
    assert listing["current"] == "v1"
    assert [(v["version_id"], v["current"], v["positives"]) for v in listing["versions"]] == [
        ("v1", True, 2),
        ("v2", False, 3),
    ]

    # A pipeline built for the config now loads v1: its data has v1's two extra interactions.
    monkeypatch.setenv("GENRE_CACHE_DIR", environ["GENRE_CACHE_DIR"])
    pipe = Pipeline(load_config(FAST))
    assert pipe.model_version == "v1" and len(pipe.catalog.interactions) == 100_002
    assert pipe.artifact_paths["scorers.ease"] == listing["versions"][0]["artifacts"]["scorers.ease"]

    proc = genre(environ, "rollback", "--config", FAST, "--to", "v7")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "error: config 'movies-fast' has no model version 'v7'; versions: v1, v2" in proc.stderr
    proc = genre(environ, "rollback", "--config", FAST, "--to", "base")
    assert proc.returncode == 0 and "the base training is current" in proc.stdout
