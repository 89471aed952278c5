"""Every error answer is ``{"error": {"code": ..., "message": ...}}`` naming the problem; never a traceback."""

from __future__ import annotations

from typing import Any

from genre.core.errors import (
    BuildCancelled,
    ConfigError,
    DataError,
    FeedbackError,
    GenreError,
    InputError,
    ModelUnavailableError,
    StoreUnavailableError,
)


class ApiError(Exception):
    """An error answer: HTTP status, a stable machine code and a message for people."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message)


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


_GENRE_ERRORS: tuple[tuple[type[GenreError], int, str], ...] = (
    (StoreUnavailableError, 503, "store_unavailable"),
    (ModelUnavailableError, 503, "model_unavailable"),
    (BuildCancelled, 503, "build_cancelled"),
    (FeedbackError, 400, "bad_feedback"),
    (InputError, 400, "bad_input"),
    (ConfigError, 400, "bad_config"),
    (DataError, 500, "data_error"),
)


def from_genre_error(exc: GenreError) -> ApiError:
    """The answer for a library error: its message as is (library messages name the bad value and the fix)."""
    for cls, status, code in _GENRE_ERRORS:
        if isinstance(exc, cls):
            return ApiError(status, code, str(exc))
    return ApiError(400, "bad_request", str(exc))


def validation_message(errors: list[dict[str, Any]]) -> tuple[str, str]:
    """(code, message) for FastAPI's request validation errors: malformed JSON, or each bad field by name."""
    if any(e.get("type") == "json_invalid" for e in errors):
        first = next(e for e in errors if e.get("type") == "json_invalid")
        detail = (first.get("ctx") or {}).get("error", "")
        return "malformed_json", f"the request body is not valid JSON{f' ({detail})' if detail else ''}"
    parts = []
    for e in errors[:10]:
        loc = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
        msg = str(e.get("msg", "invalid"))
        if e.get("type") == "extra_forbidden":
            msg = "unknown field"
        parts.append(f"{loc or 'body'}: {msg}")
    more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
    return "invalid_request", "; ".join(parts) + more
