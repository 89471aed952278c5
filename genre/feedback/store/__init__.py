"""The durable feedback store: users, sessions, saved profiles, runs and feedback events.

``FeedbackStore(url)`` opens (and creates or migrates) a database through SQLAlchemy Core, no
ORM. SQLite (the default, and what the tests use) and PostgreSQL
(``GENRE_FEEDBACK_URL=postgresql+psycopg://user:pw@host/db``; psycopg comes with GENRE)
share one schema. Every SQLAlchemy or file-system error surfaces as
:class:`~genre.core.errors.StoreUnavailableError` naming the database and what to do, and every
invalid event as :class:`~genre.core.errors.FeedbackError`; no raw driver traceback reaches a caller.

Privacy: user ids and reviewer names are stored as keyed hashes (``pseudonyms``; the key is
``$GENRE_USER_ID_KEY`` or a 0600 file in the cache dir), callers pass clear ids;
:meth:`FeedbackStore.forget_user` (``genre forget``) erases a person; exports scrub contact details
from comments and neutralise spreadsheet formulas in CSV (``hygiene``).

Modules, lowest first: ``pseudonyms`` (the keyed hash and its key), ``hygiene`` (scrubbing and
formula neutralising), ``engine`` (URL, engine, pragmas, busy timeout, error translation),
``schema`` (tables and migrations), ``repositories`` (runs, events), ``review_stats``,
``profiles``, ``transfer`` (CSV/JSONL export and import), ``judgements`` (pairwise judgements:
latest-wins, summaries, export), ``reason_texts`` (the reasons a run showed, joined to their
reviews), ``erasure`` (forgetting a user), ``feedback_store`` (all of them on one database).
"""

from genre.feedback.pair_summary import PairSummary, RateCount
from genre.feedback.store.engine import BUSY_TIMEOUT_MS, ENV_URL, Database, default_url
from genre.feedback.store.erasure import ERASED_TABLES
from genre.feedback.store.feedback_store import FeedbackStore
from genre.feedback.store.hygiene import neutralise_cell, scrub_contacts
from genre.feedback.store.judgements import JUDGEMENT_FIELDS
from genre.feedback.store.pseudonyms import ENV_KEY as USER_ID_KEY_ENV
from genre.feedback.store.reason_texts import ReviewedReason, StoredReason
from genre.feedback.store.repositories import ANONYMOUS, EventFilter
from genre.feedback.store.review_stats import GeneratorAcceptance
from genre.feedback.store.schema import MIGRATIONS, SCHEMA_VERSION, Migration
from genre.feedback.store.transfer import EXPORT_FIELDS

__all__ = [
    "ANONYMOUS",
    "BUSY_TIMEOUT_MS",
    "ENV_URL",
    "ERASED_TABLES",
    "EXPORT_FIELDS",
    "JUDGEMENT_FIELDS",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "USER_ID_KEY_ENV",
    "Database",
    "EventFilter",
    "FeedbackStore",
    "GeneratorAcceptance",
    "Migration",
    "PairSummary",
    "RateCount",
    "ReviewedReason",
    "StoredReason",
    "default_url",
    "neutralise_cell",
    "scrub_contacts",
]
