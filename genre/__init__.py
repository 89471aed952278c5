"""GENRE: Generative Explainable Natural-language Recommendation Engine.

The names below load on first use, so ``import genre.config`` (or ``genre.core.types``) never pulls
in torch: only reaching for :class:`Pipeline` does.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "ConfigError": "genre.core.errors",
    "DataError": "genre.core.errors",
    "FeedbackError": "genre.core.errors",
    "GenreError": "genre.core.errors",
    "InputError": "genre.core.errors",
    "ModelUnavailableError": "genre.core.errors",
    "StoreUnavailableError": "genre.core.errors",
    "Constraints": "genre.core.types",
    "HistoryEvent": "genre.core.types",
    "RunTrace": "genre.core.types",
    "UserContext": "genre.core.types",
    "PipelineConfig": "genre.config",
    "load_config": "genre.config",
    "parse_config": "genre.config",
    "save_config": "genre.config",
    "Pipeline": "genre.pipeline",
}

if TYPE_CHECKING:
    from genre.config import PipelineConfig, load_config, parse_config, save_config
    from genre.core.errors import (
        ConfigError,
        DataError,
        FeedbackError,
        GenreError,
        InputError,
        ModelUnavailableError,
        StoreUnavailableError,
    )
    from genre.core.types import Constraints, HistoryEvent, RunTrace, UserContext
    from genre.pipeline import Pipeline

__all__ = [
    "ConfigError",
    "Constraints",
    "DataError",
    "FeedbackError",
    "GenreError",
    "HistoryEvent",
    "InputError",
    "ModelUnavailableError",
    "Pipeline",
    "PipelineConfig",
    "RunTrace",
    "StoreUnavailableError",
    "UserContext",
    "load_config",
    "parse_config",
    "save_config",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'genre' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
