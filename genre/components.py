"""The component contract shared by every stage.

A component is a small class with a pydantic ``Config`` (``extra="forbid"``, one
docstring per field) and one typed ``__call__``. Parameters are validated when
the component is built, never mid-run. ``prepare(env)`` runs once per pipeline
and is where a component reads the catalog, loads models or trains.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from genre.data import item_embeddings
from genre.models import Embedder, load_embedder
from genre.types import Catalog, Evidence, Intent, ScoreList, UserState


class ComponentConfig(BaseModel):
    """Base for every component's config: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class EmptyConfig(ComponentConfig):
    pass


@dataclass
class Env:
    """What components may use: the catalog, the device, and lazily loaded shared models."""

    catalog: Catalog
    device: str
    embedder_factory: Callable[[str], Embedder] = load_embedder
    _embedder: Embedder | None = field(default=None, repr=False)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = self.embedder_factory(self.device)
        return self._embedder

    @property
    def item_vectors(self) -> np.ndarray:
        """Unit item embeddings, shape (n_items, dim), cached on disk."""
        return item_embeddings(self.catalog, self.embedder)


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

    @classmethod
    def summary(cls) -> str:
        doc = inspect.getdoc(cls) or ""
        return doc.splitlines()[0] if doc else ""


class Scorer(Component, ABC):
    """Scores every candidate; NaN where it cannot score. Never depends on explaining."""

    @abstractmethod
    def __call__(self, state: UserState, intent: Intent, candidates: np.ndarray) -> ScoreList:
        """One score per candidate (catalog indices), aligned with ``candidates``."""

    def explain(self, state: UserState, items: np.ndarray) -> dict[int, list[Evidence]]:
        """Evidence for a few items (catalog indices): what drove their scores."""
        return {}
