"""Deterministic template reasons that name the evidence that drove each score."""

from __future__ import annotations

import zlib

from pydantic import Field

from genre.core.component import ComponentConfig, ReasonBatch, Reasoner
from genre.core.types import Catalog, Evidence, ReasonOut, ReasonRequest, RunTrace


def _join(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


class TemplateConfig(ComponentConfig):
    max_evidence: int = Field(default=2, ge=1, le=5)
    """How many history items a reason names at most."""


class TemplateReasoner(Reasoner):
    """Template reasons naming the history items, shared attributes and popularity behind a score."""

    Config = TemplateConfig
    config: TemplateConfig
    name = "template"

    def __call__(self, requests: list[ReasonRequest], *, seed: int | None = None) -> ReasonBatch:
        """One template reason per request; deterministic, so ``seed`` changes nothing and nothing degrades."""
        return ReasonBatch([self.write(r) for r in requests])

    def write(self, req: ReasonRequest) -> ReasonOut:
        """The template reason for one request (what generating reasoners fall back to)."""
        item = req.item
        variant = zlib.crc32(item.item_id.encode()) % 3
        history_ev = self._history_evidence(req)
        by_id = {h.item_id: h for h in req.history}
        named = [by_id[e.item_id] for e in history_ev if e.item_id in by_id]
        popularity = next((e for evs in req.evidence.values() for e in evs if e.kind == "popularity"), None)
        profile_ev = next((e for evs in req.evidence.values() for e in evs if e.kind == "profile"), None)
        dominant = max(req.contributions, key=lambda k: req.contributions[k]) if req.contributions else None

        if req.cold_start:
            text = (
                f"One of the most popular picks in the catalog ({popularity.label if popularity else 'widely chosen'})."
            )
            return ReasonOut(text=text + " Add history or a profile to personalize.", generator=self.name)

        sentences: list[str] = []
        if named:
            titles = _join([h.title for h in named])
            opening = [f"Because you liked {titles}", f"You enjoyed {titles}", f"Picked for fans of {titles}"][variant]
            shared = sorted(set(item.categories) & {c for h in named for c in h.categories})
            if shared:
                tail = [
                    f"; like them it is {_join(shared[:3])}.",
                    f", and this shares {_join(shared[:3])} with them.",
                    f": it is {_join(shared[:3])} too.",
                ][variant]
                sentences.append(opening + tail)
            else:
                sentences.append(opening + ", and its description is close to theirs.")
            brand = item.attributes.get("brand")
            same_brand = [h for h in named if brand and h.attributes.get("brand") == brand]
            if same_brand:
                sentences.append(f"It is from {brand}, like {same_brand[0].title}.")
        elif profile_ev is not None:
            sentences.append("It closely matches what you described in your profile.")
        if req.intent.labels and (profile_ev is not None or named):
            top = req.intent.labels[0].label
            if any(top.lower() in c.lower() or c.lower() in top.lower() for c in item.categories):
                sentences.append(f"It fits your current interest in {top}.")
        if popularity is not None and (dominant == "popularity" or not sentences):
            sentences.append(f"It is also widely chosen ({popularity.label}).")
        if not sentences:
            sentences.append(f"It scored well on {dominant or 'the blended score'}.")
        return ReasonOut(text=" ".join(sentences), generator=self.name, evidence_ids=[h.item_id for h in named])

    def _history_evidence(self, req: ReasonRequest) -> list[Evidence]:
        """History evidence from the scorers that added most to this item first.

        Evidence weights are on each scorer's own scale, so they are only compared within a scorer.
        """
        return history_evidence(req, self.config.max_evidence)


def history_evidence(req: ReasonRequest, limit: int) -> list[Evidence]:
    """Up to ``limit`` distinct history items, taken from scorers in order of their contribution."""
    seen: set[str] = set()
    picked: list[Evidence] = []
    for name in sorted(req.evidence, key=lambda n: -req.contributions.get(n, 0.0)):
        for e in sorted(
            (e for e in req.evidence[name] if e.kind == "history_item" and e.item_id), key=lambda e: -e.weight
        ):
            if e.item_id is not None and e.item_id not in seen:
                seen.add(e.item_id)
                picked.append(e)
            if len(picked) == limit:
                return picked
    return picked


def requests_from_trace(trace: RunTrace, catalog: Catalog) -> list[ReasonRequest]:
    """The reason requests behind a trace's items, to regenerate reasons with another generator."""
    history = [catalog.items[i] for h in trace.history if (i := catalog.index_of(h.item_id)) is not None]
    out = []
    for item in trace.items:
        index = catalog.index_of(item.item_id)
        assert index is not None
        evidence = {
            name: [Evidence(e.kind, e.label, e.weight, e.item_id) for e in evs]  # type: ignore[arg-type]
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
