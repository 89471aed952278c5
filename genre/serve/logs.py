"""Structured logs: one JSON object per line, one access line per request.

The access line holds the request id, method, route, status, latency, the key id (a digest
prefix, never the key), the client address and the error code; never a request body, so no
free-text profile or comment reaches a log. Errors the service did not expect are logged with
their traceback here, on the server, and answered with a request id only.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

ACCESS_LOGGER = "genre.serve.access"
ERROR_LOGGER = "genre.serve.error"
_FIELDS = "fields"


class JsonFormatter(logging.Formatter):
    """A record as one JSON line: time, level, logger, message, the record's ``fields`` and any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        out.update(getattr(record, _FIELDS, None) or {})
        if record.exc_info:
            out["traceback"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def log_fields(logger: logging.Logger, level: int, msg: str, exc_info: bool = False, **fields: Any) -> None:
    """Log ``msg`` with ``fields`` as JSON keys of the line."""
    logger.log(level, msg, extra={_FIELDS: fields}, exc_info=exc_info)


def uvicorn_log_config(level: str = "info") -> dict[str, Any]:
    """A ``logging.config`` dict: uvicorn's own lines and the service's as JSON on stderr; uvicorn's
    text access log is off (the service writes its own access line)."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {"json": handler},
        "loggers": {
            "uvicorn": {"handlers": ["json"], "level": level.upper(), "propagate": False},
            "uvicorn.error": {"handlers": ["json"], "level": level.upper(), "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "genre.serve": {"handlers": ["json"], "level": level.upper(), "propagate": False},
        },
    }


def ensure_json_logging() -> None:
    """Give the service's loggers a JSON handler when nothing configured them (an app made in a test or a script)."""
    logger = logging.getLogger("genre.serve")
    if logger.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
