"""Every source of a profile turned into a :class:`UserContext`, and who the user's feedback belongs to.

The explorer pages and the CLI build a ``UserContext`` only through these functions, one per
source, so a limit or a lookup rule holds everywhere alike:

- a dataset user id (:func:`dataset_user_context`),
- an example profile of the config (:func:`example_profile_context`; the CLI's ``--user`` takes
  either, :func:`user_or_profile_context`),
- a hand-built profile: history titles or item ids plus free text (:func:`built_profile_context`),
- an uploaded history CSV (:func:`uploaded_history_context`),
- a profile file, JSON or plain text (:func:`profile_file_context`).

:func:`with_request` then adds the request's own free text and filters on top of any of them.
Every refusal is an :class:`~genre.core.errors.InputError` whose message names the bad value
and the limit or the valid choices.

Feedback is stored per user key (:func:`feedback_key`, read back by :func:`parse_feedback_key`):
a dataset user, an example profile, a profile the visitor named, or one anonymous browser
session, so one visitor's likes never reach another visitor's profile.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from pydantic import ValidationError

from genre.core.errors import InputError
from genre.core.types import Catalog, Constraints, HistoryEvent, UserContext
from genre.data.history_csv import MAX_HISTORY_ROWS, parse_history_csv
from genre.data.profiles import (
    Profile,
    history_from_titles,
    interactions_to_context,
    parse_profile_text,
    profile_to_context,
)

__all__ = [
    "MAX_COMMENT_CHARS",
    "MAX_PROFILE_CHARS",
    "MAX_PROFILE_NAME_CHARS",
    "FeedbackUser",
    "built_profile_context",
    "check_length",
    "dataset_user_context",
    "dataset_user_ids",
    "example_profile_context",
    "feedback_key",
    "new_session_id",
    "own_profile_user",
    "parse_feedback_key",
    "profile_file_context",
    "uploaded_history_context",
    "user_or_profile_context",
    "with_request",
]

MAX_PROFILE_CHARS = 20_000
"""Longest free-text profile accepted, in characters (typed, in a profile file or an example)."""
MAX_COMMENT_CHARS = 1_000
"""Longest review comment accepted, in characters."""
MAX_PROFILE_NAME_CHARS = 64
"""Longest name a visitor may give a profile to keep its feedback across visits."""

FeedbackKind = Literal["dataset", "profile", "named", "session", "reviewer"]
"""Whose feedback a key holds: a dataset user, an example profile, a profile the visitor named,
one anonymous browser session, or a reviewer of the Review page (``ident`` names the subject)."""
_KINDS: tuple[str, ...] = get_args(FeedbackKind)


def check_length(text: str, what: str, limit: int) -> str:
    """``text`` unchanged, or InputError naming ``what``, its length and the limit."""
    if len(text) > limit:
        raise InputError(f"{what} is {len(text):,} characters long; the limit is {limit:,}")
    return text


def dataset_user_ids(catalog: Catalog) -> list[str]:
    """The catalog's user ids, numerically ordered when they are numbers (empty without interactions)."""
    if catalog.interactions is None or len(catalog.interactions) == 0:
        return []
    ids = [str(u) for u in catalog.interactions.users()]
    return sorted(ids, key=int) if all(u.isdigit() for u in ids) else sorted(ids)


def dataset_user_context(catalog: Catalog, user_id: str) -> UserContext:
    """A dataset user's whole history, oldest first, with times and ratings."""
    ident = str(user_id).strip()
    if not ident:
        raise InputError(f"enter a user id of {catalog.name}")
    return interactions_to_context(catalog, ident)


def _profile_context(profile: Profile, catalog: Catalog, what: str) -> UserContext:
    check_length(profile.profile, what, MAX_PROFILE_CHARS)
    if len(profile.history) > MAX_HISTORY_ROWS:
        raise InputError(f"{what} has {len(profile.history):,} history entries; the limit is {MAX_HISTORY_ROWS:,}")
    return profile_to_context(profile, catalog)


