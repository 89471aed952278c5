"""Who may do what: the viewer and operator roles, the actions only operators may take, and sign-in settings.

The explorer asks :func:`can` before it offers an action; the CLI and the HTTP service can ask the same.
Sign-in is configured by the environment only (no secret ever lives in a file of the repository):

- ``GENRE_OPERATOR_PASSWORD`` / ``GENRE_VIEWER_PASSWORD``: a password per role, or
  ``GENRE_OPERATOR_PASSWORD_HASH`` / ``GENRE_VIEWER_PASSWORD_HASH``: its :func:`hash_password` form;
- ``GENRE_OPERATORS``: comma-separated e-mail addresses that are operators when the explorer signs people in
  through OpenID Connect (Streamlit's ``st.login``, configured by an ``[auth]`` section in
  ``.streamlit/secrets.toml``); everybody else who signs in is a viewer.

Who an anonymous visitor is follows from that (:meth:`AccessSettings.anonymous_role`):

- nothing configured: sign-in is off and everybody is an operator (the one-command local demo);
- only an operator password: anonymous visitors are viewers and sign in to become operators;
- a viewer password, or OIDC: nobody sees the explorer without signing in.

A variable that is set but empty, a role given both a password and a hash, or a malformed hash is an error:
the explorer then refuses every visitor rather than fall back to "sign-in is off".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from genre.core.errors import ConfigError


class Role(StrEnum):
    """What a person using the explorer may do."""

    VIEWER = "viewer"
    """Recommends, tunes, reviews and evaluates; never reads other people's data or changes what others get."""
    OPERATOR = "operator"
    """A viewer who may also take every :class:`Action`."""


class Action(StrEnum):
    """Actions that reach beyond one visitor: other people's data, or what every visitor gets."""

    EXPORT_FEEDBACK = "export every user's feedback and reviews"
    RETRAIN = "retrain models on stored feedback"
    ROLLBACK = "make another model version current"
    SAVE_CONFIG = "save a shared pipeline config"


_ALLOWED: dict[Role, frozenset[Action]] = {
    Role.VIEWER: frozenset(),
    Role.OPERATOR: frozenset(Action),
}


def can(role: Role | None, action: Action) -> bool:
    """Whether ``role`` may take ``action``; nobody (``None``, not signed in) may take any."""
    return role is not None and action in _ALLOWED[role]


class SignInMode(StrEnum):
    """How the explorer tells people apart."""

    OFF = "off"
    """Nothing configured: everybody is an operator."""
    PASSWORD = "password"
    """A password per role from the environment."""
    OIDC = "oidc"
    """OpenID Connect through Streamlit's ``st.login``; roles from ``GENRE_OPERATORS``."""


OPERATOR_PASSWORD = "GENRE_OPERATOR_PASSWORD"
VIEWER_PASSWORD = "GENRE_VIEWER_PASSWORD"
OPERATORS = "GENRE_OPERATORS"
_HASH_SUFFIX = "_HASH"
HASH_SCHEME = "pbkdf2_sha256"
DEFAULT_ITERATIONS = 600_000
"""PBKDF2 rounds of a new hash (OWASP's 2023 figure for SHA-256): about a third of a second per check."""
MIN_ITERATIONS = 1_000


def hash_password(password: str, iterations: int = DEFAULT_ITERATIONS, salt: bytes | None = None) -> str:
    """``password`` as ``pbkdf2_sha256$<iterations>$<salt>$<digest>`` (salt and digest in base64),
    the form ``GENRE_*_PASSWORD_HASH`` takes."""
    if not password:
        raise ConfigError("An empty password cannot be hashed; choose a non-empty one.")
    if iterations < MIN_ITERATIONS:
        raise ConfigError(f"iterations must be at least {MIN_ITERATIONS:,}; got {iterations:,}.")
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return f"{HASH_SCHEME}${iterations}${_b64(salt)}${_b64(digest)}"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True)
class _Secret:
    """One role's password as configured: the plain text, or a PBKDF2 hash of it."""

    variable: str
    plain: bytes | None = None
    salt: bytes = b""
    iterations: int = 0
    digest: bytes = b""

    def matches(self, given: str) -> bool:
        given_bytes = given.encode("utf-8")
        if self.plain is not None:
            # Digests first: compare_digest then compares equal lengths, so the time says nothing of the length.
            return hmac.compare_digest(hashlib.sha256(given_bytes).digest(), hashlib.sha256(self.plain).digest())
        derived = hashlib.pbkdf2_hmac("sha256", given_bytes, self.salt, self.iterations)
        return hmac.compare_digest(derived, self.digest)


