"""What the ``short``, ``bullets`` and ``compare`` styles add to the fact plan: the item next to its closest
history item.

A :class:`Contrast` is computed from catalog facts only: the history item closest to the recommended one
(the plan's strongest named item, else the history item sharing most with it), what the two share, what
is *new* about the item (its categories and checkable attributes that no named history item has), and
what the closest item is that the recommended one is not. Only values the claim verifier can check are
listed: categories, tags and the attributes it reads as attribute words (brand, activity, region, topic,
thread); a material or a price is left out, since nothing downstream could confirm a sentence about it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from genre.components.reasoners.plan import FactPlan, join_words, plain
from genre.core.types import Item, ReasonRequest

__all__ = ["Contrast", "Trait", "describe", "make_contrast", "traits"]

_CHECKED_ATTRIBUTES: dict[str, tuple[str, str]] = {
    "brand": ("the {} brand", "comes from {}"),
    "activity": ("{}", "is made for {}"),
    "region": ("a focus on {}", "has a focus on {}"),
    "topic": ("{}", "is about {}"),
    "thread": ("the {} thread", "belongs to the {} thread"),
}
"""Attributes whose values the verifier reads as attribute words: how each reads as a shared thing ("it shares
the Northwind brand with ...") and as a predicate of the item ("it comes from Northwind")."""
_MAX_NEW = 2
"""Traits a reason calls new at most: more reads as a catalog entry."""
_NOT_A_VALUE = frozenset({"yes", "no", "none", "n/a", "", "global"})
"""Values that tell nothing apart ("a focus on Global" is no focus)."""


@dataclass(frozen=True)
class Trait:
    """One fact about an item, as a key (to compare items) and as words (to write)."""

    key: str
    """``category:<lower>``, ``tag:<lower>`` or ``<attribute>:<lower value>``."""
    words: str
    """How it reads as a thing shared ("Comedy", "the Northwind brand", "the ultralight tag")."""
    kind: str
    """"category", "tag" or "attribute"."""
    value: str = ""
    """The bare value ("Comedy", "Northwind", "ultralight")."""
    predicate: str = ""
    """How it reads after "it" ("is Comedy", "comes from Northwind"); tags are said together by :func:`describe`."""


@dataclass(frozen=True)
class Contrast:
    """The recommended item next to its closest history item."""

    closest: Item | None
    """The history item the comparison is with (None: no history to compare with)."""
    cited: bool
    """``closest`` drove the score (it is one of the plan's named history items), not only alike."""
    shared: tuple[Trait, ...] = ()
    """Traits the item and ``closest`` both have (categories first; tags only when nothing else is shared)."""
    new: tuple[Trait, ...] = ()
    """Traits of the item that no named history item has (else: that ``closest`` has not), categories first."""
    theirs: tuple[str, ...] = ()
    """Categories ``closest`` has that the item does not (what the item leaves behind)."""


def traits(item: Item) -> list[Trait]:
    """The item's checkable facts: categories, then attributes, then tags."""
    out = [Trait(f"category:{c.lower()}", plain(c, 60), "category", plain(c, 60)) for c in item.categories]
    for key, (shared, predicate) in _CHECKED_ATTRIBUTES.items():
        value = item.attributes.get(key)
        if isinstance(value, str) and value.strip().lower() not in _NOT_A_VALUE:
            text = plain(value.strip(), 60)
            out.append(Trait(f"{key}:{text.lower()}", shared.format(text), "attribute", text, predicate.format(text)))
    out += [Trait(f"tag:{t.lower()}", f"the {plain(t, 40)} tag", "tag", plain(t, 40)) for t in item.tags]
    return out


def describe(new: tuple[Trait, ...]) -> str:
    """What follows "it" for these traits: "is Comedy and Romance", "comes from Vellmar and is tagged espresso"."""
    clauses: list[str] = []
    categories = [t.value for t in new if t.kind == "category"]
    if categories:
        clauses.append("is " + join_words(categories))
    clauses += [t.predicate for t in new if t.kind == "attribute"]
    tags = [t.value for t in new if t.kind == "tag"]
    if tags:
        clauses.append("is tagged " + join_words(tags))
    return join_words(clauses)


def _mentions(text: str, value: str) -> bool:
    return bool(re.search(rf"(?<!\w){re.escape(value.lower())}(?!\w)", text.lower()))


def _keys(item: Item) -> set[str]:
    return {t.key for t in traits(item)}


def _closest(plan: FactPlan, req: ReasonRequest) -> tuple[Item | None, bool]:
    """The plan's strongest named history item; else the history item sharing most traits (the latest among equals)."""
    if plan.history:
        return plan.history[0], not plan.alike
    own = _keys(req.item)
    best: Item | None = None
    best_overlap = 0
    for h in reversed(req.history):  # the most recent first, so ties go to it
        if h.item_id == req.item.item_id:
            continue
        overlap = len(own & _keys(h))
        if overlap > best_overlap:
            best, best_overlap = h, overlap
    return best, False


def make_contrast(plan: FactPlan, req: ReasonRequest) -> Contrast:
    """The item against its closest history item (an empty contrast when there is none)."""
    if plan.cold_start:
        return Contrast(None, False)
    closest, cited = _closest(plan, req)
    if closest is None:
        return Contrast(None, False)
    mine = traits(req.item)
    theirs_keys = _keys(closest)
    others = set(theirs_keys)
    for h in plan.history:
        others |= _keys(h)
    shared = [t for t in mine if t.key in theirs_keys]
    shared_traits = [t for t in shared if t.kind != "tag"] or shared
    # A trait a named item's own title or description mentions is no news ("training" in a watch's description),
    # and the verifier reads those texts too.
    said = " ".join(f"{h.title} {h.description}" for h in (closest, *plan.history))
    # A value counts whatever field holds it: the speakers' category "Audio" is no news next to a book tagged audio.
    values = {t.value.lower() for h in (closest, *plan.history) for t in traits(h)}
    new = [t for t in mine if t.key not in others and t.value.lower() not in values and not _mentions(said, t.value)]
    if not new:
        # Nothing is new next to all the named history; the sentences about it name only the closest item.
        own_text = f"{closest.title} {closest.description}"
        own_values = {t.value.lower() for t in traits(closest)}
        new = [
            t for t in mine
            if t.key not in theirs_keys and t.value.lower() not in own_values and not _mentions(own_text, t.value)
        ]  # fmt: skip
    # Categories and attributes say what the item is; a tag ("the budget tag") only when nothing else is new.
    new_traits = [t for t in new if t.kind != "tag"] or [t for t in new if t.kind == "tag"]
    own_categories = {c.lower() for c in req.item.categories}
    theirs = tuple(plain(c, 60) for c in closest.categories if c.lower() not in own_categories)
    return Contrast(
        closest=closest,
        cited=cited,
        shared=tuple(shared_traits[:3]),
        new=tuple(new_traits[:_MAX_NEW]),
        theirs=theirs[:2],
    )
