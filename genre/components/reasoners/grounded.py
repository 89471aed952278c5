"""``grounded``: the local SmolLM2 writes with slots, code fills them, and a judge picks the best of N.

For each item the model sees its :class:`~genre.components.reasoners.plan.FactPlan` as slots
(``{item}``, ``{hist1}``, ``{hist2}``, ``{shared}``, ``{intent}``, ``{why}``, only those the plan
has) and writes one sentence with them; the code fills each slot from the plan, so every title
in a shown reason is one the plan named. Decoding (:mod:`genre.components.reasoners.constrained`)
forbids the openings of the prompt items' titles and of "(year)", repeated 3-grams in the written
text and slot names the plan lacks. ``candidates`` samples per item come from ONE batched
``generate`` call, seeded per call (never the process-wide RNG). A candidate with an unknown or
unfillable slot is rejected; the rest go through :meth:`GroundedReasoner._judge`; the passing one
the model found most fluent (mean token log-probability) is shown. When none passes, the template
reason is shown with ``fallback=True`` and the rejected candidates with their problems.
"""

from __future__ import annotations

import itertools
import re
import zlib
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from genre.components.env import Env
from genre.components.reasoners.constrained import (
    CONNECTING_WORDS,
    Fluency,
    GeneratedNoRepeat,
    RowSlots,
    SlotNames,
    as_processors,
    banned_openings,
)
from genre.components.reasoners.decoding import seeded_sampling, stop_when_complete
from genre.components.reasoners.generated import GeneratedReasoner
from genre.components.reasoners.local import encode_batch
from genre.components.reasoners.plan import FactPlan, fill, make_plan
from genre.components.reasoners.points import Candidate
from genre.components.reasoners.slotted import (
    judge_form,
    messages,
    openings,
    plan_problems,
    slot_problems,
)
from genre.components.reasoners.styles import StyleOptions
from genre.components.reasoners.template import TemplateReasoner
from genre.core.component import ReasonBatch
from genre.core.types import ReasonOut, ReasonRequest, RejectedCandidate
from genre.models import Generator, load_generator
from genre.text.hygiene import sentence_spans
from genre.text.verifier import Verifier

__all__ = ["GroundedConfig", "GroundedReasoner"]


ONE_LINE_WORDS = 40
"""The length bound of a one-line grounded reason when ``max_words`` is unset (one sentence read at a glance)."""


class GroundedConfig(StyleOptions):
    GENERATOR: ClassVar[str] = "grounded"
    candidates: int = Field(default=4, ge=1, le=8)
    """Sentences sampled per item, all in one batched generate call; the best that passes the check is shown."""
    temperature: float = Field(default=0.8, gt=0.0, le=2.0)
    """Sampling temperature of the candidates (seeded per call, so a run is reproducible)."""
    top_p: float = Field(default=0.9, gt=0.0, le=1.0)
    """Nucleus sampling mass."""
    max_new_tokens: int = Field(default=40, ge=8, le=128)
    """Most tokens the model writes per candidate (slots are short: "{hist1}" is 4 tokens)."""
    seed: int = Field(default=0, ge=0)
    """Random seed for sampling when the caller passes none."""
    min_words: int = Field(default=8, ge=1, le=100)
    """A filled candidate with fewer words is rejected as saying too little."""
    max_words: int | None = Field(default=None, ge=2, le=200)
    """Length bound of the shown reason, in words. Unset: 40 for one-line (a longer sentence is rejected), else
    the style's default (short 60, bullets 70, compare 50). A styled reason keeps the template's points that fit
    it, and each model-written point stays within it."""
    vocabulary: Literal["connecting", "open"] = "connecting"
    """Words the model may write outside its slots. "connecting": only connectives, pronouns and verbs of
    liking and choosing (``CONNECTING_WORDS``), so every claim comes from a slot; "open": any word (titles,
    years and stray braces are still banned)."""
    variety: float = Field(default=0.0, ge=0.0, le=10.0)
    """How much a passing candidate loses for reusing the wording of reasons already chosen in the same call:
    its fluency (mean token log-probability) minus ``variety`` times the share of its word pairs (slots
    counted as words) those reasons used. 0: the most fluent passing candidate, always. Every candidate
    weighed has passed the same checks; this only picks among them."""
    shots: bool = True
    """Show the model four worked examples (plan as slots, sentence written with them) before its plan. A
    tuned adapter learned the form in training and needs none: the prompt is then 146 tokens, not 533."""
    prefill: bool = True
    """Start each candidate with an opening written from the plan ("Because you liked {hist1},"), a
    different one per candidate where the plan allows, and let the model go on. A 135M model that
    starts from nothing rarely writes a slot at all."""

    @model_validator(mode="after")
    def _bounds(self) -> GroundedConfig:
        if self.min_words > self.word_bound:
            raise ValueError(f"min_words ({self.min_words}) is greater than max_words ({self.word_bound})")
        return self

    @property
    def word_bound(self) -> int:
        """The length bound in force: ``max_words``, or 40 for one-line and the style's default otherwise."""
        if self.max_words is None and self.style == "one-line":
            return ONE_LINE_WORDS
        return super().word_bound


