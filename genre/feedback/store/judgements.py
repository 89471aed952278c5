"""Pairwise judgements in the store: saved latest-wins, read back, summarised per pair of arms, exported.

A judgement's identity is (reviewer, subject, item, arm a, arm b) in canonical arm order
(:attr:`genre.feedback.pairwise.Judgement.identity`); saving it again, from a second browser tab or
after changing one's mind, replaces the stored one in a single upsert.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa

from genre.core.errors import FeedbackError
from genre.feedback.pair_summary import PairSummary, summarize
from genre.feedback.pairwise import Arm, Judgement
from genre.feedback.store.engine import dialect_insert
from genre.feedback.store.hygiene import scrub_optional
from genre.feedback.store.repositories import Repository, check_ids
from genre.feedback.store.schema import judgements as table
from genre.feedback.store.transfer import csv_cell, open_out

JUDGEMENT_FIELDS: tuple[str, ...] = (
    "id", "reviewer", "subject", "item_id", "run_id", "arm_a", "arm_b", "config_a", "config_b", "left",
    "choice", "winner", "faithful_a", "faithful_b", "comment", "reason_a", "reason_b", "created_at",
)  # fmt: skip
"""CSV columns of :meth:`PairwiseRepository.export_judgements` (``arm_a``/``arm_b`` are readable labels; the
JSONL export carries the full arms and the item's context)."""
FORMATS: tuple[str, ...] = ("csv", "jsonl")
_IDENTITY = ["reviewer", "subject", "item_id", "arm_a_key", "arm_b_key"]


def _row(j: Judgement, reviewer: str) -> dict[str, Any]:
    return {
        "reviewer": reviewer, "subject": j.subject, "item_id": j.item_id,
        "arm_a_key": j.arm_a.key, "arm_b_key": j.arm_b.key,
        "config_a": j.arm_a.config_name, "config_b": j.arm_b.config_name, "run_id": j.run_id,
        "shown_left": j.left, "choice": j.choice, "faithful_a": j.faithful_a, "faithful_b": j.faithful_b,
        "comment": j.comment, "reason_a": j.reason_a, "reason_b": j.reason_b, "context": j.context,
        "created_at": j.created_at,
    }  # fmt: skip


def _judgement(r: Any) -> tuple[int, Judgement]:
    j = Judgement(
        reviewer=r.reviewer, subject=r.subject, item_id=r.item_id, run_id=r.run_id,
        arm_a=Arm.model_validate_json(r.arm_a_key), arm_b=Arm.model_validate_json(r.arm_b_key),
        left=r.shown_left, choice=r.choice, faithful_a=r.faithful_a, faithful_b=r.faithful_b,
        comment=r.comment, reason_a=r.reason_a, reason_b=r.reason_b, context=r.context, created_at=r.created_at,
    )  # fmt: skip
    return int(r.id), j


class PairwiseRepository(Repository):
    """Blind side-by-side judgements of two reason arms."""

    def save_judgement(self, j: Judgement) -> None:
        """Store ``j``, replacing the stored judgement with the same identity (latest wins).

        The reviewer is stored as its pseudonym (:mod:`~genre.feedback.store.pseudonyms`), and judgements
        read back carry it.

        An older judgement than the stored one (by ``created_at``) changes nothing, so a stale tab
        cannot undo a newer answer.
        """
        self.save_judgements([j])

    def save_judgements(self, js: list[Judgement]) -> None:
        """Store several judgements in one transaction (all or none), each latest-wins."""
        for j in js:
            if not isinstance(j, Judgement):
                raise FeedbackError(
                    f"save_judgement takes a Judgement (build it with Judgement.from_screen), not {j!r}"
                )
            check_ids(
                f"judgement on item {j.item_id!r}", item_id=j.item_id, subject=j.subject, run_id=j.run_id,
                comment=j.comment, reason_a=j.reason_a, reason_b=j.reason_b,
            )  # fmt: skip
        with self.db.write("storing judgements") as conn:
            for j in js:
                row = _row(j, self.user_key(j.reviewer))
                stmt = dialect_insert(conn, table).values(**row)
                stmt = stmt.on_conflict_do_update(
                    index_elements=_IDENTITY,
                    set_={k: stmt.excluded[k] for k in row if k not in _IDENTITY},
                    where=table.c.created_at <= stmt.excluded.created_at,
                )
                conn.execute(stmt)

    def judgements(self, config_name: str | None = None, reviewer: str | None = None) -> list[Judgement]:
        """Stored judgements, oldest first; ``config_name`` keeps those where either arm ran in that config."""
        return [j for _, j in self._judgement_rows(config_name, reviewer)]

    def _judgement_rows(self, config_name: str | None, reviewer: str | None) -> list[tuple[int, Judgement]]:
        q = sa.select(table).order_by(table.c.created_at, table.c.id)
        if config_name is not None:
            q = q.where(sa.or_(table.c.config_a == config_name, table.c.config_b == config_name))
        if reviewer is not None:
            q = q.where(table.c.reviewer == self.user_key(reviewer))
        with self.db.read("reading judgements") as conn:
            return [_judgement(r) for r in conn.execute(q)]

    def count_judgements(self) -> int:
        with self.db.read("counting judgements") as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())

    def pairwise_summary(self, config_name: str | None = None) -> list[PairSummary]:
        """Per pair of arms: wins, win rate of a with its 95% Wilson interval, faithful rates, kappa, comments."""
        return summarize(self.judgements(config_name))

    def export_judgements(
        self,
        path: str | Path,
        fmt: Literal["csv", "jsonl"] = "csv",
        config_name: str | None = None,
        *,
        scrub: bool = True,
    ) -> int:
        """Write judgements as CSV (:data:`JUDGEMENT_FIELDS`) or JSON lines (every field); returns how many.

        Reviewers are their pseudonyms; comments have e-mail addresses and phone numbers replaced
        (unless ``scrub`` is False); a CSV text cell starting like a formula (``=``, ``+``, ``-``,
        ``@``, tab, carriage return) or with ``'`` gets a leading ``'`` (:mod:`~.hygiene`).
        """
        if fmt not in FORMATS:
            raise FeedbackError(f"unknown export format {fmt!r}; valid formats: {', '.join(FORMATS)}")
        rows = self._judgement_rows(config_name, None)
        if scrub:
            rows = [(id_, j.model_copy(update={"comment": scrub_optional(j.comment)})) for id_, j in rows]
        with open_out(Path(path)) as fh:
            if fmt == "jsonl":
                for id_, j in rows:
                    fh.write(json.dumps({"id": id_, **j.model_dump(mode="json")}, ensure_ascii=False) + "\n")
            else:
                writer = csv.writer(fh, lineterminator="\n")
                writer.writerow(JUDGEMENT_FIELDS)
                for id_, j in rows:
                    d = _flat(id_, j)
                    writer.writerow([csv_cell(d[k], numeric=k == "id") for k in JUDGEMENT_FIELDS])
        return len(rows)


def _flat(id_: int, j: Judgement) -> dict[str, Any]:
    winner = j.winner
    return {
        "id": id_, "reviewer": j.reviewer, "subject": j.subject, "item_id": j.item_id, "run_id": j.run_id,
        "arm_a": j.arm_a.label, "arm_b": j.arm_b.label, "config_a": j.arm_a.config_name,
        "config_b": j.arm_b.config_name, "left": j.left, "choice": j.choice,
        "winner": "tie" if winner is None else winner.label, "faithful_a": j.faithful_a,
        "faithful_b": j.faithful_b, "comment": j.comment, "reason_a": j.reason_a, "reason_b": j.reason_b,
        "created_at": j.created_at.isoformat(),
    }  # fmt: skip
