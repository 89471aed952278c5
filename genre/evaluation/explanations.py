"""Explanation metrics per generator, side by side, on the same recommendations.

For a sample of users the pipeline ranks the top-k once; every generator then writes reasons
for exactly those items from exactly that evidence, and every reason goes through the same
claim-level verifier (:mod:`genre.text.verifier`): the share that passes, the shares with an
invented or wrong title, with each kind of unsupported claim and with a form error, how often a
reason names one of the strongest evidence items, and distinct-2. Also reports attribution
fidelity: how often removing the top-attributed history item lowers the item's fused score,
against removing a random history item.

When the config's catalog has hand-written reference reasons (``sample_data/reasons/<catalog>.jsonl``),
every generator is also scored on the held-out reference pairs (the 20% of recommended items the
``train-reasoner`` command never trains on): the same verifier and diversity figures, plus
BLEU-4 and ROUGE-L against the one or two reasons written for that evidence.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np

from genre.components.reasoners.local import TransformersReasoner
from genre.components.reasoners.plan import history_evidence
from genre.components.reasoners.template import requests_from_trace
from genre.config import PipelineConfig, StageSpec, build_component
from genre.core.component import Reasoner
from genre.core.paths import PROJECT_ROOT
from genre.core.types import Catalog, Interactions, ReasonRequest, UserContext
from genre.core.verdict import Verdict
from genre.data import load_profiles
from genre.data.profiles import interactions_to_context, profile_to_context
from genre.data.references import ReferencePair, load_references, reference_path, split_by_item, to_request
from genre.pipeline import Pipeline
from genre.text.metrics import corpus_bleu4, distinct_n, rouge_l, unique_sentence_ratio
from genre.text.verifier import Verifier

EVAL_USER_SEED = 7
"""Seed of the permutation whose first ``users`` dataset users are the evaluated ones."""
REFERENCE_BATCH = 8
"""Reference requests per generator call (one batched generate for the local models)."""
REFERENCE_HOLDOUT = 0.2
"""Share of the reference pairs' recommended items held out for evaluation (never trained on)."""
REFERENCE_SPLIT_SEED = 0


def reference_split(pairs: Sequence[ReferencePair]) -> tuple[list[ReferencePair], list[ReferencePair]]:
    """(train, held out): the split every trainer and evaluation uses, 20% of recommended items held out."""
    return split_by_item(pairs, holdout=REFERENCE_HOLDOUT, seed=REFERENCE_SPLIT_SEED)


FORM_ERRORS = frozenset({"repetition", "unfinished", "length", "markup", "language", "empty", "slot", "fluency"})
"""The verifier's form error types (the rest are about claims)."""


@dataclass
class GeneratorRow:
    generator: str
    reasons: int
    passed: float
    """Share of reasons the verifier passes."""
    invented: float
    """Share of reasons naming a title that is no catalog title (``invented_title``)."""
    wrong_title: float
    """Share of reasons naming a catalog title that is neither the item nor in the evidence."""
    unsupported_attribute: float
    """Share of reasons with an attribute word the evidence does not back."""
    unsupported_number: float
    """Share of reasons with a figure found in no evidence."""
    wrong_target: float
    """Share of reasons recommending another title than the item."""
    form_errors: float
    """Share of reasons with any form error (repetition, unfinished, length, markup, language, empty, slot)."""
    evidence_coverage: float
    """Share of reasons that name at least one of the two strongest evidence history items."""
    distinct_2: float
    unique_sentences: float
    seconds_per_reason: float
    notices: list[str] = field(default_factory=list)
    tokens_per_second: float = 0.0
    """Reason tokens the model wrote per second of generation, prefills excluded
    (``ExplanationReport.token_unit`` says which tokens)."""
    bleu4: float | None = None
    """Corpus BLEU-4 against the hand-written references (reference rows only)."""
    rouge_l: float | None = None
    """Mean ROUGE-L F against the best of each pair's references (reference rows only)."""
    repaired: int = 0
    """Reasons the generator wrote a second time from a prefill because they named no history title or failed
    verification (tuned-local)."""


@dataclass
class ReasonCase:
    """One reason to write and check: the request, the verifier for its catalog, and what it is measured against."""

    request: ReasonRequest
    verifier: Verifier
    strongest: list[str]
    """Titles of the (up to two) strongest history evidence items (:func:`strongest`); coverage asks for one."""
    references: list[str] | None = None
    """Hand-written reasons for the same evidence, for BLEU-4 and ROUGE-L."""


def strongest(request: ReasonRequest) -> list[str]:
    """Titles of the two strongest history evidence items: from the top-contributing scorers first,
    by weight within a scorer (the order every reasoner reads evidence in)."""
    return [e.label for e in history_evidence(request, 2)]


