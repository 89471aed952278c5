"""The harness's ``should_stop``: an evaluation ends at the next check, before training anything more."""

from __future__ import annotations

import pytest

from genre import load_config
from genre.evaluation import harness
from genre.evaluation.harness import EvaluationCancelled, evaluate
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

FAST = ROOT / "tests" / "fixtures" / "movies-fast.toml"


@pytest.fixture
def built(monkeypatch) -> list[str]:
    """Names of the configs the harness builds a pipeline for, in order."""
    names: list[str] = []
    real = harness.Pipeline

    def counting(config, *args, **kwargs):
        names.append(config.name)
        return real(config, *args, **kwargs)

    monkeypatch.setattr(harness, "Pipeline", counting)
    return names


def test_a_stop_before_the_first_config_trains_nothing(built):
    with pytest.raises(EvaluationCancelled, match="stopped before movies-fast"):
        evaluate([load_config(FAST)], max_users=60, should_stop=lambda: True)
    assert built == []


def test_a_stop_between_users_ends_before_the_next_config(built):
    cfg = load_config(FAST)
    asked: list[int] = []

    def should_stop() -> bool:
        asked.append(1)
        return len(asked) == 4  # before movies-fast, then after 0, 25 and 50 users

    with pytest.raises(EvaluationCancelled, match="stopped after 50 of 60 users"):
        evaluate([cfg, cfg.model_copy(update={"name": "second"})], max_users=60, should_stop=should_stop)
    assert built == ["movies-fast"]
