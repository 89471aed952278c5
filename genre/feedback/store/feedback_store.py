"""``FeedbackStore``: every repository on one database, opened (and created or migrated) in one call."""

from __future__ import annotations

from genre.feedback.store.engine import Database
from genre.feedback.store.erasure import ErasureRepository
from genre.feedback.store.judgements import PairwiseRepository
from genre.feedback.store.profiles import ProfileRepository
from genre.feedback.store.reason_texts import ReasonTextRepository
from genre.feedback.store.repositories import RunRepository
from genre.feedback.store.review_stats import ReviewStatistics
from genre.feedback.store.schema import applied_versions, migrate
from genre.feedback.store.transfer import EventTransfer


class FeedbackStore(
    EventTransfer,
    RunRepository,
    ReviewStatistics,
    ProfileRepository,
    PairwiseRepository,
    ReasonTextRepository,
    ErasureRepository,
):
    """Durable feedback: open once per process (or per explorer session) and share.

    ``url`` is, in order: the argument, ``$GENRE_FEEDBACK_URL``, or
    ``sqlite:///<cache_dir()>/feedback.sqlite3``. Opening applies the migrations the database lacks.
    User ids are stored as pseudonyms under ``user_id_key``, else ``$GENRE_USER_ID_KEY``, else the
    cache dir's key file (:mod:`~genre.feedback.store.pseudonyms`); callers pass clear ids.
    """

    def __init__(self, url: str | None = None, *, user_id_key: bytes | str | None = None) -> None:
        super().__init__(Database(url, user_id_key))
        self.url = self.db.url
        self.is_sqlite = self.db.is_sqlite
        self.path = self.db.path
        self.where = self.db.where
        self.engine = self.db.engine
        self.version = migrate(self.db)

    def applied_migrations(self) -> list[int]:
        """Schema versions applied to this database, ascending."""
        return applied_versions(self.db)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> FeedbackStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FeedbackStore({self.where!r}, schema v{self.version})"
