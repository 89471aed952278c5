"""The contract of every stage: one base class per stage, and the optional capabilities.

A component is a small class with a pydantic ``Config`` (``extra="forbid"``, one
docstring per field) and one typed ``__call__``. Parameters are validated when
the component is built, never mid-run. ``prepare(env)`` runs once per pipeline
and is where a component reads the catalog, loads models or trains.

Each stage has one abstract base below (``STAGE_BASES``): a component of a stage derives from it,
so the pipeline only calls what the base declares. What only some components can do (attend over
the history, stream reasons, show where the generator looked, pre-encode profile texts) is a
``Protocol`` here, checked once when a pipeline is built, never probed with ``getattr`` mid-run.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from genre.components.env import Env

from genre.core.types import (
    CandidateSet,
    Evidence,
    Fused,
    Intent,
    ReasonOut,
    ReasonRequest,
    ScoreList,
    UserContext,
    UserState,
)


class ComponentConfig(BaseModel):
    """Base for every component's config: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class EmptyConfig(ComponentConfig):
    pass


class Component:
    """Base class: subclasses set ``Config`` and implement ``__call__``."""

    Config: ClassVar[type[ComponentConfig]] = EmptyConfig
    config: ComponentConfig

    def __init__(self, config: ComponentConfig | dict[str, Any] | None = None) -> None:
        if isinstance(config, self.Config):
            self.config = config
        else:
            self.config = self.Config.model_validate(config or {})

    def prepare(self, env: Env) -> None:
        """Bind to the catalog and models; called once before the first call."""
        self.env = env

    @classmethod
    def summary(cls) -> str:
        doc = inspect.getdoc(cls) or ""
        return doc.splitlines()[0] if doc else ""


class ContextEncoder(Component, ABC):
    """Encodes the user: history items and profile text into a ``UserState`` with the user vector u."""

    @abstractmethod
    def __call__(self, ctx: UserContext) -> UserState:
        """The encoded user for one run."""


class IntentModel(Component, ABC):
    """What the user wants now: labels with probabilities, an optional summary, a vector."""

    @abstractmethod
    def __call__(self, state: UserState) -> Intent:
        """The intent of the encoded user."""


class CandidateGenerator(Component, ABC):
    """The catalog items that may be recommended, and counts of why the others were dropped."""

    @abstractmethod
    def __call__(self, state: UserState) -> CandidateSet:
        """Catalog indices to score."""


class Scorer(Component, ABC):
    """Scores every candidate; NaN where it cannot score. Never depends on explaining."""

    @abstractmethod
    def __call__(self, state: UserState, intent: Intent, candidates: np.ndarray) -> ScoreList:
        """One score per candidate (catalog indices), aligned with ``candidates``."""

    def explain(self, state: UserState, items: np.ndarray) -> dict[int, list[Evidence]]:
        """Evidence for a few items (catalog indices): what drove their scores."""
        return {}

    def score_users(
        self, states: list[UserState], intents: list[Intent], items: np.ndarray | None = None
    ) -> np.ndarray:
        """Scores for many users, shape (n_users, len(items)); ``items`` defaults to the whole catalog.

        The evaluation harness and attribution call this; scorers override it with one batched pass.
        """
        cols = np.arange(len(self.env.catalog), dtype=np.int64) if items is None else items
        out = np.empty((len(states), cols.size))
        for row, (state, intent) in enumerate(zip(states, intents, strict=True)):
            out[row] = self(state, intent, cols).scores
        return out


class Reranker(Component, ABC):
    """Takes the fused scores of all candidates and returns them re-scored and/or re-ordered."""

    @abstractmethod
    def __call__(self, candidates: np.ndarray, fused: Fused, k: int) -> Fused:
        """``fused`` is aligned with ``candidates``; set ``order`` to override the ranking."""


class FusionConfig(ComponentConfig):
    """Base of every fusion's config: says which scorers of the pipeline it names (checked at load)."""

    def referenced_scorers(self) -> set[str]:
        """Scorer names this config refers to; each must be a scorer of the pipeline."""
        return set()


