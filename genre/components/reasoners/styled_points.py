"""``grounded`` and ``tuned-local`` in the ``short``, ``bullets`` and ``compare`` styles, point by point.

The template reason of the style is split into points (:func:`~genre.components.reasoners.points.points_of`).
Every point the model can write (one whose facts are all slots) gets ``candidates`` rows in ONE batched
``generate`` call for all items and points, under the grounded decoding constraints, with the point's slots
only. Each candidate is judged like a one-line candidate: its slots (all of the template point's, nothing
else), the form judge, and the claim verifier, which may find no error the template point does not have.
The passing one the model found most fluent replaces the template point; a point with none keeps the
template's. The assembled reason then goes through the verifier as a whole, in its style and length bound;
if it fails where the template passes, the template reason is shown (as a fallback) and the assembled one is
listed among the rejected. A reason with no model-written point is marked as a fallback too.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from genre.components.reasoners.constrained import RowSlots
from genre.components.reasoners.plan import FactPlan, make_plan
from genre.components.reasoners.points import (
    COMPARING_WORDS,
    Candidate,
    Point,
    filled,
    join_points,
    own_words_after,
    point_form,
    point_messages,
    point_openings,
    point_problems,
    points_of,
)
from genre.components.reasoners.styles import Style
from genre.components.reasoners.template import TemplateReasoner
from genre.core.component import ReasonBatch
from genre.core.types import ReasonOut, ReasonRequest, RejectedCandidate
from genre.text.hygiene import sentence_spans
from genre.text.verifier import Verifier


class PointWriter(Protocol):
    """What writing points needs of the grounded reasoner (a protocol: the reasoner imports this module)."""

    name: ClassVar[str]

    @property
    def config(self) -> PointSettings: ...

    styled_template: TemplateReasoner
    _categories: list[str]

    @property
    def checker(self) -> Verifier: ...

    def _chat_text(self, chat: list[dict[str, str]], prefix: str) -> str: ...

    def _generate_rows(
        self,
        texts: list[str],
        slots: list[RowSlots],
        prefixes: list[str],
        titles: list[str],
        seed: int,
        words: frozenset[str] = ...,
    ) -> tuple[list[str], list[float]]: ...


class PointSettings(Protocol):
    """The grounded config fields writing points reads."""

    @property
    def style(self) -> Style: ...

    @property
    def candidates(self) -> int: ...

    @property
    def prefill(self) -> bool: ...

    @property
    def shots(self) -> bool: ...

    @property
    def word_bound(self) -> int: ...


__all__ = ["StyledOutcome", "write_styled", "write_styled_outcome"]

_MIN_OWN = 2
"""Words a model point must write itself after its opening, or the opening and the slots wrote it, not the model."""


@dataclass
class StyledOutcome:
    """A styled call's reasons, notices, and how many points the model wrote (for the bench and the notices)."""

    batch: ReasonBatch
    model_points: list[int] = field(default_factory=list)
    """Per reason: points shown as the model wrote them (0 for a template fallback)."""
    points: list[int] = field(default_factory=list)
    """Per reason: points shown."""


def write_styled(reasoner: PointWriter, requests: list[ReasonRequest], seed: int) -> ReasonBatch:
    """One reason per request in the reasoner's style (see the module docstring)."""
    return write_styled_outcome(reasoner, requests, seed).batch


