"""Service fixtures: a configs folder over the tiny catalog, settings with one API key, and a client."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tomli_w

from genre.pipeline import PipelinePool
from genre.serve import ServiceSettings, create_app
from genre.serve.settings import hash_key
from tests.conftest import HashEmbedder, tiny_config_dict
from tests.serve.reasoners import HERE

KEY = "test-key-0123456789abcdef"
OTHER_KEY = "other-key-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {KEY}"}
PROFILES = [
    {"profile_id": "camper", "name": "Camper", "profile": "Weekend trips in the mountains.",
     "history": [{"item_id": "a"}, {"item_id": "b"}]},
]  # fmt: skip


def write_configs(folder: Path, catalog_file: Path) -> Path:
    """tiny (template reasons), tiny-gen (a generator answering at once), tiny-slow (taking 3 s), tiny-down
    (raising when called) and tiny-missing (failing to load)."""
    folder.mkdir(parents=True, exist_ok=True)
    profiles = catalog_file.parent / "profiles.json"
    profiles.write_text(json.dumps(PROFILES))
    base = tiny_config_dict(catalog_file)
    base["data"]["profiles"] = str(profiles)
    variants = {
        "tiny": {},
        "tiny-gen": {"component": f"{HERE}:SlowReasoner", "config": {"delay_s": 0.0}},
        "tiny-slow": {"component": f"{HERE}:SlowReasoner", "config": {"delay_s": 3.0}},
        "tiny-down": {"component": f"{HERE}:SlowReasoner", "config": {"fail": True}},
        "tiny-missing": {"component": f"{HERE}:SlowReasoner", "config": {"fail_prepare": True}},
    }
    for name, explain in variants.items():
        cfg = dict(base, name=name)
        if explain:
            cfg["explain"] = explain
        (folder / f"{name}.toml").write_text(tomli_w.dumps(cfg))
    return folder


@pytest.fixture
def configs_dir(tmp_path, tiny_catalog_file, cache) -> Path:
    return write_configs(tmp_path / "configs", tiny_catalog_file)


@pytest.fixture
def store_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'feedback.sqlite3'}"


@pytest.fixture
def settings(configs_dir, store_url) -> ServiceSettings:
    return ServiceSettings(
        configs_dir=configs_dir,
        api_key_hashes=(hash_key(KEY), hash_key(OTHER_KEY)),
        feedback_url=store_url,
        request_timeout_s=300.0,
        reason_timeout_s=1.0,
        rate_per_s=1000.0,
        burst=1000,
    )


def make_client(settings: ServiceSettings):
    from fastapi.testclient import TestClient

    pool = PipelinePool(embedder_factory=lambda device: HashEmbedder())
    return TestClient(create_app(settings, pool))


@pytest.fixture
def client(settings):
    with make_client(settings) as c:
        yield c