class Fusion(Component, ABC):
    """The recommendation logic: blends the scorers' lists into one score with additive contributions."""

    Config: ClassVar[type[ComponentConfig]] = FusionConfig

    @abstractmethod
    def __call__(self, lists: list[ScoreList]) -> Fused:
        """Fused scores aligned with the candidates, and each scorer's contribution to them."""

    @abstractmethod
    def rescore(
        self, values: dict[str, np.ndarray], reference: dict[str, np.ndarray]
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Fused scores and contributions for re-scored items, normalized against ``reference`` (the
        original run's scores per scorer), so leave-one-out attribution compares like with like."""

    def fuse_user(
        self, state: UserState | None, candidates: np.ndarray, lists: list[ScoreList], *, explain: bool = True
    ) -> Fused:
        """What the ranking path calls: ``__call__`` with the user and the candidates (catalog indices) at hand.

        A fusion whose features depend on them (learning to rank: the user's history, the items'
        popularity and age) overrides this; every other fusion blends the lists alone. ``explain=False``:
        the caller reads only the scores (the evaluation harness), so a fusion whose contributions are
        costly may return the same scores under fewer contributions.
        """
        return self(lists)

    def rescore_user(
        self,
        state: UserState | None,
        items: np.ndarray,
        values: dict[str, np.ndarray],
        reference: dict[str, np.ndarray],
        *,
        explain: bool = True,
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """``rescore`` for the re-encoded user ``state`` and the re-scored ``items`` (catalog indices);
        ``explain=False`` as in :meth:`fuse_user` (leave-one-out reads only the totals)."""
        return self.rescore(values, reference)


@dataclass
class ReasonBatch:
    """A reasoner's answer: one reason per request, in order, and what the caller should be told."""

    reasons: list[ReasonOut]
    notices: list[str] = field(default_factory=list)
    """Per call, never kept on the reasoner: concurrent runs never see each other's notices."""
    repaired: int = 0
    """How many of ``reasons`` the reasoner wrote a second time because the first failed its own check
    (tuned-local's repair); explanation metrics report it."""


class Reasoner(Component, ABC):
    """Writes one reason per recommended item from the evidence the pipeline computed."""

    name: ClassVar[str] = "reasoner"
    """The generator name recorded with every reason it writes."""

    @abstractmethod
    def __call__(self, requests: list[ReasonRequest], *, seed: int | None = None) -> ReasonBatch:
        """Reasons for ``requests``. ``seed`` seeds a per-call random generator where decoding samples;
        the process-wide random state is never touched."""


# ---- Optional capabilities: declared protocols, checked when a pipeline is built ----------------


@runtime_checkable
class Attends(Protocol):
    """A scorer that can show its attention over the user's history (e.g. SASRec)."""

    def attention(self, state: UserState, items: np.ndarray) -> dict[int, np.ndarray]:
        """Per item (catalog index): weights over the most recent history positions, oldest first."""
        ...


@runtime_checkable
class PrimesProfiles(Protocol):
    """A context encoder that can encode many profile texts in one batch ahead of the runs."""

    def prime_profiles(self, texts: list[str]) -> None: ...


@runtime_checkable
class StreamsReasons(Protocol):
    """A reasoner that can stream each reason's text as it is written."""

    def stream(self, requests: list[ReasonRequest], *, seed: int | None = None) -> Iterator[tuple[int, str]]:
        """(request position, text so far) pairs; the last pair per position is the final text."""
        ...


@runtime_checkable
class AttendsToPrompt(Protocol):
    """A reasoner whose model can show which evidence in its prompt each reason looked at."""

    def generator_attention(
        self, requests: list[ReasonRequest], reasons: list[ReasonOut]
    ) -> list[dict[str, float] | None]: ...


STAGE_BASES: dict[str, type[Component]] = {
    "context": ContextEncoder,
    "intent": IntentModel,
    "candidates": CandidateGenerator,
    "scorers": Scorer,
    "fusion": Fusion,
    "rerank": Reranker,
    "explain": Reasoner,
}
"""The base class a component of each stage derives from (custom components too)."""