class GroundedReasoner(GeneratedReasoner):
    """SmolLM2 writes slotted sentences from the fact plan; code fills them; best of N by the check, then fluency."""

    Config = GroundedConfig
    config: GroundedConfig
    name = "grounded"
    _generator: Generator | None = None
    _checker: Verifier | None = None
    _categories: list[str] = []  # noqa: RUF012 - replaced per instance in prepare, never mutated

    def __init__(self, config: GroundedConfig | dict[str, Any] | None = None) -> None:
        super().__init__(config)
        # The template in the configured style: what a styled reason is written point by point from, and what
        # it falls back to (the one-line ``template`` stays the one-line fallback).
        self.styled_template = TemplateReasoner(
            {
                "max_evidence": self._max_evidence(),
                "style": self.config.style,
                "max_words": max(self.config.word_bound, 8),
            }
        )

    def _max_evidence(self) -> int:
        return 2

    def prepare(self, env: Env) -> None:
        super().prepare(env)
        self.styled_template.prepare(env)
        self._generator = self._load(env)
        self._checker = Verifier(env.catalog)
        self._categories = env.catalog.category_names()

    def _load(self, env: Env) -> Generator:
        """The model that writes the candidates: the base SmolLM2 (``tuned-local`` merges its adapter in)."""
        return load_generator(env.device, precision=env.precision_for_generator())

    @property
    def generator(self) -> Generator:
        """The loaded model; tests may assign a stand-in."""
        if self._generator is None:
            raise RuntimeError("GroundedReasoner.prepare(env) must run before generating reasons")
        return self._generator

    @generator.setter
    def generator(self, value: Generator) -> None:
        self._generator = value

    @property
    def checker(self) -> Verifier:
        if self._checker is None:
            raise RuntimeError("GroundedReasoner.prepare(env) must run before judging reasons")
        return self._checker

    def __call__(self, requests: list[ReasonRequest], *, seed: int | None = None) -> ReasonBatch:
        """One reason per request: the best passing candidate, or the template marked as a fallback.

        A style other than one-line is written point by point (:mod:`genre.components.reasoners.styled_points`).
        """
        if not requests:
            return ReasonBatch([])
        seed = self.config.seed if seed is None else seed
        if self.config.style != "one-line":
            from genre.components.reasoners.styled_points import write_styled

            return write_styled(self, requests, seed)
        n = self.config.candidates
        plans = [make_plan(r) for r in requests]
        prefixes = [self._opening(plan, k) for plan in plans for k in range(n)]
        rows = [(i, k) for i in range(len(requests)) for k in range(n)]
        written, fluency = self._generate(plans, prefixes, seed)
        outs: list[ReasonOut] = []
        worded: set[tuple[str, str]] = set()
        for i, (req, plan) in enumerate(zip(requests, plans, strict=True)):
            cands = [
                self._candidate(req, plan, prefixes[r] + written[r], fluency[r])
                for r, (row_item, _) in enumerate(rows)
                if row_item == i
            ]
            outs.append(self._choose(req, plan, cands, worded))
        fallbacks = sum(o.fallback for o in outs)
        notices = []
        if fallbacks:
            notices.append(
                f"{self.name}: no candidate passed the check for {fallbacks} of {len(outs)} items; "
                "showing their template reasons, marked as fallbacks"
            )
        return ReasonBatch(outs, notices)

    def _opening(self, plan: FactPlan, k: int) -> str:
        """The prefill of candidate ``k``: the plan's openings in turn, starting at a per-item offset."""
        if not self.config.prefill:
            return ""
        options = openings(plan)
        return options[(zlib.crc32(plan.item.item_id.encode()) + k) % len(options)] if options else ""

    def _candidate(self, req: ReasonRequest, plan: FactPlan, raw: str, fluency: float) -> Candidate:
        """A raw slotted text cut to its first sentence, filled, and judged."""
        sentences, tail = sentence_spans(re.sub(r"\s+", " ", raw).strip() + " ")
        slotted = sentences[0] if sentences else tail
        slots = plan.slots()
        problems = [] if sentences else ["unfinished sentence"]
        problems += slot_problems(slotted, slots) + plan_problems(slotted, plan)
        text = fill(slotted, slots)
        text = text[:1].upper() + text[1:]  # a candidate may open with {why}: "it is often picked…"
        if not problems:
            problems += self._judge(text, req)[1]
        return Candidate(slotted, text, problems, fluency)

    def _choose(
        self, req: ReasonRequest, plan: FactPlan, cands: list[Candidate], worded: set[tuple[str, str]] | None = None
    ) -> ReasonOut:
        """The passing candidate the model found most fluent, less ``variety`` times the share of its word
        pairs an earlier reason of this call already showed (``worded``, updated); else the template fallback."""
        passing = [c for c in cands if not c.problems]
        rejected = [RejectedCandidate(text=c.text, problems=c.problems) for c in cands if c.problems]
        if not passing:
            fallback = self.template.write(req, plan)
            return fallback.model_copy(update={"fallback": True, "rejected": rejected})
        seen = worded if worded is not None else set()
        best = max(passing, key=lambda c: c.fluency - self.config.variety * _repeated(c.slotted, seen))
        seen.update(_pairs(best.slotted))
        used = set(re.findall(r"\{(\w+)\}", best.slotted))
        if "why" in used and plan.why is not None and plan.why.hist:
            used.add(plan.why.hist)
        named = [h.item_id for n, h in enumerate(plan.history, start=1) if f"hist{n}" in used]
        return ReasonOut(text=best.text, generator=self.name, evidence_ids=named, rejected=rejected)

    def _judge(self, text: str, request: ReasonRequest) -> tuple[bool, list[str]]:
        """Whether a filled candidate may be shown, and why not.

        The claim-level verifier (every title, attribute, number and target against the evidence)
        plus form checks: repeated 3-grams, length, and claims the model wrote itself that its plan
        does not back (numbers, categories, title-like names, quotes, markup, other languages).
        """
        problems = list(self.checker.verify(text, request).problems)
        cfg = self.config
        problems += judge_form(text, make_plan(request), cfg.min_words, cfg.word_bound, self._categories)
        return not problems, problems

    def _generate(self, plans: list[FactPlan], prefixes: list[str], seed: int) -> tuple[list[str], list[float]]:
        """Every one-line row's new text and fluency from one batched generate call (``len(prefixes)`` rows,
        ``candidates`` per plan in order)."""
        n = self.config.candidates
        row_plans = [plan for plan in plans for _ in range(n)]
        texts = [self._input_text(plan, prefix) for plan, prefix in zip(row_plans, prefixes, strict=True)]
        slots = [_row(p, x) for p, x in zip(row_plans, prefixes, strict=True)]
        titles = [h.title for plan in plans for h in (plan.item, *plan.history)]
        return self._generate_rows(texts, slots, prefixes, titles, seed)

    def _generate_rows(
        self,
        texts: list[str],
        slots: list[RowSlots],
        prefixes: list[str],
        titles: list[str],
        seed: int,
        words: frozenset[str] = frozenset(),
    ) -> tuple[list[str], list[float]]:
        """Every row's new text and fluency from one batched generate call: row ``r`` is prompt ``texts[r]``
        (ending in ``prefixes[r]``) and may write the slots ``slots[r]``; no row may start one of ``titles``.
        ``words`` widen the connecting vocabulary (a styled point may say "unlike")."""
        import torch

        gen = self.generator
        batch = encode_batch(gen, texts)
        prompt_len = int(batch["input_ids"].shape[1])
        fluency = Fluency(gen.tokenizer.eos_token_id)
        cap = self.config.word_bound
        vocabulary = CONNECTING_WORDS | words if self.config.vocabulary == "connecting" else None
        processors = as_processors(
            fluency,
            banned_openings(gen.tokenizer, titles),
            GeneratedNoRepeat(3, prompt_len),
            SlotNames(gen.tokenizer, slots, prompt_len, cap, vocabulary),
            *seeded_sampling(self.config.temperature, self.config.top_p, seed),
        )
        with torch.inference_mode():
            out = gen.model.generate(
                **batch,
                max_new_tokens=self.config.max_new_tokens,
                do_sample=False,
                logits_processor=processors,
                pad_token_id=gen.tokenizer.pad_token_id,
                stopping_criteria=stop_when_complete(gen.tokenizer, prompt_len, prefixes, None, _has_sentence),
            )
            scores = fluency.finish(out)
        new = out[:, prompt_len:]
        written = gen.tokenizer.batch_decode(new, skip_special_tokens=True)
        # A row that ended itself (end token, not the token limit) finished its sentence, even where it
        # left out the final period after a slot ("…your interest in {intent}").
        ended = (new == gen.tokenizer.eos_token_id).any(dim=1).tolist()
        return [_closed(text) if end else text for text, end in zip(written, ended, strict=True)], scores

    def _input_text(self, plan: FactPlan, prefix: str) -> str:
        """The chat-formatted few-shot prompt for ``plan`` with ``prefix`` begun as the answer."""
        return self._chat_text(messages(plan, self.config.shots), prefix)

    def _chat_text(self, chat: list[dict[str, str]], prefix: str) -> str:
        """``chat`` through the tokenizer's chat template (or plain turns without one), ``prefix`` begun as answer."""
        tokenizer: Any = self.generator.tokenizer
        if not getattr(tokenizer, "chat_template", None):
            turns = "\n\n".join(m["content"] for m in chat)  # the system turn twice, as the adapter was trained
            return f"{chat[0]['content']}\n\n{turns}\n\nAnswer:" + (f" {prefix}" if prefix else "")
        return str(tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)) + prefix


