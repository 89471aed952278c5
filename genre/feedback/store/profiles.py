"""Saved profiles: named JSON payloads (typically a UserContext) a user keeps in the feedback store."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel

from genre.core.errors import FeedbackError
from genre.feedback.store.engine import upsert
from genre.feedback.store.repositories import Repository, check_ids, ensure_user
from genre.feedback.store.schema import profiles


class ProfileRepository(Repository):
    """Named profiles a user saved (any JSON payload, typically a UserContext)."""

    def save_profile(self, user: str, name: str, payload: dict[str, Any] | BaseModel) -> None:
        """Save (or overwrite) ``user``'s profile ``name``; a pydantic model is stored as its JSON dump."""
        if not name or not name.strip():
            raise FeedbackError("a saved profile needs a non-empty name")
        check_ids(f"saving profile {name!r}", profile_name=name)
        data = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload
        try:
            json.dumps(data, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise FeedbackError(f"profile {name!r} is not JSON-serializable: {exc}") from None
        now = datetime.now(UTC)
        key = self.user_key(user)
        with self.db.write(f"saving profile {name!r}") as conn:
            ensure_user(conn, key)
            stmt = upsert(conn, profiles, ["user_key", "name"], {"payload": data, "updated_at": now})
            conn.execute(stmt.values(user_key=key, name=name, payload=data, updated_at=now))

    def load_profile(self, user: str, name: str) -> dict[str, Any]:
        """The payload saved as ``name``; FeedbackError naming the saved ones when there is none."""
        with self.db.read(f"loading profile {name!r}") as conn:
            row = conn.execute(
                sa.select(profiles.c.payload).where(profiles.c.user_key == self.user_key(user), profiles.c.name == name)
            ).first()
        if row is None:
            saved = self.list_profiles(user)
            raise FeedbackError(
                f"user {user!r} has no saved profile {name!r}; saved: {', '.join(saved) if saved else 'none'}"
            )
        payload: dict[str, Any] = row.payload
        return payload

    def list_profiles(self, user: str) -> list[str]:
        """Names of ``user``'s saved profiles, sorted."""
        with self.db.read("listing profiles") as conn:
            q = sa.select(profiles.c.name).where(profiles.c.user_key == self.user_key(user)).order_by(profiles.c.name)
            return list(conn.execute(q).scalars())

    def delete_profile(self, user: str, name: str) -> bool:
        """Remove a saved profile; False when there was none."""
        with self.db.write(f"deleting profile {name!r}") as conn:
            res = conn.execute(
                profiles.delete().where(profiles.c.user_key == self.user_key(user), profiles.c.name == name)
            )
        return bool(res.rowcount)
