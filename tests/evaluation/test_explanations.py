"""Explanation metrics on held-out reference pairs: the trainer's split, overlap with the references, tokens/s."""

from __future__ import annotations

from genre.components.reasoners.template import TemplateReasoner
from genre.core.component import ReasonBatch
from genre.core.types import ReasonOut
from genre.data.references import to_request
from genre.evaluation.explanations import (
    ExplanationReport,
    ReasonCase,
    reference_cases,
    reference_split,
    score_generator,
)
from genre.text.verifier import Verifier
from tests.explain.test_tuning import tiny_references


def words(text: str) -> int:
    return len(text.split())


class Echo:
    """Writes each request's first reference reason: a perfect score on overlap."""

    def __init__(self, cases: list[ReasonCase]) -> None:
        self.by_item = {c.request.item.item_id: c.references[0] for c in cases}

    def __call__(self, requests, *, seed=None):
        return ReasonBatch([ReasonOut(text=self.by_item[r.item.item_id], generator="echo") for r in requests])


def test_reference_cases_are_the_held_out_side_of_the_trainers_split(tiny_catalog):
    pairs = tiny_references(tiny_catalog)
    cases = reference_cases(tiny_catalog, pairs=pairs)
    _, held = reference_split(pairs)
    assert [c.request.item.item_id for c in cases] == [p.item_id for p in held] and len(cases) == 1
    case, pair = cases[0], held[0]
    assert case.references == pair.reasons
    assert case.strongest == [tiny_catalog.items[tiny_catalog.index_of(h)].title for h in pair.history[:2]]
    assert [h.item_id for h in case.request.history] == pair.history


def all_cases(catalog, with_references: bool = True) -> list[ReasonCase]:
    verifier = Verifier(catalog)
    return [
        ReasonCase(to_request(p, catalog), verifier, [], list(p.reasons) if with_references else None)
        for p in tiny_references(catalog)
    ]


def test_a_generator_that_writes_the_reference_scores_one_on_overlap(tiny_catalog):
    cases = all_cases(tiny_catalog)
    row = score_generator("echo", Echo(cases), [cases[:4], cases[4:]], words)
    assert row.reasons == 7 and row.bleu4 == 1.0 and row.rouge_l == 1.0
    assert row.passed == 1.0 and row.invented == 0.0 and row.wrong_title == 0.0 and row.form_errors == 0.0
    assert row.tokens_per_second > 0 and row.seconds_per_reason >= 0


class Inventing:
    """Writes a reason naming a made-up title (with a year) and a made-up figure for every request."""

    def __call__(self, requests, *, seed=None):
        text = "Because you liked Lethal Naturals (1997), this sold 9,999,999 copies last week alone."
        return ReasonBatch([ReasonOut(text=text, generator="inventing") for _ in requests])


def test_invented_titles_and_figures_are_counted_by_type(tiny_catalog):
    cases = all_cases(tiny_catalog, with_references=False)
    row = score_generator("inventing", Inventing(), [cases], words)
    assert row.passed == 0.0 and row.invented == 1.0 and row.unsupported_number == 1.0
    assert row.wrong_title == 0.0 and row.wrong_target == 0.0 and row.form_errors == 0.0


def test_template_rows_have_overlap_only_where_there_are_references(tiny_catalog):
    with_refs = all_cases(tiny_catalog)
    without = [ReasonCase(c.request, c.verifier, ["Alpine Tent"]) for c in with_refs]
    template = TemplateReasoner()
    scored = score_generator("template", template, [with_refs], words)
    assert 0.0 < scored.bleu4 < 1.0 and 0.0 < scored.rouge_l < 1.0
    plain = score_generator("template", template, [without], words)
    assert plain.bleu4 is None and plain.rouge_l is None
    # Coverage: share of reasons naming one of the strongest titles (only the tent pair's reason can).
    assert 0.0 < plain.evidence_coverage < 1.0

    report = ExplanationReport("tiny", 0, 5, [plain], 0.0, 0.0, reference_rows=[scored], reference_pairs=7,
                               reference_file="x.jsonl")  # fmt: skip
    text = report.to_markdown()
    assert "| tokens / s |" in text and "BLEU-4 | ROUGE-L |" in text and "| invented titles |" in text
    assert "Held-out reference pairs (7 from x.jsonl" in text


def test_strongest_history_follows_the_top_contributing_scorer(tiny_catalog):
    from genre.core.types import Evidence, Intent, ReasonRequest
    from genre.evaluation.explanations import strongest

    a, b, c, d = tiny_catalog.items[:4]
    request = ReasonRequest(
        item=d,
        contributions={"content": 0.1, "ease": 0.8},
        evidence={
            "content": [Evidence("history_item", a.title, 0.9, a.item_id)],
            "ease": [
                Evidence("history_item", b.title, 0.2, b.item_id),
                Evidence("attribute", "outdoor", 0.9),
                Evidence("history_item", c.title, 0.7, c.item_id),
            ],
        },
        history=[a, b, c],
        intent=Intent(labels=[], scores=[], summary=""),
    )
    # EASE contributes most, so its items come first, strongest weight first; attributes are skipped.
    assert strongest(request) == [c.title, b.title]