def _closed(text: str) -> str:
    """``text`` ending in a period when it stopped right after a word or slot."""
    stripped = text.rstrip()
    return stripped + "." if stripped and (stripped[-1].isalnum() or stripped[-1] == "}") else text


def _row(plan: FactPlan, prefix: str) -> RowSlots:
    """The slots one candidate may write: the plan's, with {why} and the history slot it names exclusive."""
    exclusive: dict[str, frozenset[str]] = {}
    if plan.why is not None and plan.why.hist:
        exclusive = {"why": frozenset({plan.why.hist}), plan.why.hist: frozenset({"why"})}
    return RowSlots(plan.slots(), exclusive, prefix)


def _has_sentence(text: str) -> bool:
    """Whether ``text`` holds one finished sentence: a candidate is one sentence, so it stops there."""
    return bool(sentence_spans(text + " ")[0])


def _pairs(slotted: str) -> set[tuple[str, str]]:
    """The word pairs of a slotted sentence, lowercased; a slot is one word ("{hist1}")."""
    words = re.findall(r"\{\w+\}|[^\W_]+(?:['’][^\W_]+)*", slotted.lower())
    return set(itertools.pairwise(words))


def _repeated(slotted: str, used: set[tuple[str, str]]) -> float:
    """The share of ``slotted``'s word pairs already in ``used`` (0 when it has none)."""
    pairs = _pairs(slotted)
    return len(pairs & used) / len(pairs) if pairs else 0.0
