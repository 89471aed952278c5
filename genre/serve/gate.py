"""The ASGI middleware every request passes: request id, API key, rate limit, body size limit, access log
and request metrics.

Pure ASGI (not ``BaseHTTPMiddleware``) so the size limit holds before anything reads the body: a
declared ``Content-Length`` over the limit is refused at once, and a chunked body is counted as
it streams and refused when it passes the limit. Any exception a route did not turn into an
answer becomes a 500 JSON error naming the request id; its traceback goes to the server log only.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from genre.serve.errors import error_body
from genre.serve.logs import ACCESS_LOGGER, ERROR_LOGGER, log_fields
from genre.serve.metrics import ServiceMetrics
from genre.serve.security import ApiKeys, RateLimiter, retry_after

OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/docs", "/docs/oauth2-redirect", "/openapi.json"})
"""Paths answered without an API key: probes, metrics (keep them on a private network) and the API docs."""
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_access = logging.getLogger(ACCESS_LOGGER)
_errors = logging.getLogger(ERROR_LOGGER)


class BodyTooLarge(HTTPException):
    """A streamed body passed the limit (an HTTPException, so FastAPI's body parsing passes it on as a 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body is larger than the limit of {limit:,} bytes")


class ServiceGate:
    """Wraps the app; see the module docstring for what it checks, in order."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        keys: ApiKeys,
        limiter: RateLimiter,
        metrics: ServiceMetrics,
        max_body_bytes: int,
        routes: Any,
    ) -> None:
        self.app = app
        self.keys = keys
        self.limiter = limiter
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        given = headers.get("x-request-id", "")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        endpoint = self._endpoint(scope)
        outcome: dict[str, Any] = {"status": 500, "code": None, "started": False}
        caller = _client(scope) or "unknown"

        async def send_logged(message: Message) -> None:
            if message["type"] == "http.response.start":
                outcome["status"], outcome["started"] = message["status"], True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode("latin-1"))]
                code = _header(message, b"x-genre-error")
                if code is not None:
                    outcome["code"] = code
            await send(message)

        async def refuse(status: int, code: str, msg: str, extra: dict[str, str] | None = None) -> None:
            outcome["code"] = code
            await _json(send_logged, status, error_body(code, msg), {"x-genre-error": code, **(extra or {})})

        key_id: str | None = None
        try:
            if scope["path"] not in OPEN_PATHS and self.keys:
                key_id = self.keys.identify(headers.get("authorization"))
                if key_id is None:
                    missing = "authorization" not in headers
                    msg = (
                        "missing API key: send it as 'Authorization: Bearer <key>'"
                        if missing
                        else "invalid API key: send 'Authorization: Bearer <key>' with a key this service accepts"
                    )
                    await refuse(401, "unauthorized", msg, {"www-authenticate": "Bearer"})
                    return
            if scope["path"] not in OPEN_PATHS:
                caller = f"key:{key_id}" if key_id else f"client:{caller}"
                wait = self.limiter.take(caller)
                if wait > 0:
                    self.metrics.rate_limited.labels(endpoint).inc()
                    await refuse(
                        429, "rate_limited",
                        f"rate limit exceeded ({self.limiter.rate:g} requests/s, burst {self.limiter.burst:g}); "
                        f"retry after {retry_after(wait)} s",
                        {"retry-after": retry_after(wait)},
                    )  # fmt: skip
                    return
            declared = headers.get("content-length")
            if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
                await refuse(413, "body_too_large", self._too_large(declared))
                return
            scope["state"]["caller"] = caller
            await self.app(scope, self._counting(receive), send_logged)
        except BodyTooLarge:
            if not outcome["started"]:
                await refuse(413, "body_too_large", self._too_large(None))
        except Exception:
            log_fields(_errors, logging.ERROR, "unhandled error", exc_info=True, request_id=request_id, path=endpoint)
            if not outcome["started"]:
                await refuse(
                    500, "internal_error", f"internal error; the server log has it under request id {request_id}"
                )
        finally:
            seconds = time.perf_counter() - started
            status = int(outcome["status"])
            self.metrics.observe_request(endpoint, scope["method"], status, seconds, outcome["code"])
            log_fields(
                _access, logging.INFO, "request", request_id=request_id, method=scope["method"], path=endpoint,
                status=status, ms=round(seconds * 1000, 1), key=key_id, client=_client(scope), code=outcome["code"],
            )  # fmt: skip

    def _counting(self, receive: Receive) -> Receive:
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise BodyTooLarge(self.max_body_bytes)
            return message

        return counted

    def _too_large(self, declared: str | None) -> str:
        size = f"{int(declared):,} bytes" if declared and declared.isdigit() else "larger than that"
        return f"request body is {size}; the limit is {self.max_body_bytes:,} bytes"

    def _endpoint(self, scope: Scope) -> str:
        """The route template the path matches (bounded label values), or ``unmatched``."""
        for route in self.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return str(getattr(route, "path", scope["path"]))
        return "unmatched"


def _header(message: Message, name: bytes) -> str | None:
    for key, value in message.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _client(scope: Scope) -> str | None:
    client = scope.get("client")
    return f"{client[0]}" if client else None


async def _json(send: Any, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
    payload = json.dumps(body).encode("utf-8")
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})