def markdown_table(rows: list[GeneratorRow], references: bool) -> list[str]:
    head = (
        "| generator | reasons | passed | invented titles | wrong titles | unsupported attributes "
        "| unsupported numbers | wrong target | form errors | evidence coverage | distinct-2 "
        "| unique sentences | s / reason | tokens / s |"
    )
    rule = "|" + "---|" * 14
    if references:
        head += " BLEU-4 | ROUGE-L |"
        rule += "---|---|"
    lines = [head, rule]
    for r in rows:
        line = (
            f"| {r.generator} | {r.reasons} | {r.passed:.1%} | {r.invented:.1%} | {r.wrong_title:.1%} | "
            f"{r.unsupported_attribute:.1%} | {r.unsupported_number:.1%} | {r.wrong_target:.1%} | "
            f"{r.form_errors:.1%} | {r.evidence_coverage:.1%} | {r.distinct_2:.3f} | {r.unique_sentences:.3f} "
            f"| {r.seconds_per_reason:.3f} | {r.tokens_per_second:,.0f} |"
        )
        if references:
            line += f" {r.bleu4 or 0.0:.3f} | {r.rouge_l or 0.0:.3f} |"
        lines.append(line)
    return lines


@dataclass
class ExplanationReport:
    config: str
    users: int
    k: int
    rows: list[GeneratorRow]
    attribution_top_lowers: float
    attribution_random_lowers: float
    reference_rows: list[GeneratorRow] = field(default_factory=list)
    """The same generators on the held-out reference pairs (empty when the catalog has none)."""
    reference_pairs: int = 0
    reference_file: str | None = None
    token_unit: str = "words"
    """What ``tokens_per_second`` counts: SmolLM2 tokens when the generator is prepared, else words."""

    def to_markdown(self) -> str:
        lines = markdown_table(self.rows, references=False)
        lines.append("")
        lines.append(
            f"Attribution fidelity: removing the top-attributed history item lowers the item's score in "
            f"{self.attribution_top_lowers:.1%} of cases; removing a random history item in "
            f"{self.attribution_random_lowers:.1%}."
        )
        if self.reference_rows:
            lines += [
                "",
                f"Held-out reference pairs ({self.reference_pairs} from {self.reference_file}; "
                "BLEU-4 and ROUGE-L against the hand-written reasons):",
                "",
                *markdown_table(self.reference_rows, references=True),
            ]
        return "\n".join(lines)


def eval_user_ids(interactions: Interactions, users: int) -> list[str]:
    """The dataset users the explanation metrics use: the first ``users`` of a fixed permutation.

    A prefix of one permutation, so a larger sample contains every smaller one, and the
    ``train-reasoner`` command can leave all of them out of its training data.
    """
    ids = np.random.default_rng(EVAL_USER_SEED).permutation(interactions.users())
    return sorted(str(u) for u in ids[: max(users, 0)].tolist())


def _contexts(pipe: Pipeline, users: int) -> list[UserContext]:
    ctxs = [profile_to_context(p, pipe.catalog) for p in load_profiles(pipe.config.data).values()]
    inter = pipe.catalog.interactions
    if inter is not None and len(inter):
        ctxs += [interactions_to_context(pipe.catalog, u) for u in eval_user_ids(inter, users)]
    return ctxs[: max(users, 1)]


def token_counter() -> tuple[Callable[[str], int], str]:
    """A function counting a reason's tokens, and its unit: SmolLM2 tokens when prepared, else words."""
    from genre.models import generator_cache_path, generator_is_prepared

    if generator_is_prepared():
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(generator_cache_path(), local_files_only=True)
        return (lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])), "SmolLM2 tokens"
    return (lambda text: len(text.split())), "words"


def score_generator(
    name: str, reasoner: Reasoner, batches: Sequence[Sequence[ReasonCase]], count_tokens: Callable[[str], int]
) -> GeneratorRow:
    """Let ``reasoner`` write every batch (one call each), then check and measure what it wrote.

    Each call gets the reasoner's own seed, so a sampling reasoner scores the same on every run.
    """
    texts: list[str] = []
    verdicts: list[Verdict] = []
    covered: list[bool] = []
    notices: list[str] = []
    candidates: list[str] = []
    references: list[list[str]] = []
    seconds = 0.0
    repaired = 0
    written = 0
    prefix_of = reasoner.prefix_of if isinstance(reasoner, TransformersReasoner) else None
    for batch in batches:
        if not batch:
            continue
        started = time.perf_counter()
        answer = reasoner([case.request for case in batch])
        seconds += time.perf_counter() - started
        notices += answer.notices
        repaired += answer.repaired
        for reason, case in zip(answer.reasons, batch, strict=True):
            texts.append(reason.text)
            prefill = prefix_of(case.request, reason.text) if prefix_of is not None else ""
            # A prefill is written by us, not generated: it counts for nothing in tokens / s.
            written += count_tokens(reason.text) - (count_tokens(prefill) if reason.text.startswith(prefill) else 0)
            verdict = case.verifier.verify(reason.text, case.request)
            verdicts.append(verdict)
            covered.append(names_any(verdict, case.strongest) if case.strongest else verdict.passed)
            if case.references:
                candidates.append(reason.text)
                references.append(case.references)
    n = max(len(texts), 1)

    def share(has: Callable[[Verdict], bool]) -> float:
        return float(np.mean([has(v) for v in verdicts])) if verdicts else 0.0

    return GeneratorRow(
        generator=name,
        reasons=len(texts),
        passed=share(lambda v: v.passed),
        invented=share(lambda v: "invented_title" in v.errors),
        wrong_title=share(lambda v: "wrong_title" in v.errors),
        unsupported_attribute=share(lambda v: "unsupported_attribute" in v.errors),
        unsupported_number=share(lambda v: "unsupported_number" in v.errors),
        wrong_target=share(lambda v: "wrong_target" in v.errors),
        form_errors=share(lambda v: bool(FORM_ERRORS.intersection(v.errors))),
        evidence_coverage=float(np.mean(covered)) if covered else 0.0,
        distinct_2=distinct_n(texts, 2),
        unique_sentences=unique_sentence_ratio(texts),
        seconds_per_reason=seconds / n,
        notices=sorted(set(notices)),
        tokens_per_second=written / seconds if seconds > 0 else 0.0,
        bleu4=corpus_bleu4(candidates, references) if candidates else None,
        rouge_l=float(np.mean([rouge_l(c, r) for c, r in zip(candidates, references, strict=True)]))
        if candidates
        else None,
        repaired=repaired,
    )


