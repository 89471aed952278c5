"""Review statistics: how reviewers judged each reason generator's reasons (what ``prefer_reviewed`` reads)."""

from __future__ import annotations

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict

from genre.feedback.events import REASON_KINDS
from genre.feedback.store.repositories import Repository
from genre.feedback.store.schema import events


class GeneratorAcceptance(BaseModel):
    """How users judged one reason generator's reasons."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    n: int
    """Reason feedback events for this generator (ratings and faithfulness verdicts)."""
    n_ratings: int
    mean_rating: float | None
    """Mean reason_rating (1-5); None without ratings."""
    n_verdicts: int
    faithful_rate: float | None
    """Share of reason_faithful verdicts that said faithful; None without verdicts."""


class ReviewStatistics(Repository):
    """Aggregates of reason feedback, per reason generator."""

    def generator_acceptance(self, config_name: str | None = None) -> dict[str, GeneratorAcceptance]:
        """Per reason generator: how many reason events, the mean reason rating and the faithful rate."""
        is_rating = events.c.kind == "reason_rating"
        is_verdict = events.c.kind == "reason_faithful"
        q = (
            sa.select(
                events.c.generator,
                sa.func.count().label("n"),
                sa.func.count(sa.case((is_rating, events.c.value))).label("n_ratings"),
                sa.func.avg(sa.case((is_rating, events.c.value))).label("mean_rating"),
                sa.func.count(sa.case((is_verdict, events.c.value))).label("n_verdicts"),
                sa.func.avg(sa.case((is_verdict, events.c.value))).label("faithful_rate"),
            )
            .where(events.c.kind.in_(REASON_KINDS), events.c.generator.is_not(None))
            .group_by(events.c.generator)
            .order_by(events.c.generator)
        )
        if config_name is not None:
            q = q.where(events.c.config_name == config_name)
        with self.db.read("summarizing reason feedback") as conn:
            rows = list(conn.execute(q))
        return {
            r.generator: GeneratorAcceptance(
                n=r.n,
                n_ratings=r.n_ratings,
                mean_rating=None if r.mean_rating is None else float(r.mean_rating),
                n_verdicts=r.n_verdicts,
                faithful_rate=None if r.faithful_rate is None else float(r.faithful_rate),
            )
            for r in rows
        }
