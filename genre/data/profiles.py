"""Example user profiles and title lookup: turning what a person typed into a UserContext."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from rapidfuzz import process, utils

from genre.core.errors import DataError, InputError
from genre.core.types import Catalog, Constraints, HistoryEvent, UserContext

_ARTICLE = re.compile(r"^(?P<rest>.*), (?P<art>The|A|An|La|Le|Les|Il|Das|Der|Die|El)(?P<year> \(\d{4}\))?$", re.I)


class ProfileHistoryEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_id: str | None = None
    title: str | None = None
    timestamp: datetime | None = None
    rating: float | None = None

    @model_validator(mode="after")
    def _one_key(self) -> ProfileHistoryEntry:
        if (self.item_id is None) == (self.title is None):
            raise ValueError("each history entry needs exactly one of item_id or title")
        return self


class Profile(BaseModel):
    """A saved or example profile; history entries name items by id or by title."""

    model_config = ConfigDict(extra="forbid")

    profile_id: str = "custom"
    name: str = ""
    profile: str = ""
    history: list[ProfileHistoryEntry] = Field(default_factory=list)
    constraints: Constraints = Field(default_factory=Constraints)


def read_profiles(path: Path) -> dict[str, Profile]:
    """All profiles in a JSON array file, keyed by profile_id."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(f"cannot read profiles file {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from exc
    if not isinstance(raw, list):
        raise DataError(f"{path}: expected a JSON array of profiles")
    out: dict[str, Profile] = {}
    for n, entry in enumerate(raw):
        try:
            prof = Profile.model_validate(entry)
        except ValidationError as exc:
            raise DataError(f"{path}: profile #{n + 1}: {_first_error(exc)}") from exc
        out[prof.profile_id] = prof
    return out


def read_profile_file(path: Path) -> Profile:
    """One profile: a JSON object in the profiles format, or plain text used as the profile."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise InputError(f"cannot read profile file {path}: {reason}") from exc
    return parse_profile_text(text, as_json=path.suffix.lower() == ".json", source=str(path))


def parse_profile_text(text: str, as_json: bool, source: str = "the profile file") -> Profile:
    """A profile file's text: a JSON object in the profiles format, or (``as_json`` off) the profile itself."""
    if not as_json:
        return Profile(profile=text)
    try:
        return Profile.model_validate_json(text)
    except ValidationError as exc:
        raise InputError(f"profile file {source}: {_first_error(exc)}") from exc


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    return f"{loc}: {err['msg']}" if loc else err["msg"]


def _key(title: str) -> str:
    """Case- and article-insensitive key: 'Usual Suspects, The (1995)' == 'the usual suspects (1995)'."""
    m = _ARTICLE.match(title.strip())
    if m:
        title = f"{m['art']} {m['rest']}{m['year'] or ''}"
    return utils.default_process(title)


def _key_no_year(title: str) -> str:
    return _key(re.sub(r"\s*\(\d{4}\)\s*$", "", title.strip()))


class TitleIndex:
    """Exact (normalized) title lookup with fuzzy suggestions for misses."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._exact: dict[str, int] = {}
        self._loose: dict[str, int] = {}
        for i, item in enumerate(catalog.items):
            self._exact.setdefault(_key(item.title), i)
            self._loose.setdefault(_key_no_year(item.title), i)
        self._choices = [item.title for item in catalog.items]

    def find(self, title: str) -> int | None:
        return self._exact.get(_key(title), self._loose.get(_key_no_year(title)))

    def suggest(self, title: str, limit: int = 3) -> list[str]:
        hits = process.extract(title, self._choices, processor=utils.default_process, limit=limit)
        return [h[0] for h in hits]

    def resolve(self, titles: list[str]) -> list[int]:
        """Catalog indices for the titles; InputError naming every unknown one with suggestions."""
        found: list[int] = []
        missing: list[str] = []
        for title in titles:
            idx = self.find(title)
            if idx is None:
                missing.append(title)
            else:
                found.append(idx)
        if missing:
            parts = [f"{t!r} (did you mean: {'; '.join(self.suggest(t))}?)" for t in missing]
            raise InputError(f"not in the {self.catalog.name} catalog: " + ", ".join(parts))
        return found


def profile_to_context(profile: Profile, catalog: Catalog) -> UserContext:
    """Resolve titles and ids against the catalog; unknown ones raise InputError naming them."""
    index = TitleIndex(catalog)
    unknown_ids = [e.item_id for e in profile.history if e.item_id is not None and catalog.index_of(e.item_id) is None]
    if unknown_ids:
        raise InputError(f"item ids not in the {catalog.name} catalog: {', '.join(unknown_ids)}")
    titles = [e.title for e in profile.history if e.title is not None]
    resolved = iter(index.resolve(titles))
    events = []
    for e in profile.history:
        item_id = e.item_id if e.item_id is not None else catalog.items[next(resolved)].item_id
        events.append(HistoryEvent(item_id=item_id, timestamp=e.timestamp, rating=e.rating))
    return UserContext(
        user_id=profile.profile_id if profile.profile_id != "custom" else None,
        profile=profile.profile,
        history=events,
        constraints=profile.constraints,
    )


def history_from_titles(titles: list[str], catalog: Catalog) -> list[HistoryEvent]:
    """History events in the given order (no timestamps) for a list of titles."""
    cleaned = [t.strip() for t in titles if t.strip()]
    return [HistoryEvent(item_id=catalog.items[i].item_id) for i in TitleIndex(catalog).resolve(cleaned)]


def interactions_to_context(catalog: Catalog, user_id: str) -> UserContext:
    """A dataset user's full history, oldest first, with timestamps and ratings."""
    if catalog.interactions is None:
        raise InputError(f"the {catalog.name} catalog has no interaction data, so it has no user ids")
    mine = catalog.interactions.for_user(user_id)
    if len(mine) == 0:
        users = catalog.interactions.users()
        hint = f"; valid ids are {users[0]}..{users[-1]}"
        if all(u.isdigit() for u in users):
            nums = sorted(int(u) for u in users)
            hint = f"; valid ids are {nums[0]}..{nums[-1]}"
        raise InputError(f"unknown user id {user_id!r} in {catalog.name}{hint}")
    events = [
        HistoryEvent(
            item_id=catalog.items[int(i)].item_id,
            timestamp=datetime.fromtimestamp(float(t), tz=UTC),
            rating=None if r != r else float(r),
        )
        for i, t, r in zip(mine.item_index, mine.timestamps, mine.ratings, strict=True)
    ]
    return UserContext(user_id=user_id, history=events)
