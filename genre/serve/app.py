"""``create_app(settings)``: the FastAPI app, its routes, and JSON errors for everything that can go wrong.

Pipeline work runs on the service's worker threads, never on the event loop, under the request
timeout (504 when ranking itself runs past it; a slow generator gives template reasons instead,
see :mod:`genre.serve.service`). OpenAPI docs are at ``/docs``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from genre import __version__
from genre.core.errors import GenreError
from genre.core.types import RunTrace
from genre.pipeline import PipelinePool
from genre.serve.errors import ApiError, error_body, from_genre_error, validation_message
from genre.serve.gate import ServiceGate
from genre.serve.logs import ensure_json_logging
from genre.serve.metrics import ServiceMetrics
from genre.serve.schemas import ExplainRequest, FeedbackRequest, RecommendRequest
from genre.serve.security import ApiKeys, RateLimiter
from genre.serve.service import Service
from genre.serve.settings import ServiceSettings

T = TypeVar("T")
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {"application/json": {"example": error_body(code, "what went wrong")}}}
    for status, code, text in (
        (400, "bad_input", "Malformed JSON or input the library refused (the message names it)"),
        (401, "unauthorized", "Missing or wrong API key"),
        (404, "unknown_config", "Unknown config, user, run or item (the message lists the valid ones)"),
        (413, "body_too_large", "Request body over the size limit"),
        (422, "invalid_request", "A field is missing, unknown or out of range (k_out_of_range names the range)"),
        (429, "rate_limited", "Over the per-key rate limit; see Retry-After"),
        (503, "store_unavailable", "The feedback store or a model is unavailable"),
        (504, "timeout", "Ranking did not finish within the request timeout"),
    )
}


def create_app(settings: ServiceSettings, pool: PipelinePool | None = None) -> FastAPI:
    """The app for ``settings``; ``pool`` shares built pipelines (a test's stand-in embedder, or another app's)."""
    ensure_json_logging()
    metrics = ServiceMetrics()
    service = Service(settings, pool, metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.preload:  # not awaited: /readyz answers 503 until the builds finish
            asyncio.get_running_loop().run_in_executor(service.workers, service.preload)
        yield
        service.close()

    app = FastAPI(
        title="GENRE",
        version=__version__,
        description="Explained recommendations. Send `Authorization: Bearer <key>` on every /v1 route; "
        "/healthz, /readyz, /metrics and these docs are open (keep /metrics on a private network).",
        lifespan=lifespan,
        redoc_url=None,
    )
    app.state.service = service
    app.state.metrics = metrics

    async def offload(fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on a worker thread within the request timeout; a job still queued at the timeout never runs."""
        job = service.workers.submit(fn, *args)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(job), timeout=settings.request_timeout_s)
        except TimeoutError:
            job.cancel()
            building = service.building()
            why = f" (still building {', '.join(building)}; the build goes on, retry shortly)" if building else ""
            msg = f"the request did not finish within the {settings.request_timeout_s:g} s timeout{why}"
            raise ApiError(504, "timeout", msg) from None

    def deadline() -> float:
        return time.monotonic() + settings.request_timeout_s

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc)

    @app.exception_handler(GenreError)
    async def _genre_error(request: Request, exc: GenreError) -> JSONResponse:
        return _error(from_genre_error(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        code, message = validation_message(list(exc.errors()))
        return _error(ApiError(400 if code == "malformed_json" else 422, code, message))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = str(exc.detail)
        if exc.status_code == 404:
            message = f"no such endpoint: {request.method} {request.url.path}; see /docs"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}; see /docs"
        return _error(ApiError(exc.status_code, code, message, dict(exc.headers or {})))

    @app.get("/healthz", tags=["probes"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["probes"], responses={503: _ERRORS[503]})
    async def readyz() -> dict[str, Any]:
        """Readiness: the preloaded configs are built and the feedback store answers; 503 with the reasons if not."""
        # Not on the pipeline workers: a probe must answer while every worker ranks.
        try:
            problems = await asyncio.wait_for(asyncio.to_thread(service.readiness), settings.request_timeout_s)
        except TimeoutError:
            problems = [f"the readiness check did not finish within {settings.request_timeout_s:g} s"]
        if problems:
            raise ApiError(503, "not_ready", "; ".join(problems))
        return {"status": "ready", "preloaded": list(settings.preload)}

    @app.get("/metrics", tags=["probes"])
    async def metrics_route() -> Response:
        """Prometheus metrics of this app."""
        return Response(metrics.render(), media_type=metrics.content_type)

    @app.get("/v1/configs", tags=["v1"], responses={401: _ERRORS[401], 429: _ERRORS[429]})
    async def configs() -> dict[str, Any]:
        """The configs a request may name."""
        return {
            "configs": [
                {"name": name, "description": c.description, "k": c.k, "generator": c.explain.component}
                for name, c in service.configs.items()
            ],
            "max_k": settings.max_k,
        }

    @app.post("/v1/recommend", tags=["v1"], responses={200: {"model": RunTrace}, **_ERRORS})
    async def recommend(body: RecommendRequest, request: Request) -> Response:
        """Rank and explain items for one user; answers the RunTrace JSON (as ``genre recommend --format json``)."""
        trace = await offload(service.recommend, body, request.state.caller, deadline())
        return Response(trace.to_json(indent=None), media_type="application/json")

    @app.post("/v1/explain", tags=["v1"], responses=_ERRORS)
    async def explain(body: ExplainRequest, request: Request) -> dict[str, Any]:
        """Write the reasons of items of an earlier run (made with ``reasons: false``, or whose reasons ran late)."""
        return await offload(service.explain, body, request.state.caller, deadline())

    @app.post("/v1/feedback", tags=["v1"], status_code=201, responses=_ERRORS)
    async def feedback(body: FeedbackRequest) -> dict[str, Any]:
        """Store one feedback event; 503 when the store is unreachable (the event is not kept anywhere else)."""
        event = await offload(service.feedback, body)
        return {"event": event.model_dump(mode="json")}

    app.add_middleware(
        ServiceGate,
        keys=ApiKeys(settings.api_key_hashes),
        limiter=RateLimiter(settings.rate_per_s, settings.burst),
        metrics=metrics,
        max_body_bytes=settings.max_body_bytes,
        routes=app.router.routes,
    )
    if settings.cors_origins:  # outside the gate: a browser's preflight carries no API key
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    return app


def _error(exc: ApiError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, headers={**exc.headers, "x-genre-error": exc.code})
