"""Template reasons in every style, written from the fact plan and the item's contrast with its closest history item.

* ``one-line``: :func:`~genre.components.reasoners.oneline.template_text`, unchanged.
* ``short``: the evidence sentence, then what is new about the item next to the history it names, then the
  intent or the strongest component when room is left (two or three sentences).
* ``bullets``: two to four "- " points, each stating one piece of evidence: the history and what it shares,
  the strongest component, what is new, the intent, the popularity, the profile.
* ``compare``: what the item shares with its closest history item and what it adds (or leaves behind).

Every unit is a true statement of the plan or the contrast. Each has an importance; when the reason is over
its length bound the least important unit goes first, never below the style's fewest units. Phrasings are
picked per item by a hash of its id, as the one-line template does, so a list reads less alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from genre.components.reasoners.contrast import Contrast, describe
from genre.components.reasoners.oneline import capitalize, pick, template_text
from genre.components.reasoners.plan import FactPlan, fill, join_words, plain
from genre.components.reasoners.styles import Style

__all__ = ["styled_text"]


@dataclass(frozen=True)
class _Unit:
    text: str
    rank: int
    """Importance: 0 is kept longest."""


# What is new about the item next to {h}; {new} says its traits no named history item has ("is Comedy",
# "comes from Vellmar"). _NEW_AFTER is for a sentence right after one that named {h}.
_NEW = (
    "Unlike {h}, it {new}.",
    "Unlike {h}, this one {new}.",
    "What sets it apart from {h}: it {new}.",
)
_NEW_AFTER = ("Unlike that one, it {new}.", "What sets it apart: it {new}.", "But unlike that one, it {new}.")
# Where the closest item is something ({theirs}) the recommended one is not.
_SWAP = (
    "{h} is {theirs}, while this one {new}.",
    "Where {h} is {theirs}, this one {new}.",
)
_SWAP_AFTER = ("That one is {theirs}, while this one {new}.", "Where that one is {theirs}, this one {new}.")
_SHARED = (
    "Like {h}, it {shared_is}.",
    "It shares {shared} with {h}.",
    "It and {h} share {shared}.",
)
_NOTHING_NEW = ("It {shared_is}, just like {h}.",)
_INTENT = ("It fits your current interest in {intent}.", "It matches your interest in {intent}.")
_OWN = ("It is {own}.", "This one is {own}.")
_LIKED_SHARED = (
    "You liked {h}, and this shares {shared} with {them}.",
    "It shares {shared} with {h}, which you liked.",
)
_LIKED = ("You liked {h}, so this is a likely next pick.", "It is a likely next pick for fans of {h}.")

_CHECKABLE_WHY = frozenset({"popularity", "attribute", "profile"})
"""Components whose sentence names a checkable fact (a figure, an attribute, the profile): a point of its own.
"People with similar taste liked it" is true but names no evidence a reader could check."""
_MIN_UNITS: dict[Style, int] = {"one-line": 1, "short": 2, "bullets": 2, "compare": 1}
_MAX_UNITS: dict[Style, int] = {"one-line": 3, "short": 3, "bullets": 4, "compare": 3}


def styled_text(plan: FactPlan, contrast: Contrast, style: Style, max_words: int) -> str:
    """The template reason for ``plan`` in ``style``, at most ``max_words`` words where its fewest units allow."""
    if style == "one-line" or plan.cold_start:
        # A cold-start list has no history to compare with: every style says the same popular-pick sentence.
        return _fit([_Unit(s, i) for i, s in enumerate(_sentences(template_text(plan)))], 1, max_words, " ")
    if style == "bullets":
        units = _bullet_units(plan, contrast)
        points = _fit(units, _MIN_UNITS[style], max_words, "\n")
        return "\n".join(f"- {p}" for p in points.split("\n"))
    units = _short_units(plan, contrast) if style == "short" else _compare_units(plan, contrast)
    return _fit(units, _MIN_UNITS[style], max_words, " ")


def _sentences(text: str) -> list[str]:
    """The template's sentences (it ends each with ". ", and titles hold no ". " the template adds)."""
    parts = [p for p in text.replace(". ", ".\n").split("\n") if p.strip()]
    return parts or [text]


def _fit(units: list[_Unit], fewest: int, max_words: int, sep: str) -> str:
    """The units in order, dropping the least important (latest among equals) while over ``max_words``."""
    kept = list(units)
    while len(kept) > fewest and len(sep.join(u.text for u in kept).split()) > max_words:
        drop = max(range(len(kept)), key=lambda i: (kept[i].rank, i))
        kept.pop(drop)
    return sep.join(u.text for u in kept)


def _values(plan: FactPlan, contrast: Contrast) -> dict[str, str]:
    slots = plan.slots()
    if contrast.closest is not None:
        slots["h"] = plain(contrast.closest.title)
    if contrast.new:
        slots["new"] = describe(contrast.new)
    if contrast.shared:
        slots["cshared"] = join_words([t.words for t in contrast.shared])
        slots["shared_is"] = describe(contrast.shared)
    if contrast.theirs:
        slots["theirs"] = join_words(list(contrast.theirs))
    if plan.item.categories:
        slots["own"] = join_words([plain(c, 60) for c in plan.item.categories[:3]])
    return slots


