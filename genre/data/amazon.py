"""Amazon Reviews 2023 (McAuley Lab) as a catalog: an item meta JSONL and a review JSONL of one category.

Items come from the meta file (``meta_<Category>.jsonl``), one per ``parent_asin``: ``title``; ``categories``
(else ``main_category``) as categories; ``features`` as tags; ``description`` paragraphs as the description;
``store`` as brand, ``price`` (when a number), ``average_rating`` as rating and ``rating_number`` as
review_count among the attributes (so ``popularity_field = "review_count"`` works). A malformed meta line
is an error naming the file and line.

Interactions come from the review file (``<Category>.jsonl``): ``user_id``, ``parent_asin`` (the item; variants
share it), ``timestamp`` in milliseconds since the epoch and ``rating`` (1-5), which is the interaction's
value. A bad review line (not JSON, a missing field, an unknown parent_asin, a negative rating) is handled as
any interactions file's bad line (see :mod:`genre.data.interactions`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from genre.config.data import DataConfig
from genre.core.errors import DataError
from genre.core.types import Catalog, Interactions, Item
from genre.data.interactions import EventLog, nonblank_lines

_REVIEW_FIELDS = ("user_id", "parent_asin", "timestamp", "rating")


def _text_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    if isinstance(value, list):
        return [str(v).strip() for v in value if isinstance(v, str | int | float) and str(v).strip()]
    return []


def read_meta(path: Path, name: str) -> Catalog:
    """Items from an Amazon Reviews 2023 meta JSONL."""
    items: list[Item] = []
    for lineno, line in nonblank_lines(path, "Amazon meta file"):
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from exc
        if not isinstance(rec, dict):
            raise DataError(f"{path}:{lineno}: expected a JSON object")
        asin, title = str(rec.get("parent_asin") or "").strip(), str(rec.get("title") or "").strip()
        if not asin or not title:
            raise DataError(f"{path}:{lineno}: parent_asin and title must be present and not empty")
        cats = _text_list(rec.get("categories")) or _text_list(rec.get("main_category"))
        attributes: dict[str, Any] = {}
        if rec.get("store"):
            attributes["brand"] = str(rec["store"])
        price = rec.get("price")
        if isinstance(price, int | float) and not isinstance(price, bool) and math.isfinite(price):
            attributes["price"] = float(price)
        if isinstance(rec.get("average_rating"), int | float):
            attributes["rating"] = float(rec["average_rating"])
        if isinstance(rec.get("rating_number"), int):
            attributes["review_count"] = int(rec["rating_number"])
        if rec.get("main_category"):
            attributes["main_category"] = str(rec["main_category"])
        items.append(
            Item(
                item_id=asin,
                title=title,
                categories=tuple(dict.fromkeys(cats)),
                description=" ".join(_text_list(rec.get("description"))),
                tags=tuple(_text_list(rec.get("features"))),
                attributes=attributes,
            )
        )
    if not items:
        raise DataError(f"Amazon meta file {path} holds no items")
    try:
        return Catalog(name=name, items=items, popularity_field="review_count")
    except ValueError as exc:
        raise DataError(f"{path}: {exc}") from exc


def read_reviews(cfg: DataConfig, catalog: Catalog) -> tuple[Interactions, list[str]]:
    """Rated interactions from an Amazon Reviews 2023 review JSONL, and notices about skipped lines."""
    log = EventLog.for_config(cfg, catalog, "Amazon review file")
    for lineno, line in log.text_lines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            log.reject(lineno, f"not valid JSON ({exc.msg})")
            continue
        if not isinstance(rec, dict):
            log.reject(lineno, "expected a JSON object")
            continue
        missing = [f for f in _REVIEW_FIELDS if rec.get(f) in (None, "")]
        if missing:
            log.reject(lineno, f"missing field(s) {', '.join(missing)}")
            continue
        millis, rating = rec["timestamp"], rec["rating"]
        if not isinstance(millis, int | float) or isinstance(millis, bool):
            log.reject(lineno, f"timestamp {millis!r} is not milliseconds since the epoch")
            continue
        if not isinstance(rating, int | float) or isinstance(rating, bool):
            log.reject(lineno, f"rating {rating!r} is not a number")
            continue
        stamp = log.timestamp(lineno, float(millis) / 1000.0)
        if stamp is not None:
            log.add(lineno, str(rec["user_id"]).strip(), str(rec["parent_asin"]).strip(), stamp, float(rating))
    return log.finish()
