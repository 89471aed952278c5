"""Explanation metrics per generator, side by side, on the same recommendations.

For a sample of users the pipeline ranks the top-k once; every generator then writes reasons
for exactly those items from exactly that evidence, and every reason goes through the same
faithfulness check. Also reports attribution fidelity: how often removing the top-attributed
history item lowers the item's fused score, against removing a random history item.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from genre.config import PipelineConfig, StageSpec, build_component
from genre.data import load_profiles
from genre.data.profiles import interactions_to_context, profile_to_context
from genre.explain.faithfulness import FaithfulnessChecker
from genre.explain.template import requests_from_trace
from genre.explain.text_metrics import distinct_n, unique_sentence_ratio
from genre.pipeline import Pipeline
from genre.types import UserContext


@dataclass
class GeneratorRow:
    generator: str
    reasons: int
    faithful: float
    hallucinated: float
    evidence_coverage: float
    """Share of reasons that name at least one of the two strongest evidence history items."""
    distinct_2: float
    unique_sentences: float
    seconds_per_reason: float
    notices: list[str] = field(default_factory=list)


@dataclass
class ExplanationReport:
    config: str
    users: int
    k: int
    rows: list[GeneratorRow]
    attribution_top_lowers: float
    attribution_random_lowers: float

    def to_markdown(self) -> str:
        lines = [
            "| generator | reasons | faithful | hallucinated titles | evidence coverage | distinct-2 "
            "| unique sentences | s / reason |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in self.rows:
            lines.append(
                f"| {r.generator} | {r.reasons} | {r.faithful:.1%} | {r.hallucinated:.1%} | "
                f"{r.evidence_coverage:.1%} | {r.distinct_2:.3f} | {r.unique_sentences:.3f} "
                f"| {r.seconds_per_reason:.3f} |"
            )
        lines.append("")
        lines.append(
            f"Attribution fidelity: removing the top-attributed history item lowers the item's score in "
            f"{self.attribution_top_lowers:.1%} of cases; removing a random history item in "
            f"{self.attribution_random_lowers:.1%}."
        )
        return "\n".join(lines)


def _contexts(pipe: Pipeline, users: int) -> list[UserContext]:
    ctxs = [profile_to_context(p, pipe.catalog) for p in load_profiles(pipe.config.data).values()]
    inter = pipe.catalog.interactions
    if inter is not None and len(inter):
        ids = np.random.default_rng(7).choice(inter.users(), size=min(users, inter.users().size), replace=False)
        ctxs += [interactions_to_context(pipe.catalog, str(u)) for u in sorted(ids.tolist())]
    return ctxs[: max(users, 1)]


def evaluate_explanations(
    config: PipelineConfig, generators: list[str], users: int = 20, k: int = 5
) -> ExplanationReport:
    """Run the pipeline once per user, then let each generator explain the same top-k."""
    pipe = Pipeline(config)
    checker = FaithfulnessChecker(pipe.catalog)
    rng = np.random.default_rng(11)
    traces = [pipe.run(ctx, k=k) for ctx in _contexts(pipe, users)]
    top_lowers, random_lowers = [], []
    for trace in traces:
        for item in trace.items:
            if item.attribution:
                top_lowers.append(item.attribution[0].score_delta < 0)
                random_lowers.append(item.attribution[int(rng.integers(len(item.attribution)))].score_delta < 0)
    rows = []
    for name in generators:
        reasoner = build_component("explain", StageSpec(component=name))
        reasoner.prepare(pipe.env)
        texts, verdicts, covered, notices = [], [], [], []
        started = time.perf_counter()
        for trace in traces:
            requests = requests_from_trace(trace, pipe.catalog)
            if not requests:
                continue
            reasons = reasoner(requests)
            notices += getattr(reasoner, "last_notices", []) or []
            for reason, req, item in zip(reasons, requests, trace.items, strict=True):
                texts.append(reason.text)
                verdict = checker.check(reason.text, req)
                verdicts.append(verdict)
                strongest = [e.label for evs in item.evidence.values() for e in evs if e.kind == "history_item"][:2]
                covered.append(any(t in verdict.mentions for t in strongest) if strongest else verdict.faithful)
        n = max(len(texts), 1)
        rows.append(
            GeneratorRow(
                generator=name,
                reasons=len(texts),
                faithful=float(np.mean([v.faithful for v in verdicts])) if verdicts else 0.0,
                hallucinated=float(np.mean([bool(v.hallucinated_titles) for v in verdicts])) if verdicts else 0.0,
                evidence_coverage=float(np.mean(covered)) if covered else 0.0,
                distinct_2=distinct_n(texts, 2),
                unique_sentences=unique_sentence_ratio(texts),
                seconds_per_reason=(time.perf_counter() - started) / n,
                notices=sorted(set(notices)),
            )
        )
    return ExplanationReport(
        config=config.name,
        users=len(traces),
        k=k,
        rows=rows,
        attribution_top_lowers=float(np.mean(top_lowers)) if top_lowers else 0.0,
        attribution_random_lowers=float(np.mean(random_lowers)) if random_lowers else 0.0,
    )
