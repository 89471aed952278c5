"""Pseudonymised user ids: the store keeps a keyed hash of every user id and reviewer name, never the id itself.

A pseudonym is ``u_`` and the hex HMAC-SHA256 of the UTF-8 id under a secret key, so the same id
always gets the same pseudonym (feedback keeps applying to its user, retraining keeps mapping it
to its dataset user) while the store alone cannot be read back to the ids. Callers keep passing
clear ids: every repository hashes before it writes or queries. A value that already is a
pseudonym is kept as it is, so an export (which carries pseudonyms) imports back unchanged.

The key is ``$GENRE_USER_ID_KEY`` (any text of at least 16 characters). Without it, a random key
is created once in the cache dir (``<cache>/user_id_key``, mode 0600) and a :class:`GenreWarning`
says so. Keep that key: the store records its fingerprint and refuses to open with another one
(clear ids would no longer find their feedback, and ``forget`` would miss it). Never commit it; a
deployment sets ``GENRE_USER_ID_KEY`` from its secrets.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import warnings
from pathlib import Path

from genre.core.errors import GenreWarning, StoreUnavailableError
from genre.core.paths import cache_dir

ENV_KEY = "GENRE_USER_ID_KEY"
KEY_FILE = "user_id_key"
"""The key file's name in the cache dir, used when ``$GENRE_USER_ID_KEY`` is not set."""
PREFIX = "u_"
MIN_KEY_CHARS = 16
_PSEUDONYM = re.compile(r"u_[0-9a-f]{64}")


def is_pseudonym(value: str) -> bool:
    """Whether ``value`` has the form of a pseudonym (``u_`` and 64 hex digits)."""
    return _PSEUDONYM.fullmatch(value) is not None


def user_id_key() -> bytes:
    """The pseudonymisation key: ``$GENRE_USER_ID_KEY``, else the cache dir's key file (created once, 0600)."""
    env = os.environ.get(ENV_KEY)
    if env is not None:
        if len(env.strip()) < MIN_KEY_CHARS:
            raise StoreUnavailableError(
                f"{ENV_KEY} is {len(env.strip())} characters long; use at least {MIN_KEY_CHARS} random "
                f"characters (e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`), or unset it"
            )
        return env.strip().encode("utf-8")
    return _key_file(cache_dir() / KEY_FILE)


def _key_file(path: Path) -> bytes:
    if not path.exists():
        _create_key_file(path)
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise StoreUnavailableError(f"cannot read the user-id key {path}: {exc}; set {ENV_KEY} instead") from None
    if len(text) < MIN_KEY_CHARS:
        raise StoreUnavailableError(
            f"the user-id key {path} is empty or shorter than {MIN_KEY_CHARS} characters; restore it or set {ENV_KEY}"
        )
    return text.encode("ascii")


def _create_key_file(path: Path) -> None:
    """Write a random key to ``path`` unless another process got there first (the first one wins)."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.partial")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_hex(32) + "\n")
        try:
            # A hard link appears whole and fails when the name exists: no reader sees a half-written key.
            os.link(tmp, path)
        except FileExistsError:
            return
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as exc:
        raise StoreUnavailableError(
            f"cannot create the user-id key {path}: {exc.strerror or exc}; set {ENV_KEY} or fix the permissions"
        ) from None
    warnings.warn(
        f"created a random key for pseudonymising user ids in {path} (mode 0600); keep it (without it stored "
        f"feedback no longer matches its users) or set {ENV_KEY} instead",
        GenreWarning,
        stacklevel=4,
    )


class Pseudonyms:
    """Clear id -> pseudonym under one key (callable)."""

    def __init__(self, key: bytes | str | None = None) -> None:
        raw = user_id_key() if key is None else key
        self._key = raw.encode("utf-8") if isinstance(raw, str) else raw

    def __call__(self, user: str) -> str:
        if is_pseudonym(user):
            return user
        return PREFIX + hmac.new(self._key, user.encode("utf-8"), hashlib.sha256).hexdigest()

    def fingerprint(self) -> str:
        """16 hex digits that tell keys apart without revealing them (the store keeps it to refuse another key)."""
        return hmac.new(self._key, b"genre feedback store key check", hashlib.sha256).hexdigest()[:16]

    def __repr__(self) -> str:
        return "Pseudonyms(<key hidden>)"
