"""Shared helpers for the explorer's AppTests: pages run against the real configs and models."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures"


def page(name: str, config: str | None = None, timeout: int = 300) -> AppTest:
    at = AppTest.from_file(str(ROOT / name), default_timeout=timeout)
    if config is not None:
        at.session_state["config_name"] = config
    return at


def chart_specs(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def chart_titles(at: AppTest) -> list[str]:
    titles = []
    for spec in chart_specs(at):
        title = spec.get("layout", {}).get("title", {})
        titles.append(title.get("text", "") if isinstance(title, dict) else str(title))
    return titles


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def warnings(at: AppTest) -> list[str]:
    return [w.value for w in at.warning]


@pytest.fixture
def store_url(tmp_path, monkeypatch) -> str:
    """A private feedback store for the pages (``GENRE_FEEDBACK_URL``)."""
    url = f"sqlite:///{tmp_path / 'feedback.sqlite3'}"
    monkeypatch.setenv("GENRE_FEEDBACK_URL", url)
    return url


@pytest.fixture
def saved_configs(tmp_path, monkeypatch) -> Path:
    """A private folder for configs the Tune page saves, holding the fast MovieLens fixture."""
    folder = tmp_path / "configs"
    folder.mkdir()
    shutil.copy(FIXTURES / "movies-fast.toml", folder / "movies-fast.toml")
    monkeypatch.setenv("GENRE_CONFIG_DIR", str(folder))
    return folder
