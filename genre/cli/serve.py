"""``serve``: the HTTP service (FastAPI on uvicorn) over the configs in a folder.

API keys come from ``GENRE_API_KEYS`` or ``GENRE_API_KEYS_FILE``; with none, the service refuses
to start unless ``--insecure-no-auth`` is given. Binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from genre.core.errors import GenreError

if TYPE_CHECKING:
    from genre.cli._shared import Subparsers

SETTINGS_ENV = "GENRE_SERVE_SETTINGS"
"""How ``--workers`` > 1 hands the settings (JSON, key digests only) to each uvicorn worker process."""


def add_serve(sub: Subparsers) -> None:
    srv = sub.add_parser("serve", help="run the HTTP API (needs the serve extra: pip install 'genre[serve]')")
    srv.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    srv.add_argument("--port", type=int, default=8000)
    srv.add_argument("--configs", type=Path, default=Path("configs"), help="folder of pipeline TOML files")
    srv.add_argument(
        "--workers",
        type=int,
        default=1,
        help="uvicorn worker processes; each has its own pipelines, rate limits and kept runs (explain needs the "
        "process that made the run)",
    )
    srv.add_argument("--threads", type=int, default=4, help="pipeline threads per process")
    srv.add_argument(
        "--preload", action="append", default=None, help="config to build at start (repeatable; default: movies)"
    )
    srv.add_argument("--rate", type=float, default=10.0, help="requests per second per API key (token bucket)")
    srv.add_argument("--burst", type=int, default=20, help="requests a key may make at once")
    srv.add_argument("--max-body", type=int, default=65_536, help="largest request body in bytes")
    srv.add_argument("--max-k", type=int, default=100, help="most items one request may ask for")
    srv.add_argument("--timeout", type=float, default=30.0, help="request timeout in seconds")
    srv.add_argument("--reason-timeout", type=float, default=15.0, help="seconds the generator may take per request")
    srv.add_argument("--cors-origin", action="append", default=[], help="origin allowed by CORS (repeatable)")
    srv.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    srv.add_argument(
        "--insecure-no-auth", action="store_true", help="serve without API keys (only behind your own auth)"
    )
    srv.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    try:
        import fastapi  # noqa: F401
        import prometheus_client  # noqa: F401
        import uvicorn
    except ImportError as exc:
        raise GenreError(
            f"genre serve needs the serve extra ({exc.name} is not installed): pip install 'genre[serve]'"
        ) from None
    from pydantic import ValidationError

    from genre.serve.logs import uvicorn_log_config
    from genre.serve.settings import ServiceSettings, key_hashes_from_env

    if not 0 < args.port < 65_536:
        raise GenreError(f"--port must be 1 to 65535; got {args.port}")
    if args.workers < 1:
        raise GenreError(f"--workers must be at least 1; got {args.workers}")
    preload = args.preload
    if preload is None:
        preload = ["movies"] if (args.configs / "movies.toml").is_file() else []
    try:
        settings = ServiceSettings(
            configs_dir=args.configs, api_key_hashes=key_hashes_from_env(), insecure_no_auth=args.insecure_no_auth,
            rate_per_s=args.rate, burst=args.burst, max_body_bytes=args.max_body, max_k=args.max_k,
            request_timeout_s=args.timeout, reason_timeout_s=args.reason_timeout, threads=args.threads,
            preload=tuple(preload), cors_origins=tuple(args.cors_origin),
        )  # fmt: skip
    except ValidationError as exc:
        err = exc.errors()[0]
        raise GenreError(f"invalid serve option {'.'.join(map(str, err['loc']))}: {err['msg']}") from None
    from genre.serve.service import load_configs

    load_configs(settings.configs_dir)  # a bad config fails here, naming the file, before the server starts
    if settings.insecure_no_auth and args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: serving without API keys on {args.host}: anyone who can reach it may use it", file=sys.stderr)
    log_config = uvicorn_log_config(args.log_level)
    if args.workers == 1:
        from genre.serve import create_app

        uvicorn.run(create_app(settings), host=args.host, port=args.port, log_config=log_config)
    else:
        os.environ[SETTINGS_ENV] = settings.model_dump_json()
        uvicorn.run(
            "genre.cli.serve:app_from_env", factory=True, host=args.host, port=args.port,
            workers=args.workers, log_config=log_config,
        )  # fmt: skip
    return 0


def app_from_env() -> object:
    """The app for one uvicorn worker process, from the settings ``genre serve`` left in the environment."""
    from genre.serve import ServiceSettings, create_app

    return create_app(ServiceSettings.model_validate_json(os.environ[SETTINGS_ENV]))
