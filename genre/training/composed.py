"""More slotted targets for the grounded adapter: requests with other strongest components, and composed sentences.

Delexicalising the reference reasons leaves few targets (most references describe the item in
words no slot holds, which the grounded reasoner would rightly reject) and the template's leave
three sentence shapes. Two sources widen that, both built from project data only and both passed
through the same checks as every other target (:func:`genre.training.slotted_data.slotted_pair`
plus the grounded reasoner's form judge):

* :func:`vary_why`: a request again with its history evidence credited to a collaborative
  (co-rated count) or sequential scorer, so the prompt shows the ``{why}`` phrases MovieLens plans
  have ("85 people who rated {hist1} also rated it", "it is often picked right after {hist1}").
  Only the prompt changes; targets still say only what the slots hold.
* :func:`composed_targets`: sentences put together from openings, main clauses and fact clauses
  written with connecting words only (the grounded vocabulary), each using at least one fact slot.
"""

from __future__ import annotations

import random
import re
from dataclasses import replace

from genre.components.reasoners.constrained import CONNECTING_WORDS
from genre.components.reasoners.plan import FactPlan
from genre.core.types import ReasonRequest

__all__ = ["CLAUSES", "composed_targets", "vary_why"]

_OPEN_HIST = ("Because you liked {h},", "If you enjoyed {h},", "Since you liked {h},", "You enjoyed {h}, so")
_OPEN_WHY = ("Since {why},", "Because {why},")
_OPEN_INTENT = ("For your interest in {intent},",)
_MAIN = (
    "this is a safe bet",
    "this should suit you",
    "try this one next",
    "this is a natural next step",
    "this could be a good choice",
    "you may enjoy this one too",
    "this one should fit your taste",
    "this is worth a try",
)
CLAUSES = {
    "shared_h": (
        ": it shares {shared} with {h}",
        ", and it shares {shared} with {h}",
        ", as it shares {shared} with {h}",
    ),
    "shared_it": (": it shares {shared} with it", ", and both share {shared}"),
    "why": (", because {why}", ", since {why}"),
    "intent": (", and it fits your interest in {intent}", ", and it matches your interest in {intent}"),
}
"""Fact clauses that follow a main clause; each states one fact slot."""


def vary_why(request: ReasonRequest, rng: random.Random) -> list[ReasonRequest]:
    """``request`` with its strongest history evidence credited to a co-rating and to a sequential scorer."""
    history = [e for evs in request.evidence.values() for e in evs if e.kind == "history_item" and e.item_id]
    if not history or request.cold_start:
        return []
    top = max(history, key=lambda e: e.weight)
    rest = [e for e in history if e.item_id != top.item_id][:2]
    count = rng.choice((3, 12, 28, 47, 85, 120, 240))
    out = []
    for name, first in (("itemknn", replace(top, count=count)), ("sasrec", top)):
        contributions = {name: 1.0, **{k: v * 0.2 for k, v in request.contributions.items() if k != name}}
        out.append(replace(request, contributions=contributions, evidence={**request.evidence, name: [first, *rest]}))
    return out


def composed_targets(plan: FactPlan, rng: random.Random, n: int) -> list[str]:
    """Up to ``n`` distinct slotted sentences for ``plan``, each using a fact slot and only connecting words."""
    slots = plan.slots()
    why_hist = plan.why.hist if plan.why is not None else None
    free = [f"{{hist{i}}}" for i in range(1, len(plan.history) + 1) if f"hist{i}" != why_hist]
    opens: list[tuple[str, str]] = [(o.replace("{h}", h), h) for o in _OPEN_HIST for h in free[:1]]
    if "why" in slots:
        opens += [(o, "why") for o in _OPEN_WHY]
    if "intent" in slots:
        opens += [(o, "intent") for o in _OPEN_INTENT]
    out: list[str] = []
    for _ in range(n * 4):
        if not opens or len(out) == n:
            break
        opening, used = rng.choice(opens)
        facts: list[str] = []
        if "shared" in slots:
            others = [h for h in free if h != used]
            facts += [c.replace("{h}", others[0]) for c in CLAUSES["shared_h"]] if others else []
            facts += list(CLAUSES["shared_it"]) if used.startswith("{hist") and len(plan.history) == 1 else []
        if "why" in slots and used != "why":
            facts += list(CLAUSES["why"])
        if "intent" in slots and used != "intent":
            facts += list(CLAUSES["intent"])
        if not facts and used not in ("why", "intent"):
            continue
        lead = opening.split()[0].lower()
        facts = [f for f in facts if lead not in f.split()]  # no "Because you liked X, …, because {why}"
        if not facts and used not in ("why", "intent"):
            continue
        text = f"{opening} {rng.choice(_MAIN)}" + (rng.choice(facts) if facts else "") + "."
        if text not in out and _connecting_only(text):
            out.append(text)
    return out


def _connecting_only(text: str) -> bool:
    own = re.sub(r"\{\w+\}", " ", text)
    return all(w.lower() in CONNECTING_WORDS for w in re.findall(r"[A-Za-z']+", own))