def example_profile_context(catalog: Catalog, profiles: Mapping[str, Profile], profile_id: str) -> UserContext:
    """One of the config's example profiles, its titles resolved against the catalog."""
    if profile_id not in profiles:
        known = ", ".join(profiles) or "none"
        raise InputError(f"unknown example profile {profile_id!r}; example profiles: {known}")
    return _profile_context(profiles[profile_id], catalog, f"example profile {profile_id!r}")


def user_or_profile_context(catalog: Catalog, profiles: Mapping[str, Profile], ident: str) -> UserContext:
    """An example profile id, else a dataset user id (the CLI's ``--user``); the error lists both kinds."""
    if ident in profiles:
        return example_profile_context(catalog, profiles, ident)
    if catalog.interactions is None:
        known = ", ".join(profiles) or "none"
        raise InputError(f"unknown user {ident!r}: {catalog.name} has no user data; example profiles: {known}")
    try:
        return dataset_user_context(catalog, ident)
    except InputError as exc:
        if profiles:
            raise InputError(f"{exc}; example profiles: {', '.join(profiles)}") from None
        raise


def built_profile_context(
    catalog: Catalog, *, titles: Sequence[str] = (), item_ids: Sequence[str] = (), text: str = ""
) -> UserContext:
    """A profile a person put together: history by title or by item id (oldest first) plus free text.

    Titles are matched case- and article-insensitively; unknown titles and ids are named, with
    suggestions for titles.
    """
    check_length(text, "the free-text profile", MAX_PROFILE_CHARS)
    if len(titles) + len(item_ids) > MAX_HISTORY_ROWS:
        raise InputError(f"the history has {len(titles) + len(item_ids):,} items; the limit is {MAX_HISTORY_ROWS:,}")
    unknown = [i for i in item_ids if catalog.index_of(i) is None]
    if unknown:
        raise InputError(f"item ids not in the {catalog.name} catalog: {', '.join(map(repr, unknown))}")
    history = [HistoryEvent(item_id=i) for i in item_ids] + history_from_titles(list(titles), catalog)
    return UserContext(profile=text, history=history)


def uploaded_history_context(catalog: Catalog, data: bytes | str) -> UserContext:
    """A history CSV's rows as the history (see :mod:`genre.data.history_csv` for the format and limits)."""
    return UserContext(history=parse_history_csv(data, catalog))


def profile_file_context(catalog: Catalog, source: Path | bytes, name: str | None = None) -> UserContext:
    """A profile file: JSON in the profiles format (one object), or plain text used as the profile.

    ``source`` is a path, or the bytes of an uploaded file whose ``name`` decides JSON or text.
    """
    if isinstance(source, Path):
        try:
            text = source.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise InputError(f"cannot read profile file {source}: {reason}") from exc
        label, suffix = str(source), source.suffix
    else:
        label = name or "the profile file"
        suffix = Path(name or "").suffix
        try:
            text = source.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError(f"cannot read profile file {label}: not UTF-8 text (byte {exc.start})") from None
    profile = parse_profile_text(text, as_json=suffix.lower() == ".json", source=label)
    return _profile_context(profile, catalog, f"profile file {label}")


