"""MIND (Microsoft News Dataset) as a catalog: ``news.tsv`` for items, ``behaviors.tsv`` for clicks.

``news.tsv`` has no header and eight tab-separated fields: news id, category, subcategory, title, abstract,
URL, title entities, abstract entities. Each item keeps its category and subcategory as categories and its
abstract as the description. A malformed news line is an error naming the file and line.

``behaviors.tsv`` has no header and five fields: impression id, user id, time (``11/15/2019 8:55:22 AM``,
read as UTC), the user's click history (space-separated news ids, oldest first) and the impression
(``N123-1 N456-0``: shown news with 1 for a click). Both kinds of click become ``click`` events (weighted by
``event_weights.click``): an impression click at the impression's time; a history click, whose time MIND does
not give, one second apart before the impression (oldest first), so the first impression that lists it
sets its time and order. Shown-but-not-clicked news (label 0) are not interactions. A bad behaviors line
(wrong field count, unreadable time or label, unknown news id) is handled as any interactions file's
bad line (see :mod:`genre.data.interactions`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from genre.config.data import DataConfig
from genre.core.errors import DataError
from genre.core.types import Catalog, Interactions, Item
from genre.data.interactions import EventLog, nonblank_lines

_NEWS_FIELDS = 8
_BEHAVIOR_FIELDS = 5
_TIME_FORMAT = "%m/%d/%Y %I:%M:%S %p"


def read_news(path: Path, name: str) -> Catalog:
    """Items from a MIND news.tsv."""
    items: list[Item] = []
    for lineno, line in nonblank_lines(path, "MIND news file"):
        fields = line.rstrip("\n").rstrip("\r").split("\t")
        if len(fields) != _NEWS_FIELDS:
            raise DataError(
                f"{path}:{lineno}: expected {_NEWS_FIELDS} tab-separated fields (id, category, subcategory, "
                f"title, abstract, url, title entities, abstract entities), found {len(fields)}"
            )
        news_id, category, subcategory, title, abstract, url = (f.strip() for f in fields[:6])
        if not news_id or not title:
            raise DataError(f"{path}:{lineno}: news id and title must not be empty")
        cats = tuple(c for c in dict.fromkeys((category, subcategory)) if c)
        attributes: dict[str, object] = {"source": "MIND"}
        if url:
            attributes["url"] = url
        items.append(Item(item_id=news_id, title=title, categories=cats, description=abstract, attributes=attributes))
    if not items:
        raise DataError(f"MIND news file {path} holds no news")
    try:
        return Catalog(name=name, items=items)
    except ValueError as exc:
        raise DataError(f"{path}: {exc}") from exc


def read_behaviors(cfg: DataConfig, catalog: Catalog) -> tuple[Interactions, list[str]]:
    """Click interactions from a MIND behaviors.tsv, and notices about skipped lines."""
    log = EventLog.for_config(cfg, catalog, "MIND behaviors file")
    for lineno, line in log.text_lines():
        fields = line.rstrip("\n").rstrip("\r").split("\t")
        if len(fields) != _BEHAVIOR_FIELDS:
            log.reject(
                lineno,
                f"expected {_BEHAVIOR_FIELDS} tab-separated fields (impression id, user id, time, history, "
                f"impressions), found {len(fields)}",
            )
            continue
        _, user, raw_time, history, impressions = (f.strip() for f in fields)
        try:
            when = datetime.strptime(raw_time, _TIME_FORMAT).replace(tzinfo=UTC).timestamp()
        except ValueError:
            log.reject(lineno, f"time {raw_time!r} is not like '11/15/2019 8:55:22 AM'")
            continue
        clicked: list[str] = []
        problem = None
        for token in impressions.split():
            news_id, _, label = token.rpartition("-")
            if label not in ("0", "1") or not news_id:
                problem = f"impression {token!r} is not 'NEWSID-0' or 'NEWSID-1'"
                break
            if label == "1":
                clicked.append(news_id)
        past = history.split()
        unknown = next((n for n in past + clicked if catalog.index_of(n) is None), None)
        if problem is None and unknown is not None:
            problem = f"unknown news id {unknown!r} (not in {cfg.path})"
        if problem is not None:
            log.reject(lineno, problem)
            continue
        for k, news_id in enumerate(past):
            log.add(lineno, user, news_id, when - (len(past) - k), event="click")
        for news_id in clicked:
            log.add(lineno, user, news_id, when, event="click")
    return log.finish()