def _parse_hash(variable: str, text: str) -> _Secret:
    parts = text.strip().split("$")
    expected = f"{HASH_SCHEME}$<iterations>$<base64 salt>$<base64 digest> (from `python -m genre hash-password`)"
    if len(parts) != 4 or parts[0] != HASH_SCHEME:
        scheme = parts[0] if len(parts) > 1 else "no '$'-separated scheme"
        raise ConfigError(f"{variable} must look like {expected}; it has {len(parts)} part(s) and {scheme!r}.")
    try:
        iterations = int(parts[1])
        salt = base64.b64decode(parts[2], validate=True)
        digest = base64.b64decode(parts[3], validate=True)
    except ValueError as exc:
        raise ConfigError(f"{variable} must look like {expected}: {exc}.") from None
    if iterations < MIN_ITERATIONS or not salt or len(digest) != hashlib.sha256().digest_size:
        raise ConfigError(
            f"{variable} must have at least {MIN_ITERATIONS:,} iterations (has {iterations:,}), a salt and a "
            f"32-byte digest (has {len(digest)} bytes)."
        )
    return _Secret(variable, salt=salt, iterations=iterations, digest=digest)


def _secret(env: Mapping[str, str], variable: str) -> _Secret | None:
    hashed = variable + _HASH_SUFFIX
    plain, digest = env.get(variable), env.get(hashed)
    if plain is not None and digest is not None:
        raise ConfigError(f"Set either {variable} or {hashed}, not both.")
    for name, value in ((variable, plain), (hashed, digest)):
        # Fail closed: an empty variable must not read as "no password" and so switch sign-in off.
        if value is not None and not value.strip():
            raise ConfigError(f"{name} is set but empty; give it a value or unset it.")
    if plain is not None:
        return _Secret(variable, plain=plain.encode("utf-8"))
    return _parse_hash(hashed, digest) if digest is not None else None


@dataclass(frozen=True)
class AccessSettings:
    """The sign-in configuration read from the environment (see the module docstring)."""

    mode: SignInMode
    operator_secret: _Secret | None = None
    viewer_secret: _Secret | None = None
    operators: frozenset[str] = frozenset()
    """Operator e-mail addresses for OIDC sign-in, lower-cased."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, oidc: bool = False) -> AccessSettings:
        """The settings ``env`` (``os.environ`` by default) gives; ``oidc``: an ``[auth]`` section is configured.

        OIDC wins over passwords when both are configured. Raises :class:`ConfigError` naming the variable
        that is malformed.
        """
        env = os.environ if env is None else env
        operators = frozenset(e.strip().lower() for e in env.get(OPERATORS, "").split(",") if e.strip())
        if oidc:
            return cls(SignInMode.OIDC, operators=operators)
        operator, viewer = _secret(env, OPERATOR_PASSWORD), _secret(env, VIEWER_PASSWORD)
        if operator is None and viewer is None:
            return cls(SignInMode.OFF)
        return cls(SignInMode.PASSWORD, operator_secret=operator, viewer_secret=viewer)

    def anonymous_role(self) -> Role | None:
        """The role of a visitor who has not signed in; ``None``: they must sign in to see anything."""
        if self.mode is SignInMode.OFF:
            return Role.OPERATOR
        if self.mode is SignInMode.PASSWORD and self.viewer_secret is None:
            return Role.VIEWER
        return None

    def role_for_password(self, given: str) -> Role | None:
        """The role ``given`` signs in as, or ``None`` when it matches no configured password.

        Both passwords are always checked, so the time taken does not say which one came close.
        """
        if not given:
            return None
        as_operator = self.operator_secret is not None and self.operator_secret.matches(given)
        as_viewer = self.viewer_secret is not None and self.viewer_secret.matches(given)
        if as_operator:
            return Role.OPERATOR
        return Role.VIEWER if as_viewer else None

    def role_for_email(self, email: str | None) -> Role:
        """The role of a person signed in through OIDC: operator when their address is in ``GENRE_OPERATORS``."""
        return Role.OPERATOR if email and email.strip().lower() in self.operators else Role.VIEWER


__all__ = [
    "OPERATORS",
    "OPERATOR_PASSWORD",
    "VIEWER_PASSWORD",
    "AccessSettings",
    "Action",
    "Role",
    "SignInMode",
    "can",
    "hash_password",
]