def names_any(verdict: Verdict, titles: Sequence[str]) -> bool:
    """Whether a verdict's supported claims name one of ``titles`` (as history evidence)."""
    wanted = {f"history: {t}" for t in titles}
    return any(c.supported and c.evidence in wanted for c in verdict.claims)


def reference_cases(
    catalog: Catalog, verifier: Verifier | None = None, pairs: Sequence[ReferencePair] | None = None
) -> list[ReasonCase]:
    """The held-out reference pairs of ``catalog`` as cases (empty when it has no reference file).

    ``pairs`` are the catalog's reference pairs when already loaded. The split is the one
    ``train-reasoner`` uses (:func:`reference_split`), so a tuned generator is
    only ever scored on recommended items it was not trained on.
    """
    if pairs is None:
        path = reference_path(catalog.name)
        if not path.is_file():
            return []
        pairs = load_references(path, catalog)
    verifier = verifier or Verifier(catalog)
    _, held = reference_split(pairs)
    cases = []
    for pair in held:
        request = to_request(pair, catalog)
        cases.append(ReasonCase(request, verifier, strongest(request), list(pair.reasons)))
    return cases


def _spec(config: PipelineConfig, generator: str | StageSpec) -> tuple[str, StageSpec]:
    """A generator name or spec as (row label, spec); the config's own explain settings apply to its component."""
    if isinstance(generator, StageSpec):
        return generator.component, generator
    if generator == config.explain.component:
        return generator, config.explain
    return generator, StageSpec(component=generator)


def evaluate_explanations(
    config: PipelineConfig,
    generators: Sequence[str | StageSpec],
    users: int = 20,
    k: int = 5,
    references: bool = True,
) -> ExplanationReport:
    """Run the pipeline once per user, then let each generator explain the same top-k.

    ``generators`` are explain component names (the config's own settings apply to the one it
    names) or full specs. With ``references`` on, each is also scored on the held-out reference
    pairs of the config's catalog, when it has any.
    """
    pipe = Pipeline(config)
    verifier = Verifier(pipe.catalog)
    rng = np.random.default_rng(11)
    traces = [pipe.run(ctx, k=k) for ctx in _contexts(pipe, users)]
    top_lowers, random_lowers = [], []
    for trace in traces:
        for item in trace.items:
            if item.attribution:
                top_lowers.append(item.attribution[0].score_delta < 0)
                random_lowers.append(item.attribution[int(rng.integers(len(item.attribution)))].score_delta < 0)
    batches = [
        [ReasonCase(req, verifier, strongest(req)) for req in requests_from_trace(trace, pipe.catalog)]
        for trace in traces
    ]
    held = reference_cases(pipe.catalog, verifier) if references else []
    held_batches = [held[i : i + REFERENCE_BATCH] for i in range(0, len(held), REFERENCE_BATCH)]
    count_tokens, unit = token_counter()
    rows, reference_rows = [], []
    for generator in generators:
        name, spec = _spec(config, generator)
        reasoner = cast(Reasoner, build_component("explain", spec))
        reasoner.prepare(pipe.env)
        rows.append(score_generator(name, reasoner, batches, count_tokens))
        if held:
            reference_rows.append(score_generator(name, reasoner, held_batches, count_tokens))
    return ExplanationReport(
        config=config.name,
        users=len(traces),
        k=k,
        rows=rows,
        attribution_top_lowers=float(np.mean(top_lowers)) if top_lowers else 0.0,
        attribution_random_lowers=float(np.mean(random_lowers)) if random_lowers else 0.0,
        reference_rows=reference_rows,
        reference_pairs=len(held),
        reference_file=_display(reference_path(pipe.catalog.name)) if held else None,
        token_unit=unit,
    )


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)
