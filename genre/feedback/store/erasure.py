"""Erasing a person from the store (``genre forget``): their events, reviews, runs, sessions and saved profiles."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from genre.feedback.store.repositories import Repository
from genre.feedback.store.schema import events, judgements, profiles, reasons, runs, sessions, users

ERASED_TABLES: tuple[str, ...] = ("events", "judgements", "reasons", "runs", "profiles", "sessions", "users")
"""What :meth:`ErasureRepository.forget_user` counts, in the order it deletes (children before parents)."""


class ErasureRepository(Repository):
    """Deletes everything stored under a user's keys, in one transaction."""

    def forget_user(self, users_in: str | Iterable[str]) -> dict[str, int]:
        """Delete every row of these clear user ids (or reviewer names); rows deleted per table (:data:`ERASED_TABLES`).

        Gone: their feedback events (item feedback and reason reviews), the pairwise judgements
        they made as a reviewer, the runs recorded for them with the reason texts those runs showed,
        their saved profiles, their sessions, and the user row itself. An id the store never saw
        deletes nothing (all counts 0). Other people's rows are untouched: a run belongs to one
        user, and only that user's events may name it.
        """
        clear = [users_in] if isinstance(users_in, str) else list(users_in)
        keys = sorted({self.user_key(u) for u in clear})
        counts = dict.fromkeys(ERASED_TABLES, 0)
        with self.db.write("forgetting a user") as conn:
            run_ids = list(conn.execute(sa.select(runs.c.run_id).where(runs.c.user_key.in_(keys))).scalars())
            counts["events"] = _delete(conn, events.delete().where(events.c.user_key.in_(keys)))
            counts["judgements"] = _delete(conn, judgements.delete().where(judgements.c.reviewer.in_(keys)))
            for start in range(0, len(run_ids), 500):
                chunk = run_ids[start : start + 500]
                counts["reasons"] += _delete(conn, reasons.delete().where(reasons.c.run_id.in_(chunk)))
                counts["runs"] += _delete(conn, runs.delete().where(runs.c.run_id.in_(chunk)))
            counts["profiles"] = _delete(conn, profiles.delete().where(profiles.c.user_key.in_(keys)))
            theirs = sa.select(sessions.c.session_id).where(sessions.c.user_key.in_(keys)).scalar_subquery()
            # Nothing checks that a run names a session of its own user: unlink any other run from theirs.
            conn.execute(runs.update().where(runs.c.session_id.in_(theirs)).values(session_id=None))
            counts["sessions"] = _delete(conn, sessions.delete().where(sessions.c.user_key.in_(keys)))
            counts["users"] = _delete(conn, users.delete().where(users.c.key.in_(keys)))
        return counts


def _delete(conn: sa.Connection, stmt: sa.Delete) -> int:
    return int(conn.execute(stmt).rowcount or 0)
