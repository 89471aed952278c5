"""Stand-in reason generators for the service tests, named in configs by import path.

``SlowReasoner`` writes the template's reasons after ``delay_s`` seconds (a generator that runs
late), or raises a ModelUnavailableError when called (a generator that is down) or when prepared
(one that cannot even load).
"""

from __future__ import annotations

import time

from pydantic import Field

from genre.components.env import Env
from genre.components.reasoners.template import TemplateReasoner
from genre.core.component import ComponentConfig, ReasonBatch, Reasoner
from genre.core.errors import ModelUnavailableError
from genre.core.types import ReasonRequest

HERE = "tests.serve.reasoners"


class SlowConfig(ComponentConfig):
    delay_s: float = Field(default=0.0, ge=0)
    """Seconds each call sleeps before answering."""
    fail: bool = False
    """Raise instead of answering."""
    fail_prepare: bool = False
    """Raise when the pipeline is built."""


class SlowReasoner(Reasoner):
    Config = SlowConfig
    config: SlowConfig
    name = "slow-stub"

    def prepare(self, env: Env) -> None:
        if self.config.fail_prepare:
            raise ModelUnavailableError("slow-stub: the model file is missing (test)")

    def __call__(self, requests: list[ReasonRequest], *, seed: int | None = None) -> ReasonBatch:
        time.sleep(self.config.delay_s)
        if self.config.fail:
            raise ModelUnavailableError("slow-stub: the generator is down (test)")
        reasons = TemplateReasoner()(requests).reasons
        for reason in reasons:
            reason.generator = self.name
        return ReasonBatch(reasons)