def _new_unit(
    plan: FactPlan, contrast: Contrast, values: dict[str, str], rank: int, after: bool = False
) -> _Unit | None:
    """What is new about the item next to the closest history item, if anything is (``after``: the sentence
    before named that item, so this one points back at it)."""
    if contrast.closest is None or not contrast.new:
        return None
    swap = bool(contrast.theirs) and contrast.new[0].kind == "category"
    options = {(True, True): _SWAP_AFTER, (True, False): _SWAP, (False, True): _NEW_AFTER, (False, False): _NEW}
    return _Unit(capitalize(fill(pick(options[swap, after], plan, 2), values)), rank)


def _why_unit(plan: FactPlan, values: dict[str, str], rank: int) -> _Unit | None:
    """The strongest component as its own sentence, when it names no history item (those are in the first)."""
    why = plan.why
    if why is None or why.hist or why.kind == "intent":
        return None
    return _Unit(capitalize(fill(why.phrase, values)) + ".", rank)


def _intent_unit(plan: FactPlan, values: dict[str, str], rank: int) -> _Unit | None:
    if not plan.intent:
        return None
    return _Unit(fill(pick(_INTENT, plan, 1), values), rank)


def _short_units(plan: FactPlan, contrast: Contrast) -> list[_Unit]:
    """The evidence (today's first sentence), what is new, then the intent or the strongest component."""
    values = _values(plan, contrast)
    first = _sentences(template_text(plan))[0]
    units = [_Unit(first, 0)]
    # "Unlike that one" only when the first sentence named the closest item and no other.
    named = [h for h in plan.history if plain(h.title) in first]
    after = contrast.closest is not None and [h.item_id for h in named] == [contrast.closest.item_id]
    extras = [_new_unit(plan, contrast, values, 1, after), _why_unit(plan, values, 2), _intent_unit(plan, values, 3)]
    if first.startswith(("It fits", "It matches")):
        extras[2] = None  # the first sentence already said the intent
    units += [u for u in extras if u is not None]
    if len(units) < 2 and "own" in values:
        units.append(_Unit(fill(pick(_OWN, plan), values), 4))
    return units[: _MAX_UNITS["short"]]


def _compare_units(plan: FactPlan, contrast: Contrast) -> list[_Unit]:
    """What the item shares with its closest history item, what it adds, and why it was picked."""
    values = _values(plan, contrast)
    if contrast.closest is None:
        # Nothing to compare with (a profile or an intent alone): the one-line reason says what there is.
        return [_Unit(s, i) for i, s in enumerate(_sentences(template_text(plan)))]
    units: list[_Unit] = []
    new = _new_unit(plan, contrast, values, 0, after=bool(contrast.shared))
    if contrast.shared:
        shared_values = {**values, "shared": values["cshared"]}
        options = _SHARED if new is not None else _NOTHING_NEW[:1]
        units.append(_Unit(capitalize(fill(pick(options, plan), shared_values)), 1))
    if new is not None:
        units.append(new)
    if contrast.cited and plan.why is not None and plan.why.hist:
        # Why the closest item matters at all: the component that tied them ("120 people who rated X also rated it"),
        # pointing back at it when the sentences before named it.
        back = units and values[plan.why.hist] == values["h"]
        why_values = {**values, plan.why.hist: "that one"} if back else values
        units.append(_Unit(capitalize(fill(plan.why.phrase, why_values)) + ".", 2))
    elif not units:
        units.append(_Unit(_sentences(template_text(plan))[0], 0))
    return units


def _bullet_units(plan: FactPlan, contrast: Contrast) -> list[_Unit]:
    """One point per piece of evidence, most important first."""
    values = _values(plan, contrast)
    units: list[_Unit] = []
    why = plan.why
    if plan.history:
        hists = join_words([values[f"hist{n}"] for n in range(1, len(plan.history) + 1)])
        hv = {**values, "h": hists, "them": "them" if len(plan.history) > 1 else "it"}
        if why is not None and why.hist:
            units.append(_Unit(capitalize(fill(why.phrase, values)) + ".", 0))
            if plan.shared:
                units.append(_Unit(fill(pick(_LIKED_SHARED, plan), {**hv, "h": values[why.hist], "them": "it"}), 1))
        elif plan.shared:
            units.append(_Unit(fill(pick(_LIKED_SHARED, plan), hv), 0))
        else:
            units.append(_Unit(fill(pick(_LIKED, plan), hv), 0))
    if (u := _why_unit(plan, values, 1)) is not None and why is not None and why.kind in _CHECKABLE_WHY:
        units.append(u)
    if not plan.history and why is None and plan.profile:
        units.append(_Unit("It closely matches what you described in your profile.", 0))
    if (u := _new_unit(plan, contrast, values, 2)) is not None and any(t.kind != "tag" for t in contrast.new):
        # A point of tags alone ("it is tagged espresso") names no trait the verifier can hold it to.
        units.append(u)
    if (u := _intent_unit(plan, values, 3)) is not None and not (why is not None and why.kind == "intent"):
        units.append(u)
    if why is not None and why.kind == "intent" and plan.intent:
        units.insert(0, _Unit(capitalize(fill(why.phrase, values)) + ".", 0))
    if plan.popularity and not (why is not None and why.kind == "popularity"):
        units.append(_Unit(f"It is widely chosen ({plan.popularity}).", 4))
    if len(units) < 2 and "own" in values:
        units.append(_Unit(fill(pick(_OWN, plan), values), 5))
    if not units:
        units.append(_Unit("It scored well on the blended score.", 0))
    return units[: _MAX_UNITS["bullets"]]
