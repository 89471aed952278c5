"""Pipeline configs: the schema (:mod:`.schema`) and TOML files (:mod:`.files`), validated in full at load.

A config names one component per stage (a dict of named scorers for the ``scorers`` stage) and each
component's parameters. Loading checks every component's class and parameters without building
any component, so an unknown component, a class of the wrong stage, an unknown key or an
out-of-range value fails here, naming the place and the valid choices.
"""

from __future__ import annotations

from genre.config.data import DataConfig
from genre.config.files import load_config, parse_config, save_config, with_generator
from genre.config.schema import (
    AttributionConfig,
    FeedbackConfig,
    PipelineConfig,
    StageSpec,
    build_component,
    validate_component,
)

__all__ = [
    "AttributionConfig",
    "DataConfig",
    "FeedbackConfig",
    "PipelineConfig",
    "StageSpec",
    "build_component",
    "load_config",
    "parse_config",
    "save_config",
    "validate_component",
    "with_generator",
]
