"""The ``one-line`` reason: one to three sentences from the fact plan, every title named once.

Every sentence states a fact of the :class:`~genre.components.reasoners.plan.FactPlan`: the history
items behind the score, what the item shares with them, the strongest component in plain words
("120 people who rated Fargo (1996) also rated it"), the intent label the item matches. Each situation
has a few phrasings, picked per item by a hash of its id (:func:`pick`), so a list of ten reads less
alike while the same item always gets the same sentence. The other styles (:mod:`.styled`) reuse it.
"""

from __future__ import annotations

import zlib

from genre.components.reasoners.plan import FactPlan, Why, fill, join_words

__all__ = ["capitalize", "pick", "template_text"]


# ---- phrasings ------------------------------------------------------------------------------------

# The reason is shown under the item's own title, so it says "this" or "it" rather than naming the item
# again: a news headline named twice makes a reason twice as long and no more specific.

# The strongest component as the main clause, when it names a history item ({h}); three phrasings each.
_MAIN: dict[str, tuple[str, ...]] = {
    "co-rated": (
        "{n} people who rated {h} also rated this",
        "Of the people who rated {h}, {n} also rated this one",
        "This was also rated by {n} people who rated {h}",
    ),
    "sequence": (
        "It is often picked right after {h}",
        "People often pick this right after {h}",
        "Right after {h}, this is a frequent next pick",
    ),
    "content": (
        "It is close in description to {h}",
        "Its description is close to that of {h}",
        "In its description, this is close to {h}",
    ),
    "similar": (
        "It is a lot like {h}",
        "This is a lot like {h}",
        "It has much in common with {h}",
    ),
}
# The named history ({hists}) with what the item shares with all of it, or without anything shared.
_WITH_SHARED = (
    "Because you liked {hists}: it shares {shared} with {them}.",
    "You enjoyed {hists}, and this shares {shared} with {them}.",
    "Picked for fans of {hists}: it shares {shared} with {them}.",
)
_WITHOUT_SHARED = (
    "Because you liked {hists}, this is a likely next pick.",
    "You enjoyed {hists}, so this is on your list.",
    "Picked for fans of {hists}.",
)
# The history named only for what it shares with the item (no scorer cited it): alike, not the cause.
_ALIKE = (
    "Like {hists} from your history, it is {shared}.",
    "It is {shared}, as {are} {hists}, which you liked.",
)
_INTENT = ("It fits your current interest in {intent}.", "It matches your interest in {intent}.")
_ALONE = ("We picked this because {why}.", "It made your list because {why}.", "It is here because {why}.")
_LONG = 28
"""Words after which a reason gets no further sentence (the intent line is the first to go)."""


def _variant(plan: FactPlan) -> int:
    return zlib.crc32(plan.item.item_id.encode())


def pick(options: tuple[str, ...], plan: FactPlan, salt: int = 0) -> str:
    return options[(_variant(plan) + salt) % len(options)]


def capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


def template_text(plan: FactPlan) -> str:
    """The template reason for a fact plan: one to three sentences, every title named once."""
    slots = plan.slots()
    if plan.cold_start:
        popular = f"({plan.popularity})" if plan.popularity else "(widely chosen)"
        return f"One of the most popular picks in the catalog {popular}. Add history or a profile to personalize."
    why = plan.why
    sentences: list[str] = []
    if plan.history and why is not None and why.hist and why.kind in _MAIN:
        sentences.append(_maincapitalize(plan, why, slots))
    elif plan.history and plan.alike and plan.shared:
        hists = join_words([slots[f"hist{n}"] for n in range(1, len(plan.history) + 1)])
        are = "are" if len(plan.history) > 1 else "is"
        sentences.append(capitalize(fill(pick(_ALIKE, plan), {**slots, "hists": hists, "are": are})))
        if why is not None and not why.hist and why.kind != "intent":
            sentences.append(capitalize(fill(why.phrase, slots)) + ".")
    elif plan.history:
        sentences.append(_historycapitalize(plan, slots))
        if why is not None and not why.hist and why.kind != "intent":
            sentences.append(capitalize(fill(why.phrase, slots)) + ".")
    elif why is not None:
        sentences.append(capitalize(fill(pick(_ALONE, plan), {**slots, "why": slots["why"]})))
    elif plan.profile:
        sentences.append("It closely matches what you described in your profile.")
    said_intent = why is not None and why.kind == "intent" and not plan.history
    short = len(" ".join(sentences).split()) < _LONG
    if plan.intent and not said_intent and short and (plan.history or plan.profile or why is not None):
        sentences.append(fill(pick(_INTENT, plan, 1), slots))
    if not sentences and plan.popularity:
        sentences.append(f"It is widely chosen ({plan.popularity}).")
    if not sentences:
        sentences.append("It scored well on the blended score.")
    return " ".join(sentences)


def _maincapitalize(plan: FactPlan, why: Why, slots: dict[str, str]) -> str:
    """The strongest component naming its history item, then what the item shares with the named history."""
    main = pick(_MAIN[why.kind], plan)
    values = {**slots, "h": slots[why.hist or ""], "n": f"{why.count:,}" if why.count else ""}
    text = fill(main, values)
    others = [slots[f"hist{n}"] for n in range(1, len(plan.history) + 1) if f"hist{n}" != why.hist]
    if plan.shared:
        if others:
            text += fill(", and it shares {shared} with {other} too", {**slots, "other": join_words(others)})
        else:
            text += fill(", and the two share {shared}", slots)
    return capitalize(text) + "."


def _historycapitalize(plan: FactPlan, slots: dict[str, str]) -> str:
    """The named history, and what the item shares with all of it (or that it drove the pick)."""
    hists = join_words([slots[f"hist{n}"] for n in range(1, len(plan.history) + 1)])
    values = {**slots, "hists": hists, "them": "them" if len(plan.history) > 1 else "it"}
    return capitalize(fill(pick(_WITH_SHARED if plan.shared else _WITHOUT_SHARED, plan), values))
