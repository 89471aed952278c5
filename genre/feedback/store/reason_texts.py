"""The reasons a run showed, with the request they were written for, so reviews of them can train the reasoner.

Single-mode review stores ``reason_rating``/``reason_faithful`` events that name the run, the item
and the generator; :meth:`ReasonTextRepository.record_reasons` keeps the text and its context
(the labelled-record form of the request) under the same names, and
:meth:`ReasonTextRepository.reviewed_reasons` joins the two.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from genre.core.errors import FeedbackError
from genre.feedback.store.engine import dialect_insert
from genre.feedback.store.repositories import Repository, check_ids
from genre.feedback.store.schema import events, reasons, runs


class StoredReason(BaseModel):
    """One shown reason: who wrote it, its text, and the request it was written for."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    run_id: str
    item_id: str
    generator: str
    text: str
    options: dict[str, Any] = Field(default_factory=dict)
    """The generator's options when it wrote the reason (e.g. its style)."""
    context: dict[str, Any] | None = None
    """The request in the labelled-record format (:mod:`genre.data.labelled`); None when not kept."""


class ReviewedReason(StoredReason):
    """A stored reason with the latest verdicts of one reviewer on it."""

    reviewer: str
    rating: float | None = None
    """The reviewer's reason_rating, 1-5; None when not rated."""
    faithful: bool | None = None
    """The reviewer's reason_faithful verdict; None when not given."""


ReasonItem = tuple[str, str, str, "dict[str, Any] | None"]
"""``(item_id, generator, text, context)``, what :meth:`ReasonTextRepository.record_reasons` takes."""


class ReasonTextRepository(Repository):
    """Reason texts per (run, item, generator)."""

    def record_reasons(self, run_id: str, items: Iterable[ReasonItem], *, options: dict[str, Any] | None = None) -> int:
        """Keep the reasons a recorded run showed; recording one again replaces its text and context.

        ``options`` are the generator's options for the whole run. Returns how many were written.
        """
        now = datetime.now(UTC)
        rows = []
        for n, entry in enumerate(items, start=1):
            try:
                item_id, generator, text, context = entry
            except (TypeError, ValueError):
                raise FeedbackError(
                    f"reason {n} of run {run_id!r}: expected (item_id, generator, text, context), got {entry!r}"
                ) from None
            if not item_id or not generator:
                raise FeedbackError(f"reason {n} of run {run_id!r}: the item id and the generator must be non-empty")
            if context is not None and not isinstance(context, dict):
                raise FeedbackError(f"reason {n} of run {run_id!r}: context must be a dict or None")
            check_ids(f"reason {n} of run {run_id!r}", item_id=str(item_id), generator=str(generator), text=str(text))
            rows.append({
                "run_id": run_id, "item_id": str(item_id), "generator": str(generator), "text": str(text),
                "options": dict(options or {}), "context": context, "created_at": now,
            })  # fmt: skip
        with self.db.write(f"recording the reasons of run {run_id}") as conn:
            if conn.execute(sa.select(runs.c.run_id).where(runs.c.run_id == run_id)).first() is None:
                raise FeedbackError(f"unknown run id {run_id!r}: record the run first with record_run(trace)")
            for row in rows:
                stmt = dialect_insert(conn, reasons).values(**row)
                keep = ("text", "options", "context", "created_at")
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["run_id", "item_id", "generator"], set_={k: stmt.excluded[k] for k in keep}
                    )
                )
        return len(rows)

    def reasons(self, run_id: str | None = None) -> list[StoredReason]:
        """Stored reasons (of one run, or all), in run and item order."""
        q = sa.select(reasons).order_by(reasons.c.run_id, reasons.c.item_id, reasons.c.generator)
        if run_id is not None:
            q = q.where(reasons.c.run_id == run_id)
        with self.db.read("reading reasons") as conn:
            return [
                StoredReason(
                    run_id=r.run_id,
                    item_id=r.item_id,
                    generator=r.generator,
                    text=r.text,
                    options=r.options or {},
                    context=r.context,
                )
                for r in conn.execute(q)
            ]

    def reviewed_reasons(self, config_name: str | None = None) -> list[ReviewedReason]:
        """Every stored reason some reviewer rated or marked, once per reviewer, with their latest verdicts."""
        q = (
            sa.select(reasons, events.c.user_key, events.c.kind, events.c.value)
            .join(
                events,
                sa.and_(
                    events.c.run_id == reasons.c.run_id,
                    events.c.item_id == reasons.c.item_id,
                    events.c.generator == reasons.c.generator,
                ),
            )
            .where(events.c.kind.in_(("reason_rating", "reason_faithful")))
            .order_by(reasons.c.run_id, reasons.c.item_id, reasons.c.generator, events.c.created_at, events.c.id)
        )
        if config_name is not None:
            q = q.where(events.c.config_name == config_name)
        out: dict[tuple[str, str, str, str], ReviewedReason] = {}
        with self.db.read("reading reviewed reasons") as conn:
            for r in conn.execute(q):
                key = (r.run_id, r.item_id, r.generator, r.user_key)
                rr = out.get(key) or ReviewedReason(
                    run_id=r.run_id, item_id=r.item_id, generator=r.generator, text=r.text,
                    options=r.options or {}, context=r.context, reviewer=r.user_key,
                )  # fmt: skip
                if r.kind == "reason_rating":
                    rr.rating = r.value
                else:
                    rr.faithful = r.value == 1.0
                out[key] = rr
        return list(out.values())