def with_request(
    ctx: UserContext,
    *,
    profile: str | None = None,
    price_min: float | None = None,
    price_max: float | None = None,
    categories: Sequence[str] = (),
) -> UserContext:
    """``ctx`` with the request's free text and filters; a filter given here wins over the profile's own."""
    updates: dict[str, object] = {}
    if profile is not None:
        updates["profile"] = check_length(profile, "the free-text profile", MAX_PROFILE_CHARS).strip()
    # Worded for both views: the page's "Lowest price" field and the CLI's --price-min.
    for label, field, value in (("lowest", "price_min", price_min), ("highest", "price_max", price_max)):
        if value is not None and not value >= 0:  # also refuses NaN
            raise InputError(f"the {label} price must be 0 or more; got {value:g} ({field})")
    own = ctx.constraints
    low = price_min if price_min is not None else own.price_min
    high = price_max if price_max is not None else own.price_max
    if low is not None and high is not None and low > high:
        raise InputError(
            f"the lowest price ({low:g}) is higher than the highest price ({high:g}); "
            "price_min must not exceed price_max"
        )
    if price_min is not None or price_max is not None or categories:
        try:
            updates["constraints"] = Constraints(
                price_min=low, price_max=high, categories=list(categories) or own.categories
            )
        except ValidationError as exc:  # not reachable with the checks above; kept in the user's terms
            raise InputError(f"invalid filters: {exc.errors()[0]['msg']}") from None
    return ctx.model_copy(update=updates) if updates else ctx


# ---- who feedback belongs to ------------------------------------------------------------------


@dataclass(frozen=True)
class FeedbackUser:
    """The parts of a feedback user key; ``key`` is the stored string."""

    kind: FeedbackKind
    catalog: str | None
    """The catalog the key belongs to; None for a bare dataset id (e.g. from the CLI or an import)."""
    ident: str
    """The dataset user id, profile id, visitor's name, session id, or the reviewed subject."""

    @property
    def key(self) -> str:
        return feedback_key(self.kind, self.catalog, self.ident)


def feedback_key(kind: FeedbackKind, catalog: str | None, ident: str) -> str:
    """The store's user key: ``<catalog>:<id>`` for a dataset user, ``<catalog>:<kind>:<ident>`` otherwise.

    The dataset form is the one the explorer always used, so stored feedback keeps mapping to its
    dataset user when a model is retrained (:func:`genre.feedback.versions.dataset_user`).
    """
    if kind not in _KINDS:
        raise InputError(f"unknown feedback user kind {kind!r}; valid kinds: {', '.join(_KINDS)}")
    ident = ident.strip()
    if not ident:
        raise InputError(f"a {kind} feedback user needs a non-empty id")
    if kind == "named":
        check_length(ident, "the profile name", MAX_PROFILE_NAME_CHARS)
    if catalog is not None and (not catalog or ":" in catalog):
        raise InputError(f"catalog name {catalog!r} cannot key feedback: it must be non-empty and contain no ':'")
    if kind == "dataset":
        return ident if catalog is None else f"{catalog}:{ident}"
    if catalog is None:
        raise InputError(f"a {kind} feedback user needs its catalog name")
    return f"{catalog}:{kind}:{ident}"


def parse_feedback_key(key: str) -> FeedbackUser:
    """The parts of a key :func:`feedback_key` wrote; any other key (``"explorer"``) reads as a bare dataset id."""
    catalog, sep, rest = key.partition(":")
    if not sep:
        return FeedbackUser("dataset", None, key)
    kind, sep, ident = rest.partition(":")
    if sep and kind in _KINDS and kind != "dataset" and ident:
        return FeedbackUser(kind, catalog, ident)  # type: ignore[arg-type]  # checked against _KINDS
    return FeedbackUser("dataset", catalog, rest)


def own_profile_user(catalog: str, name: str, session_id: str) -> FeedbackUser:
    """Who feedback on a hand-built or uploaded profile belongs to.

    The name the visitor gave the profile, kept across visits; without one, this browser session
    alone (``session_id`` from :func:`new_session_id`), so no other visitor's feedback applies.
    """
    name = name.strip()
    user = FeedbackUser("named", catalog, name) if name else FeedbackUser("session", catalog, session_id)
    feedback_key(user.kind, user.catalog, user.ident)  # refuses a name over the limit now, not at the first Like
    return user


def new_session_id() -> str:
    """A random id for one anonymous browser session's feedback (not guessable by another visitor)."""
    return secrets.token_hex(16)
