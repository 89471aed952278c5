"""Delexicalising: a reason's literal titles, shared traits and phrases turned back into the slots they fill.

A reason written from a :class:`~genre.components.reasoners.plan.FactPlan` (a template's, a person's)
names titles and traits literally. :func:`delexicalise` replaces every literal occurrence of a plan value
with its slot (``{item}``, ``{hist1}``, ``{shared}``…), so the result is what a slotted writer would have
had to write. The training data of the ``tuned-local`` adapter is made this way, and the styled
reasoners use it to find which facts a template point states.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from genre.components.reasoners.plan import FactPlan, plain
from genre.core.types import Item

__all__ = ["delexicalise", "slot_forms", "title_forms"]

_YEAR = re.compile(r"\s*\(\d{4}\)\s*$")
_ARTICLE = re.compile(r"^(?:the|a|an)\s+", re.IGNORECASE)


def title_forms(item: Item) -> list[str]:
    """How a reason may write a title: as listed, without its "(year)", with a trailing ", The" moved to
    the front, and without a leading article."""
    title = plain(item.title)
    forms = [title, _YEAR.sub("", title)]
    # MovieLens lists "Lion King, The (1994)"; a reason writes "The Lion King".
    moved = re.match(r"^(.*), (The|A|An)(\s*\(\d{4}\))?$", title)
    if moved:
        forms += [f"{moved.group(2)} {moved.group(1)}{moved.group(3) or ''}", f"{moved.group(2)} {moved.group(1)}"]
    forms += [_ARTICLE.sub("", f) for f in forms]
    return [f for f in dict.fromkeys(forms) if len(f) >= 3]


def _shared_forms(plan: FactPlan) -> list[str]:
    """The ``{shared}`` phrase, each shared category or attribute phrase, and each attribute's raw value."""
    slots = plan.slots()
    forms = [slots["shared"]] if "shared" in slots else []
    forms += list(plan.shared)
    for phrase in plan.shared_attributes:
        for value in plan.item.attributes.values():
            if isinstance(value, str) and len(value.strip()) >= 3 and value.strip().lower() in phrase.lower():
                forms.append(value.strip())
        tag = re.fullmatch(r"the (.+) tag", phrase)
        if tag:
            forms += [tag.group(1), tag.group(1).replace("-", " ")]
    return list(dict.fromkeys(f for f in forms if f))


def slot_forms(plan: FactPlan, extra: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """(literal, slot name) for every way a reason may write one of ``plan``'s values, longest first.

    ``extra`` adds slots the plan itself lacks (a styled reason's ``{new}``, ``{theirs}``), each as its value.
    """
    slots = plan.slots()
    out: list[tuple[str, str]] = []
    if "why" in slots:
        out.append((slots["why"], "why"))
    out += [(form, "item") for form in title_forms(plan.item)]
    for n, hist in enumerate(plan.history, start=1):
        out += [(form, f"hist{n}") for form in title_forms(hist)]
    out += [(form, "shared") for form in _shared_forms(plan)]
    if "intent" in slots:
        out.append((slots["intent"], "intent"))
    out += [(value, name) for name, value in (extra or {}).items() if value]
    return sorted(out, key=lambda pair: -len(pair[0]))


def delexicalise(text: str, plan: FactPlan, extra: Mapping[str, str] | None = None) -> str:
    """``text`` with every literal occurrence of a plan value (and of ``extra``'s) replaced by its slot.

    Matches are whole words, ignoring case; where two overlap the longer wins ("Outdoor & Camping
    and backpacking" is one ``{shared}``, not two). A title's possessive ("Aladdin's") keeps its "'s".
    """
    taken: list[tuple[int, int, str]] = []
    for literal, slot in slot_forms(plan, extra):
        pattern = re.compile(r"(?<![\w{])" + re.escape(literal) + r"(?![\w}])", re.IGNORECASE)
        for m in pattern.finditer(text):
            if all(m.end() <= s or m.start() >= e for s, e, _ in taken):
                taken.append((m.start(), m.end(), slot))
    out = text
    for start, end, slot in sorted(taken, reverse=True):
        out = out[:start] + "{" + slot + "}" + out[end:]
    return out
