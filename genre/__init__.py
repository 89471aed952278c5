"""GENRE: Generative Explainable Natural-language Recommendation Engine."""

from genre.config import PipelineConfig, load_config, parse_config, save_config
from genre.errors import (
    ConfigError,
    DataError,
    FeedbackError,
    GenreError,
    InputError,
    ModelUnavailableError,
    StoreUnavailableError,
)
from genre.pipeline import Pipeline
from genre.types import Constraints, HistoryEvent, RunTrace, UserContext

__version__ = "0.1.0"

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
