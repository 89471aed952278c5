"""What an operator configures for ``genre serve``, and the API keys it accepts.

Keys come from ``GENRE_API_KEYS`` (comma separated) or ``GENRE_API_KEYS_FILE`` (one per line,
``#`` comments allowed) and are held only as SHA-256 digests: the settings, the logs and
``/metrics`` never see a key itself.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from genre.core.errors import ConfigError

ENV_KEYS = "GENRE_API_KEYS"
ENV_KEYS_FILE = "GENRE_API_KEYS_FILE"
MIN_KEY_CHARS = 16
"""Shortest API key accepted: a shorter one is guessable by trying."""


def hash_key(key: str) -> str:
    """The hex SHA-256 digest a key is held as."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _check_keys(keys: list[str], where: str) -> tuple[str, ...]:
    short = [n for n, key in enumerate(keys, start=1) if len(key) < MIN_KEY_CHARS]
    if short:
        raise ConfigError(
            f"{where}: key {short[0]} of {len(keys)} is shorter than {MIN_KEY_CHARS} characters; "
            "use long random keys (e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return tuple(dict.fromkeys(hash_key(k) for k in keys))


def key_hashes_from_env(environ: dict[str, str] | None = None) -> tuple[str, ...]:
    """Digests of the keys in ``GENRE_API_KEYS`` and ``GENRE_API_KEYS_FILE`` (both may be set; empty: none).

    A file that cannot be read or a key shorter than :data:`MIN_KEY_CHARS` is a ConfigError naming it.
    """
    env = os.environ if environ is None else environ
    hashes: list[str] = []
    listed = [k.strip() for k in env.get(ENV_KEYS, "").split(",") if k.strip()]
    hashes += _check_keys(listed, ENV_KEYS)
    path = env.get(ENV_KEYS_FILE, "").strip()
    if path:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise ConfigError(f"{ENV_KEYS_FILE}={path}: cannot read the key file ({reason})") from None
        keys = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
        hashes += _check_keys(keys, f"{ENV_KEYS_FILE}={path}")
    return tuple(dict.fromkeys(hashes))


class ServiceSettings(BaseModel):
    """Everything ``create_app`` needs; ``genre serve`` fills it from its flags and the environment."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, frozen=True)

    configs_dir: Path = Path("configs")
    """Folder of pipeline TOML files; each file's stem is the config name a request names."""
    api_key_hashes: tuple[str, ...] = ()
    """SHA-256 hex digests of the accepted API keys (:func:`key_hashes_from_env`)."""
    insecure_no_auth: bool = False
    """Serve without API keys. Refused unless set explicitly: with no keys and this off, the app does not start."""
    rate_per_s: float = Field(default=10.0, gt=0, le=100_000)
    """Requests per second each API key may make on average (token bucket refill rate)."""
    burst: int = Field(default=20, ge=1, le=100_000)
    """Requests a key may make at once before the rate applies (token bucket size)."""
    max_body_bytes: int = Field(default=65_536, ge=1_024, le=16_777_216)
    """Largest request body accepted, checked before it is parsed; larger ones get 413."""
    max_k: int = Field(default=100, ge=1, le=10_000)
    """Most items one request may ask for (also never more than the catalog holds)."""
    request_timeout_s: float = Field(default=30.0, gt=0, le=3_600)
    """Longest a request may take; ranking that runs longer gets 504."""
    reason_timeout_s: float = Field(default=15.0, gt=0, le=3_600)
    """Longest the generator may write reasons for one request (never past the request timeout); when it is
    slower or fails, the template reasons are returned with a notice saying so."""
    threads: int = Field(default=4, ge=1, le=256)
    """Threads that run pipeline work (ranking, reasons), off the event loop."""
    generation_threads: int = Field(default=1, ge=1, le=64)
    """Threads that run the generator; a request queued behind them past its budget gets template reasons."""
    pool_size: int = Field(default=6, ge=1, le=64)
    """Built pipelines kept (least recently used dropped first)."""
    preload: tuple[str, ...] = ()
    """Configs built when the app starts; ``/readyz`` says 503 until they are built."""
    feedback_url: str | None = None
    """Feedback store URL; None: ``$GENRE_FEEDBACK_URL``, else the SQLite file in the cache dir."""
    record_runs: bool = True
    """Record each run in the feedback store (so feedback can name its run_id); a failure adds a notice."""
    cors_origins: tuple[str, ...] = ()
    """Origins a browser may call the API from; empty (the default) sends no CORS headers at all."""
    max_runs_kept: int = Field(default=256, ge=1, le=100_000)
    """Runs with pending reasons kept in memory for ``POST /v1/explain`` (least recently used dropped first);
    each holds its trace and keeps its pipeline alive."""

    @model_validator(mode="after")
    def _auth_chosen(self) -> ServiceSettings:
        if not self.api_key_hashes and not self.insecure_no_auth:
            raise ConfigError(
                f"no API keys configured: set {ENV_KEYS} (comma separated) or {ENV_KEYS_FILE} (one key per line), "
                "or pass --insecure-no-auth to serve without authentication"
            )
        bad = [h for h in self.api_key_hashes if len(h) != 64 or any(c not in "0123456789abcdef" for c in h)]
        if bad:
            raise ConfigError(f"api_key_hashes must be SHA-256 hex digests; got {len(bad)} that are not")
        return self
