"""Pipeline configs as TOML files: read, validate, write.

Every config, whether read from a file or built by the explorer, goes through :func:`parse_config`,
so an unknown key, component or value fails here with one line naming its place.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from genre.config.schema import PipelineConfig, pipeline_error
from genre.core.errors import ConfigError


def parse_config(data: dict[str, Any], source: str = "config") -> PipelineConfig:
    """Validate a config dict (as parsed from TOML or built by the explorer)."""
    try:
        return PipelineConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {pipeline_error(exc)}") from None
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def with_generator(
    config: PipelineConfig, generator: str, source: str = "config", options: dict[str, Any] | None = None
) -> PipelineConfig:
    """``config`` with another reason generator, validated (an unknown name fails naming the built-ins).

    ``options`` are the generator's own parameters; None keeps the config's when it already uses
    ``generator`` and takes the defaults otherwise. A bad option fails here, naming the valid ones.
    """
    if options is None and generator == config.explain.component:
        return config
    data = config.model_dump(mode="json", exclude_none=True)
    data["explain"] = {"component": generator, "config": dict(options or {})}
    return parse_config(data, source=source)


def load_config(path: str | Path) -> PipelineConfig:
    """Read and validate a pipeline TOML file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {p} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {p}: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: malformed TOML: {exc}") from None
    return parse_config(data, source=str(p))


def save_config(config: PipelineConfig, path: str | Path) -> Path:
    """Write a validated config as TOML (re-validating what was written)."""
    p = Path(path)
    text = config.to_toml()
    parse_config(tomllib.loads(text), source=str(p))
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    return p
