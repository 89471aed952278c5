"""The intent contract for every built-in intent model."""

from __future__ import annotations

from typing import ClassVar

import pytest

from tests.contract.base import INTENT_LABELS, IntentContract


class TestNone(IntentContract):
    component = "none"


class TestZeroShot(IntentContract):
    component = "zero-shot"
    config: ClassVar[dict] = {"labels": INTENT_LABELS, "top_n": 2}


class FixedTextGenerator:
    """Stands in for the local generator: the same sentence for every prompt."""

    def generate(self, prompts: list[str], max_new_tokens: int = 40) -> list[str]:
        return ["They want gear for their next camping trip." for _ in prompts]


class TestLLMSummary(IntentContract):
    component = "llm-summary"
    config: ClassVar[dict] = {"labels": INTENT_LABELS, "max_new_tokens": 16}

    @pytest.fixture
    def built(self, env, monkeypatch):
        monkeypatch.setattr("genre.models.load_generator", lambda device, precision="auto": FixedTextGenerator())
        component = self.cls(self.config)
        component.prepare(env)
        return component


class TestTrainedHead(IntentContract):
    component = "trained-head"
    config: ClassVar[dict] = {"hidden": 8, "epochs": 2, "batch_size": 4}
    needs_interactions = True
