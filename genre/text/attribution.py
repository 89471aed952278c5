"""Whose trait a compare sentence states: the history item's, or the item's as against a history item.

The ``compare`` and ``short`` styles set the item against the history: "Fargo (1996) is a thriller, while
this one is a comedy" says *thriller* of Fargo; "Unlike Fargo (1996), it is a comedy" says *comedy* of the
item and that Fargo is none. :func:`owner_of` finds the history item a clause describes;
:func:`contrasted_with` finds the history items a trait of the item is set against. Both read
``ReasonEvidence.plain`` (titles blanked) and the positions of the history titles the text names.
"""

from __future__ import annotations

import re

from genre.core.types import Item
from genre.text.evidence import SENTENCE_END, ReasonEvidence, bounds, said_of_item

__all__ = ["contrasted_with", "owner_of"]

# Where a clause about one thing starts: a sentence end, a colon or semicolon, or a contrasting conjunction.
_CLAUSE_START = re.compile(r"[.!?;:](?=\s|$)|\b(?:while|whereas|but)\b", re.IGNORECASE)
# "<title> is", "<title>, which is", "unlike <title>, which is" up to the trait (lists of traits allowed).
_OWNER_VERB = re.compile(
    r"\s*(?:\(\d{4}\)\s*)?,?\s*(?:which|that|who)?\s*(?:is|are|was|were|'s|’s|has|comes from|is made for|is about"
    r"|belongs to)\b",
    re.IGNORECASE,
)
_OWNER_LEAD = re.compile(r"^\s*(?:(?:where|while|whereas|but|and|unlike)\s+)?(?:the\s+)?$", re.IGNORECASE)
_BACK_REFERENCE = re.compile(r"^\s*(?:(?:where|while|whereas|but|and)\s+)?(?:that one|the latter|the former)\b", re.I)
_ITEM_WORDS = re.compile(r"\b(?:this|it|it's|its|you|your)\b", re.IGNORECASE)
_CONTRAST = re.compile(
    r"\bunlike\b|\bsets? (?:it|this)(?: one)? apart\b|\b(?:while|whereas) (?:this|it)\b|\bwhere\b[^.!?]*\bthis one\b"
    r"|\bdiffers?\b|\bin contrast\b|\bunlike (?:that one|it)\b",
    re.IGNORECASE,
)


def _named_in(ctx: ReasonEvidence, start: int, end: int) -> list[tuple[int, int, Item]]:
    return [(s, e, h) for (s, e), h in sorted(ctx.history_at.items()) if start <= s < end]


def _previous_history(ctx: ReasonEvidence, before: int) -> Item | None:
    """The last history item named before ``before`` ("that one" points back at it)."""
    named = _named_in(ctx, 0, before)
    return named[-1][2] if named else None


def owner_of(start_pos: int, ctx: ReasonEvidence) -> Item | None:
    """The history item whose trait the word at ``start_pos`` states: its clause starts with that item's title
    (or "that one" after one) and a verb ("Fargo (1996) is Crime and Drama"), and nothing between points at the
    recommended item or the user."""
    text = ctx.plain
    clause_start = 0
    for m in _CLAUSE_START.finditer(text, 0, start_pos):
        clause_start = m.end() if m.group()[:1] in ".!?;:" else m.start()
    before = text[clause_start:start_pos]
    back = _BACK_REFERENCE.match(before)
    if back is not None:
        owner = _previous_history(ctx, clause_start)
        rest = before[back.end() :]
    else:
        named = _named_in(ctx, clause_start, start_pos)
        if not named or not _OWNER_LEAD.match(text[clause_start : named[0][0]]):
            return None
        _, e, owner = named[0]
        rest = text[e:start_pos]
        if len(named) > 1:
            return None
    verb = _OWNER_VERB.match(rest)
    if owner is None or verb is None or _ITEM_WORDS.search(rest):
        return None
    return owner


def contrasted_with(start_pos: int, ctx: ReasonEvidence) -> list[Item]:
    """The history items a trait of the recommended item is set against ("Unlike <title>, it is a comedy",
    "What sets it apart: it ..."): those its sentence names, else the last one named before it. Empty when the
    sentence sets nothing against the item or the trait is not said of the item."""
    start, end = bounds(ctx.plain, start_pos, SENTENCE_END)
    if not _CONTRAST.search(ctx.plain, start, end) or not said_of_item(start_pos, ctx):
        return []
    named = [h for _, _, h in _named_in(ctx, start, end)]
    if not named and (previous := _previous_history(ctx, start)) is not None:
        named = [previous]
    return list({h.item_id: h for h in named}.values())
