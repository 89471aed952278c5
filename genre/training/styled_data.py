"""Training points for the styled ``tuned-local``: the ``short``, ``bullets`` and ``compare`` reasons as slotted points.

The styled reasoners (:mod:`genre.components.reasoners.styled_points`) have the model write a reason point by
point, each point with exactly the slots its template point states, under a prompt that names the style.
The adapter learns that from three sources, every target checked as the reasoner checks a model point:

* ``reference:<domain>``: each point (sentence or bullet) of the hand-written styled reference reasons of the
  training split, delexicalised with the plan's and the contrast's slots (most keep words no slot holds and
  are dropped, as for one-line references);
* ``styled:<catalog>``: the template reason of each style for the template requests, split into points and
  delexicalised: the points the reasoner would ask the model to rewrite, with the template's wording;
* ``composed:<catalog>``: the same points reworded from a small bank of phrasings per set of slots (connecting
  and comparing words only), so the adapter learns more than one shape per point.

Each pair carries its style and its :class:`~genre.components.reasoners.points.Point`, so its prompt is built
exactly as the reasoner builds the point's prompt (:func:`~genre.components.reasoners.points.point_messages`).
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Sequence

from genre.components.reasoners.constrained import CONNECTING_WORDS
from genre.components.reasoners.delex import delexicalise
from genre.components.reasoners.plan import FactPlan, make_plan
from genre.components.reasoners.points import (
    COMPARING_WORDS,
    Point,
    contrast_slots,
    filled,
    own_words_after,
    point_form,
    point_problems,
    points_of,
    split_points,
)
from genre.components.reasoners.styles import STYLES, Style
from genre.components.reasoners.template import TemplateReasoner
from genre.core.types import ReasonRequest
from genre.text.verifier import Verifier
from genre.training.reasoner_data import TrainingPair

__all__ = ["CLAIM_ERRORS", "STYLED", "check_point", "composed_points", "styled_point_pairs"]

STYLED: tuple[Style, ...] = tuple(s for s in STYLES if s != "one-line")
"""The styles written point by point."""
CLAIM_ERRORS = frozenset(
    {
        "invented_title",
        "wrong_title",
        "unsupported_attribute",
        "unsupported_number",
        "wrong_target",
        "contradiction",
        "repetition",
        "markup",
        "language",
        "slot",
    }
)
"""Verifier errors that reject a point read alone; the rest (no evidence, length) are about a whole reason."""
_MIN_OWN = 2
"""Words a point must write outside its slots (as the reasoner asks of a model point)."""
PER_STYLE = 500
"""Template and composed points kept per style (every reference point is kept): the templates give thousands of
near-identical points, and more would drown the one-line examples the adapter also learns from."""
_POINT_WORDS = 30
"""The most words a training point may have (a point is one short sentence)."""
_SLOT = re.compile(r"\{(\w+)\}")

# Phrasings per set of slots a point states ("h" is the history slot it names); every word outside the slots
# is a connecting or comparing word (constrained.CONNECTING_WORDS | points.COMPARING_WORDS).
_BANK: dict[frozenset[str], tuple[str, ...]] = {
    frozenset({"h", "shared"}): (
        "Like {h}, this one is {shared}.",
        "It shares {shared} with {h}.",
        "You liked {h}, and this shares {shared} with it.",
        "Both this and {h} share {shared}.",
    ),
    frozenset({"h", "new"}): (
        "Unlike {h}, this one {new}.",
        "Next to {h}, what is new is that it {new}.",
        "Unlike {h}, it {new}.",
    ),
    frozenset({"h", "new", "theirs"}): (
        "Where {h} is {theirs}, this one {new}.",
        "{h} is {theirs}, while this one {new}.",
        "Unlike {h}, which is {theirs}, this one {new}.",
    ),
    frozenset({"h", "alike"}): ("Like {h}, this one {alike}.", "Just like {h}, it {alike}."),
    frozenset({"new"}): ("What is new is that it {new}.", "Unlike that one, it {new}."),
    frozenset({"alike"}): ("Like that one, it {alike}.",),
    frozenset({"new", "theirs"}): ("That one is {theirs}, while this one {new}.",),
    frozenset({"intent"}): (
        "It fits your current interest in {intent}.",
        "It also matches your interest in {intent}.",
        "For your interest in {intent}, this is a good choice.",
    ),
    frozenset({"why"}): ("Since {why}, this is a safe bet.", "It is here because {why}.", "Also, {why}."),
    frozenset({"h", "why"}): ("Since {why}, this is a safe bet.", "It is here because {why}."),
}


def check_point(
    slotted: str, point: Point, plan: FactPlan, request: ReasonRequest, verifier: Verifier, categories: Sequence[str]
) -> str:
    """``"kept"``, or why a slotted point may not be a training target (the reasoner would reject it)."""
    if not _SLOT.search(slotted):
        return "no slot"
    if "item" in _SLOT.findall(slotted):
        return "names the item"
    rest = _SLOT.sub(" ", slotted)
    if re.search(r"\d", rest):
        return "number outside a slot"
    words = re.findall(r"[^\W_]+(?:['’-][^\W_]+)*", rest)
    if sum(1 for i, w in enumerate(words) if i > 0 and w[:1].isupper() and w != "I") >= 2 or re.search(r"[\"“”]", rest):
        return "title-like name outside a slot"
    if point_problems(slotted, point, plan):
        return "slot problem"
    outside = {w.lower() for w in re.findall(r"[A-Za-z']+", rest)} - CONNECTING_WORDS - COMPARING_WORDS
    if outside:
        return "words outside the vocabulary"  # the reasoner could not write them: they would be claims
    if own_words_after("", slotted) < _MIN_OWN:
        return "no words of its own"  # "{why}." teaches nothing the reasoner would show
    text = filled(slotted, point)
    form = point_form(text, point, plan, _POINT_WORDS, list(categories))
    if form:
        return "form: " + form[0].split(":")[0].split(" (")[0]
    if set(verifier.verify(text, request).errors) & CLAIM_ERRORS:
        return "verifier"
    return "kept"


def composed_points(point: Point, rng: random.Random, n: int) -> list[str]:
    """Up to ``n`` rewordings of ``point`` from the bank for its set of slots (none when the bank has no entry)."""
    hist = sorted(h for h in point.required if h.startswith("hist"))
    if len(hist) > 1:
        return []
    key = frozenset({"h" if s.startswith("hist") else s for s in point.required})
    options = [o.replace("{h}", f"{{{hist[0]}}}") if hist else o for o in _BANK.get(key, ())]
    options = [o for o in options if o != point.slotted]
    rng.shuffle(options)
    return [o[:1].upper() + o[1:] for o in options[:n]]


def _reference_points(pair: TrainingPair) -> list[tuple[str, Point]]:
    """A styled reference reason as (slotted point, point) pairs: each point states what its slots hold."""
    plan = make_plan(pair.request)
    extra = contrast_slots(plan, pair.request)
    values = {**plan.slots(), **extra}
    out = []
    for text in split_points(pair.target, pair.style):  # type: ignore[arg-type]
        slotted = delexicalise(text, plan, extra)
        used = [n for n in _SLOT.findall(slotted) if n in values]
        out.append((slotted, Point(text, slotted, {n: values[n] for n in used})))
    return out


def styled_point_pairs(
    references: Sequence[TrainingPair],
    requests: Sequence[tuple[ReasonRequest, str]],
    verifiers: dict[str, Verifier],
    categories: dict[str, Sequence[str]],
    composed: int,
    seed: int,
    per_style: int = PER_STYLE,
) -> tuple[list[tuple[TrainingPair, Point, str]], Counter]:
    """Every styled training point as (pair, point, slotted target), and outcome counts per (source, outcome).

    ``references`` are styled reference pairs (``reference:<domain>``); ``requests`` are (request, catalog name)
    for the template and composed points of every style. ``verifiers`` and ``categories`` are keyed by catalog
    or domain name.
    """
    rng = random.Random(seed)
    out: list[tuple[TrainingPair, Point, str]] = []
    outcomes: Counter = Counter()
    seen: set[tuple[str, str, str]] = set()

    def offer(pair: TrainingPair, point: Point, slotted: str, domain: str) -> None:
        plan = make_plan(pair.request)
        why = check_point(slotted, point, plan, pair.request, verifiers[domain], categories.get(domain, ()))
        key = (pair.style, _request_key(pair.request) + "|" + ",".join(sorted(point.values)), slotted)
        if why == "kept" and key in seen:
            why = "duplicate"
        if why == "kept":
            seen.add(key)
            out.append((pair, point, slotted))
        outcomes[(pair.source, why)] += 1

    for ref in references:
        domain = ref.source.split(":", 1)[1]
        for slotted, point in _reference_points(ref):
            offer(ref, point, slotted, domain)
    templates = {style: TemplateReasoner({"max_evidence": 2, "style": style}) for style in STYLED}
    for request, name in requests:
        plan = make_plan(request)
        for style in STYLED:
            template = templates[style].write(request, plan).text
            for point in points_of(plan, request, template, style):
                if point.slotted is None:
                    continue
                offer(TrainingPair(request, point.template, f"styled:{name}", style), point, point.slotted, name)
                for text in composed_points(point, rng, composed):
                    offer(TrainingPair(request, filled(text, point), f"composed:{name}", style), point, text, name)
    return _sample(out, outcomes, per_style, rng), outcomes


def _sample(
    kept: list[tuple[TrainingPair, Point, str]], outcomes: Counter, per_style: int, rng: random.Random
) -> list[tuple[TrainingPair, Point, str]]:
    """Every reference point, and at most ``per_style`` of the others per style; the rest counted as "sampled out"."""
    out = [k for k in kept if k[0].source.startswith("reference:")]
    for style in STYLED:
        rest = [k for k in kept if k[0].style == style and not k[0].source.startswith("reference:")]
        rng.shuffle(rest)
        out += rest[:per_style]
        for pair, _, _ in rest[per_style:]:
            outcomes[(pair.source, "kept")] -= 1
            outcomes[(pair.source, "sampled out")] += 1
    return out


def _request_key(request: ReasonRequest) -> str:
    return request.item.item_id + "|" + ",".join(h.item_id for h in request.history)
