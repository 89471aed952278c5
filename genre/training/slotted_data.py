"""Delexicalised training data for the grounded ``tuned-local``: reference reasons turned into slotted sentences.

A reference (or template) reason names titles, shared categories and figures literally. For the
adapter of ``tuned-local`` (a :class:`~genre.components.reasoners.grounded.GroundedReasoner` with a
LoRA adapter) the target is the same sentence written with slots: every literal occurrence of a
value of the request's :class:`~genre.components.reasoners.plan.FactPlan` becomes its slot
(``{item}``, ``{hist1}``, ``{hist2}``, ``{shared}`` for the whole shared phrase or any one shared
category or attribute, ``{intent}``, ``{why}``). The model then learns to write claims only through
slots, which code fills from the plan.

A pair is kept only when its slotted sentence could have been shown by the grounded reasoner:
its slots are fillable (:func:`~genre.components.reasoners.slotted.slot_problems`), it uses at least
one slot, no title-like name or number is left outside the slots, and the filled sentence passes the
claim verifier (:mod:`genre.text.verifier`) against its own request. Only a reason's first sentence
is used: the grounded reasoner shows one sentence.

The prompt of each example is exactly what the grounded reasoner sends without prefill:
``messages(plan)`` through the chat template (``GroundedReasoner._input_text(plan, "")``).
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from genre.components.reasoners.delex import delexicalise, slot_forms
from genre.components.reasoners.grounded import GroundedConfig, GroundedReasoner
from genre.components.reasoners.plan import FactPlan, fill, make_plan
from genre.components.reasoners.points import Point, filled, point_messages
from genre.components.reasoners.slotted import judge_form, plan_problems, slot_problems
from genre.components.reasoners.template import TemplateReasoner
from genre.core.errors import ModelUnavailableError
from genre.core.types import Catalog, ReasonRequest
from genre.text.hygiene import sentence_spans
from genre.text.verifier import Verifier
from genre.training.composed import composed_targets, vary_why
from genre.training.reasoner_data import ReferenceSet, TrainingExample, TrainingPair, reference_pairs
from genre.training.styled_data import styled_point_pairs

__all__ = [
    "SlottedPair",
    "build_slotted_example",
    "delexicalise",
    "grounded_pairs",
    "slot_forms",
    "slotted_pair",
    "slotted_pairs",
    "survival",
]

_SLOT = re.compile(r"\{\w+\}")
_BOUNDS = GroundedConfig()


@dataclass(frozen=True)
class SlottedPair:
    """A training pair whose target is a slotted sentence, with the plan its slots come from."""

    request: ReasonRequest
    plan: FactPlan
    target: str
    """The slotted sentence the model should write (``{hist1}`` for a title…)."""
    filled: str
    """``target`` with its slots filled from ``plan``: what the reasoner would show."""
    source: str
    original: str
    """The literal reason it was made from."""
    style: str = "one-line"
    """The reason style the target is written in."""
    point: Point | None = None
    """For a styled target: the point it writes (its slots and the prompt it is asked under)."""


def _first_sentence(text: str) -> str | None:
    sentences, _tail = sentence_spans(re.sub(r"\s+", " ", text).strip() + " ")
    return sentences[0].strip() if sentences else None


def _names(own: str) -> bool:
    """Whether text outside the slots holds a title-like name: two capitalised words not opening it."""
    words = re.findall(r"[^\W_]+(?:['’-][^\W_]+)*", own)
    caps = [w for i, w in enumerate(words) if i > 0 and w[:1].isupper() and w != "I"]
    return len(caps) >= 2 or bool(re.search(r"[\"“”]", own))


def slotted_pair(
    pair: TrainingPair, verifier: Verifier, categories: Sequence[str] = ()
) -> tuple[SlottedPair | None, str]:
    """The delexicalised pair, or None and why it was dropped.

    Besides the checks of the module docstring, the filled sentence must pass the grounded
    reasoner's form judge (:func:`~genre.components.reasoners.slotted.judge_form` with the default
    word bounds and the catalog's ``categories``): a target the reasoner would reject (too many
    words of its own, no fact of the plan) would teach the adapter to write rejected sentences.
    """
    plan = make_plan(pair.request)
    first = _first_sentence(pair.target)
    if first is None:
        return None, "no finished sentence"
    target = delexicalise(first, plan)
    slots = plan.slots()
    if not _SLOT.search(target):
        return None, "no slot"
    if slot_problems(target, slots) or plan_problems(target, plan):
        return None, "slot problem"
    own = _SLOT.sub(" ", target)
    if re.search(r"\d", own):
        return None, "number outside a slot"
    if _names(own):
        return None, "title-like name outside a slot"
    filled = fill(target, slots)
    filled = filled[:1].upper() + filled[1:]
    if not verifier.verify(filled, pair.request).passed:
        return None, "verifier"
    form = judge_form(filled, plan, _BOUNDS.min_words, _BOUNDS.word_bound, categories)
    if form:
        return None, "form: " + form[0].split(":")[0].split(" (")[0]
    return SlottedPair(pair.request, plan, target, filled, pair.source, pair.target), "kept"


def slotted_pairs(
    pairs: Sequence[TrainingPair], verifiers: dict[str, Verifier], categories: dict[str, Sequence[str]] | None = None
) -> tuple[list[SlottedPair], Counter]:
    """The pairs that survive delexicalisation, and a count of outcomes per ``(source, outcome)``.

    ``verifiers`` (and ``categories``) map each pair's source to its catalog's verifier (and category
    names). Duplicate targets for the same request are kept once (two references often shrink to
    the same slotted sentence).
    """
    kept: list[SlottedPair] = []
    seen: set[tuple[str, str]] = set()
    outcomes: Counter = Counter()
    for pair in pairs:
        out, why = slotted_pair(pair, verifiers[pair.source], (categories or {}).get(pair.source, ()))
        if out is not None:
            key = (pair.request.item.item_id + "|" + ",".join(h.item_id for h in pair.request.history), out.target)
            if key in seen:
                why, out = "duplicate", None
            else:
                seen.add(key)
                kept.append(out)
        outcomes[(pair.source, why)] += 1
    return kept, outcomes


def survival(outcomes: Counter) -> dict[str, dict[str, int]]:
    """Outcome counts per source, for the card and the CLI: ``{source: {"kept": n, "verifier": m, …}}``."""
    out: dict[str, dict[str, int]] = {}
    for (source, why), n in sorted(outcomes.items()):
        out.setdefault(source, {})[why] = n
    return out


def build_slotted_example(prompter: GroundedReasoner, pair: SlottedPair) -> TrainingExample:
    """Tokenize a slotted pair exactly as the grounded reasoner prompts without prefill; loss on the answer only.

    A styled pair is prompted as its point is (:func:`~genre.components.reasoners.points.point_messages`).
    """
    tokenizer = prompter.generator.tokenizer
    if pair.point is not None:
        chat = point_messages(pair.point, pair.style, len(pair.plan.history), prompter.config.shots)  # type: ignore[arg-type]
        prompt = prompter._chat_text(chat, "")
    else:
        prompt = prompter._input_text(pair.plan, "")
    special = not getattr(tokenizer, "chat_template", None)  # as encode_batch
    prompt_ids = list(tokenizer(prompt, add_special_tokens=special)["input_ids"])
    answer_ids = list(tokenizer(pair.target, add_special_tokens=False)["input_ids"])
    if tokenizer.eos_token_id is None:
        raise ModelUnavailableError("the base model's tokenizer has no end-of-turn (eos) token to train on")
    answer_ids.append(int(tokenizer.eos_token_id))
    return TrainingExample(
        input_ids=prompt_ids + answer_ids,
        labels=[-100] * len(prompt_ids) + answer_ids,
        prompt=prompt,
        target=pair.target,
        source=pair.source,
        style=pair.style,
    )


def grounded_pairs(
    sets: Sequence[ReferenceSet], templates: Sequence[TrainingPair], template_catalog: Catalog, composed: int, seed: int
) -> tuple[list[SlottedPair], dict[str, dict[str, int]]]:
    """Every slotted target of the grounded adapter, and what happened to each source's pairs.

    Sources: ``reference:<domain>`` (delexicalised references of the training split),
    ``template:<catalog>`` (delexicalised template reasons, also for the same requests credited to
    a co-rating and a sequential scorer, see :func:`~genre.training.composed.vary_why`), and
    ``composed:<domain>`` (up to ``composed`` composed sentences per request). All pass the same checks.
    Then the styled points of every request (:func:`~genre.training.styled_data.styled_point_pairs`):
    the styled references' points, the styled templates' (``styled:<domain>``) and their rewordings.
    """
    rng = random.Random(seed)
    verifiers: dict[str, Verifier] = {}
    categories: dict[str, Sequence[str]] = {}
    every = list(reference_pairs(sets))
    pairs = [p for p in every if p.style == "one-line"]
    for ref in sets:
        for kind in ("reference", "composed"):
            verifiers[f"{kind}:{ref.domain}"] = Verifier(ref.catalog)
            categories[f"{kind}:{ref.domain}"] = ref.catalog.category_names()
    name = template_catalog.name
    for kind in ("template", "composed"):
        verifiers.setdefault(f"{kind}:{name}", Verifier(template_catalog))
        categories.setdefault(f"{kind}:{name}", template_catalog.category_names())
    template = TemplateReasoner()
    varied = [v for p in templates for v in vary_why(p.request, rng)]
    pairs += list(templates)
    pairs += [TrainingPair(r, template.write(r).text, f"template:{name}") for r in varied]
    requests: dict[str, list[ReasonRequest]] = {}
    for p in pairs:
        domain = p.source.split(":", 1)[1]
        requests.setdefault(domain, []).append(p.request)
    for domain, reqs in requests.items():
        unique = list({id(r): r for r in reqs}.values())
        for req in unique:
            pairs += [
                TrainingPair(req, _filled(t, make_plan(req)), f"composed:{domain}")
                for t in composed_targets(make_plan(req), rng, composed)
            ]
    kept, outcomes = slotted_pairs(pairs, verifiers, categories)
    by_domain = {source.split(":", 1)[1]: v for source, v in verifiers.items()}
    names = {source.split(":", 1)[1]: c for source, c in categories.items()}
    by_request = {id(p.request): (p.request, p.source.split(":", 1)[1]) for p in pairs}
    styled, styled_outcomes = styled_point_pairs(
        [p for p in every if p.style != "one-line"], list(by_request.values()), by_domain, names, composed, seed
    )
    for pair, point, target in styled:
        plan = make_plan(pair.request)
        kept.append(
            SlottedPair(pair.request, plan, target, filled(target, point), pair.source, pair.target, pair.style, point)
        )
    return kept, survival(outcomes + styled_outcomes)


def _filled(slotted: str, plan: FactPlan) -> str:
    text = fill(slotted, plan.slots())
    return text[:1].upper() + text[1:]
