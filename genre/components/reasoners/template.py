"""Deterministic template reasons written from the item's fact plan, in any style.

``one-line`` is :func:`~genre.components.reasoners.oneline.template_text` (history, what it shares, the
strongest component, the intent, every title named once); ``short``, ``bullets`` and ``compare`` are
:func:`~genre.components.reasoners.styled.styled_text`, which adds what is new about the item next to
its closest history item (:mod:`genre.components.reasoners.contrast`).
"""

from __future__ import annotations

from pydantic import Field

from genre.components.reasoners.contrast import make_contrast
from genre.components.reasoners.oneline import template_text
from genre.components.reasoners.plan import MAX_NAMED, FactPlan, history_evidence, make_plan, plain
from genre.components.reasoners.styled import styled_text
from genre.components.reasoners.styles import Style, StyleOptions
from genre.core.component import ReasonBatch, Reasoner
from genre.core.types import Catalog, Evidence, ReasonOut, ReasonRequest, RunTrace

__all__ = [
    "TemplateConfig", "TemplateReasoner", "history_evidence", "requests_from_trace", "styled_template", "template_text",
]  # fmt: skip


class TemplateConfig(StyleOptions):
    GENERATOR = "template"

    max_evidence: int = Field(default=2, ge=1, le=5)
    """How many history items a reason names at most (the fact plan names two at most)."""


class TemplateReasoner(Reasoner):
    """Template reasons from the fact plan: history items, what they share, the strongest component, the intent."""

    Config = TemplateConfig
    config: TemplateConfig
    name = "template"

    def __call__(self, requests: list[ReasonRequest], *, seed: int | None = None) -> ReasonBatch:
        """One template reason per request; deterministic, so ``seed`` changes nothing and nothing degrades."""
        return ReasonBatch([self.write(r) for r in requests])

    def plan(self, req: ReasonRequest) -> FactPlan:
        """The fact plan this reasoner writes from."""
        return make_plan(req, min(self.config.max_evidence, MAX_NAMED))

    def write(self, req: ReasonRequest, plan: FactPlan | None = None) -> ReasonOut:
        """The template reason for one request in the configured style (what generating reasoners fall back to)."""
        plan = plan or self.plan(req)
        contrast = make_contrast(plan, req)
        text = styled_text(plan, contrast, self.config.style, self.config.word_bound)
        # The compare styles may name the closest history item even when no scorer cited it.
        mentioned = [*plan.history, *([contrast.closest] if contrast.closest is not None else [])]
        named = list(dict.fromkeys(h.item_id for h in mentioned if plain(h.title) in text))
        return ReasonOut(text=text, generator=self.name, evidence_ids=named)


def styled_template(plan: FactPlan, req: ReasonRequest, style: Style, max_words: int) -> str:
    """The template reason in ``style`` (one-line: :func:`template_text`), within ``max_words`` where it can be."""
    return styled_text(plan, make_contrast(plan, req), style, max_words)


def requests_from_trace(trace: RunTrace, catalog: Catalog) -> list[ReasonRequest]:
    """The reason requests behind a trace's items, to regenerate reasons with another generator."""
    history = [catalog.items[i] for h in trace.history if (i := catalog.index_of(h.item_id)) is not None]
    out = []
    for item in trace.items:
        index = catalog.index_of(item.item_id)
        assert index is not None
        evidence = {
            name: [Evidence(e.kind, e.label, e.weight, e.item_id, e.count) for e in evs]  # type: ignore[arg-type]
            for name, evs in item.evidence.items()
        }
        out.append(
            ReasonRequest(
                item=catalog.items[index],
                contributions=item.contributions,
                evidence=evidence,
                history=history,
                intent=trace.intent,
                cold_start=trace.cold_start,
            )
        )
    return out
