"""Catalogs written for this project: one JSON object per line (see sample_data/)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from genre.core.errors import DataError
from genre.core.types import Catalog, Item

R = TypeVar("R", bound=BaseModel)


class ItemRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_id: str = Field(min_length=1)
    title: str = Field(min_length=1)
    category: str | None = None
    categories: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    description: str = ""
    attributes: dict[str, Any] = Field(default_factory=dict)


def read_jsonl(path: Path, model: type[R]) -> Iterator[tuple[int, R]]:
    """(line number, validated record) for each non-blank line; a bad line is a DataError naming file and line."""
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = model.model_validate(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from exc
            except ValidationError as exc:
                err = exc.errors()[0]
                loc = ".".join(str(p) for p in err["loc"]) or "record"
                raise DataError(f"{path}:{lineno}: {loc}: {err['msg']}") from exc
            yield lineno, rec


def load_jsonl_catalog(path: Path, name: str, popularity_field: str | None = None) -> Catalog:
    """Read and validate a JSONL catalog; a bad line is reported with its number."""
    if not path.is_file():
        raise DataError(f"catalog file {path} does not exist")
    items: list[Item] = []
    for _, rec in read_jsonl(path, ItemRecord):
        cats = ([rec.category] if rec.category else []) + [c for c in rec.categories if c != rec.category]
        items.append(
            Item(
                item_id=rec.item_id,
                title=rec.title,
                categories=tuple(cats),
                description=rec.description,
                tags=tuple(rec.tags),
                attributes=rec.attributes,
            )
        )
    if not items:
        raise DataError(f"catalog file {path} holds no items")
    try:
        catalog = Catalog(name=name, items=items, popularity_field=popularity_field)
    except ValueError as exc:
        raise DataError(f"{path}: {exc}") from exc
    if popularity_field and not any(popularity_field in i.attributes for i in items):
        raise DataError(f"{path}: popularity_field {popularity_field!r} is not an attribute of any item")
    return catalog
