"""``genre serve``: the library behind an authenticated HTTP API (FastAPI + uvicorn).

The top layer beside :mod:`genre.cli`: it builds pipelines through the same
:class:`~genre.pipeline.PipelinePool` the explorer uses and returns the same RunTrace JSON as
``genre recommend --format json``. Modules, lowest first: ``settings`` (what an operator
configures, API keys read from the environment and held as hashes), ``security`` (key check and
per-key token buckets), ``metrics`` (one Prometheus registry per app), ``logs`` (one JSON line per
request), ``schemas`` (request bodies), ``service`` (configs, pool, store, time budgets; no HTTP),
``gate`` (the ASGI middleware: request id, size limit, auth, rate limit, access log) and ``app``
(:func:`create_app`, the routes and JSON errors).

Importing this package does not import FastAPI; :func:`create_app` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from genre.serve.settings import ServiceSettings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from genre.pipeline import PipelinePool


def create_app(settings: ServiceSettings, pool: PipelinePool | None = None) -> FastAPI:
    """The FastAPI app for ``settings`` (see :func:`genre.serve.app.create_app`)."""
    from genre.serve.app import create_app as _create

    return _create(settings, pool)


__all__ = ["ServiceSettings", "create_app"]