def write_styled_outcome(reasoner: PointWriter, requests: list[ReasonRequest], seed: int) -> StyledOutcome:
    """:func:`write_styled` with how many points of each reason the model wrote."""
    cfg = reasoner.config
    style, n = cfg.style, cfg.candidates
    plans = [make_plan(r) for r in requests]
    templates = [reasoner.styled_template.write(r, p) for r, p in zip(requests, plans, strict=True)]
    points = [points_of(p, r, t.text, style) for p, r, t in zip(plans, requests, templates, strict=True)]
    rows = [
        (i, j, k)
        for i, pts in enumerate(points)
        for j, point in enumerate(pts)
        if point.slotted is not None
        for k in range(n)
    ]
    prefixes = [_opening(cfg.prefill, plans[i], points[i][j], j, k) for i, j, k in rows]
    texts = [
        reasoner._chat_text(point_messages(points[i][j], style, len(plans[i].history), cfg.shots), prefix)
        for (i, j, _), prefix in zip(rows, prefixes, strict=True)
    ]
    slots = [RowSlots(points[i][j].values, {}, prefix) for (i, j, _), prefix in zip(rows, prefixes, strict=True)]
    titles = [h.title for plan in plans for h in (plan.item, *plan.history)]
    written, fluency = (
        reasoner._generate_rows(texts, slots, prefixes, titles, seed, COMPARING_WORDS) if rows else ([], [])
    )
    outcome = StyledOutcome(ReasonBatch([]))
    for i, (req, plan, template) in enumerate(zip(requests, plans, templates, strict=True)):
        shown: list[str] = []
        rejected: list[RejectedCandidate] = []
        by_model = 0
        for j, point in enumerate(points[i]):
            cands = [
                _candidate(reasoner, req, plan, point, prefixes[r], written[r], fluency[r])
                for r, (ri, rj, _) in enumerate(rows)
                if (ri, rj) == (i, j)
            ]
            rejected += [RejectedCandidate(text=c.text, problems=c.problems) for c in cands if c.problems]
            passing = [c for c in cands if not c.problems]
            if passing:
                shown.append(max(passing, key=lambda c: c.fluency).text)
                by_model += 1
            else:
                shown.append(point.template)
        out = _assemble(reasoner, req, template, shown, rejected, by_model)
        outcome.batch.reasons.append(out)
        outcome.model_points.append(0 if out.fallback else by_model)
        outcome.points.append(len(points[i]) if out.fallback else len(shown))
    fallbacks = sum(o.fallback for o in outcome.batch.reasons)
    kept = sum(outcome.points) - sum(outcome.model_points)
    if fallbacks or kept:
        outcome.batch.notices.append(
            f"{reasoner.name} ({style}): the model wrote {sum(outcome.model_points)} of {sum(outcome.points)} points; "
            f"the other {kept} are the template's, and {fallbacks} of {len(requests)} reasons are template fallbacks"
        )
    return outcome


def _opening(prefill: bool, plan: FactPlan, point: Point, j: int, k: int) -> str:
    """The prefill of candidate ``k`` of point ``j``: the point's openings in turn, from a per-item offset."""
    if not prefill:
        return ""
    options = point_openings(point)
    return options[(zlib.crc32(plan.item.item_id.encode()) + j + k) % len(options)] if options else ""


def _candidate(
    reasoner: PointWriter,
    req: ReasonRequest,
    plan: FactPlan,
    point: Point,
    prefix: str,
    written: str,
    fluency: float,
) -> Candidate:
    """A raw slotted point cut to its first sentence, filled, and judged against its template point."""
    sentences, tail = sentence_spans(re.sub(r"\s+", " ", prefix + written).strip() + " ")
    slotted = sentences[0].strip() if sentences else tail.strip()
    problems = [] if sentences else ["unfinished sentence"]
    problems += point_problems(slotted, point, plan)
    if own_words_after(prefix.strip(), slotted) < _MIN_OWN:
        problems.append(f"the model wrote fewer than {_MIN_OWN} words of its own after its opening")
    text = filled(slotted, point)
    if not problems:
        problems += point_form(text, point, plan, reasoner.config.word_bound, reasoner._categories)
    if not problems:
        # The point is checked alone, so it may lack what only a whole reason needs (the template point lacks
        # it too): only an error the template point does not have rejects it.
        allowed = set(reasoner.checker.verify(point.template, req).errors)
        verdict = reasoner.checker.verify(text, req)
        if set(verdict.errors) - allowed:
            problems += verdict.problems
    return Candidate(slotted, text, problems, fluency)


def _assemble(
    reasoner: PointWriter,
    req: ReasonRequest,
    template: ReasonOut,
    shown: list[str],
    rejected: list[RejectedCandidate],
    by_model: int,
) -> ReasonOut:
    """The reason from its points, verified whole; the template reason when it fails or the model wrote none."""
    style, bound = reasoner.config.style, reasoner.config.word_bound
    if by_model == 0:
        return template.model_copy(update={"fallback": True, "rejected": rejected, "generator": template.generator})
    text = join_points(shown, style)
    verdict = reasoner.checker.verify(text, req, max_words=bound)
    if not verdict.passed and reasoner.checker.verify(template.text, req, max_words=bound).passed:
        rejected = [*rejected, RejectedCandidate(text=text, problems=list(verdict.problems))]
        return template.model_copy(update={"fallback": True, "rejected": rejected})
    return ReasonOut(text=text, generator=reasoner.name, evidence_ids=template.evidence_ids, rejected=rejected)
