"""The [data] section of a pipeline config: where items, interactions and example profiles come from."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from genre.core.paths import PROJECT_ROOT

CatalogLoader = Literal["movielens-100k", "jsonl"]


class DataConfig(BaseModel):
    """Where a pipeline's items, interactions and example profiles come from."""

    model_config = ConfigDict(extra="forbid")

    loader: CatalogLoader
    """`movielens-100k` reads the copy inside the installed recbole package; `jsonl` reads `path`."""
    path: str | None = None
    """JSONL catalog file (relative paths resolve against the project root)."""
    name: str | None = None
    """Catalog name shown in messages and used in cache keys; defaults to the file's folder name."""
    profiles: str | None = None
    """Optional JSON array of example profiles (see sample_data/*/profiles.json)."""
    popularity_field: str | None = Field(default=None, min_length=1)
    """Item attribute used as the popularity signal when the catalog has no interactions."""

    @model_validator(mode="after")
    def _needs_path(self) -> DataConfig:
        if self.loader == "jsonl" and not self.path:
            raise ValueError("loader 'jsonl' needs `path` (the catalog file)")
        if self.loader == "movielens-100k" and self.path:
            raise ValueError("loader 'movielens-100k' takes no `path`: it reads the installed recbole package")
        return self

    def resolve(self, path: str) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else PROJECT_ROOT / p
