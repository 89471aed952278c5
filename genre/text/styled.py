"""A model's raw text cut to the shape of a reason style: sentences or "- " points, within a length bound.

``one-line`` is :func:`~genre.text.hygiene.clean_reason` unchanged. ``short`` and ``compare`` keep up to
three finished sentences; ``bullets`` keeps two to four points, one per line, each a finished sentence
(a model that wrote its points as plain sentences gets one point per sentence). Whatever the style,
sentences are dropped from the end while the reason is over its length bound, and an unfinished last
sentence is dropped. :func:`style_complete` tells generation when to stop.

Styles are plain strings here: the style names live in the components layer above this one.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from genre.core.types import ReasonRequest
from genre.core.verdict import Claim, VerdictError
from genre.text.hygiene import clean_reason, reason_is_complete, sentence_spans, split_sentences

__all__ = ["MAX_POINTS", "MIN_POINTS", "clean_styled", "points", "shape_problem", "style_complete"]

MIN_POINTS = 2
"""A bullets reason has 2 to 4 points."""
MAX_SENTENCES = 3
"""Sentences a ``short`` or ``compare`` reason keeps at most."""
MAX_POINTS = 4
"""Points a ``bullets`` reason keeps at most."""
_MARKER = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_BULLET = re.compile(r"^[ \t]*[-*•][ \t]+", re.MULTILINE)


def _sentence(text: str) -> str:
    """One cleaned sentence ('' when nothing is left), without clean_reason's second-sentence rule."""
    return clean_reason(text) if re.search(r"\w", text) else ""


def _within(parts: list[str], max_words: int, fewest: int) -> list[str]:
    """``parts`` with the last dropped while over ``max_words`` (never below ``fewest``)."""
    kept = list(parts)
    while len(kept) > fewest and sum(len(p.split()) for p in kept) > max_words:
        kept.pop()
    return kept


def _finished(text: str) -> list[str]:
    """The finished sentences of ``text`` (an unfinished tail is dropped unless it is all there is)."""
    flat = re.sub(r"\s+", " ", text).strip()
    sentences, tail = sentence_spans(flat + " ")
    return sentences or ([tail] if tail else [])


def clean_styled(text: str, style: str, max_words: int) -> str:
    """``text`` as a reason of ``style`` ('' when nothing usable is left: the caller shows the template)."""
    if style == "bullets":
        return _clean_points(text, max_words)
    if style == "one-line":
        return clean_reason(text)
    first = clean_reason(text)
    if not first:
        return ""
    # clean_reason removed openers and markup from the start; take the sentences from the same text.
    lines = [_MARKER.sub("", line) for line in text.splitlines()]
    sentences = [s for s in (_sentence(s) for s in _finished(" ".join(lines))) if s][:MAX_SENTENCES]
    if not sentences:
        return first
    sentences[0] = clean_reason(sentences[0])
    return " ".join(_within(sentences, max_words, 1))


def _clean_points(text: str, max_words: int) -> str:
    """Two to four "- " points: one per marked line, else one per sentence."""
    lines = [line for line in text.splitlines() if line.strip()]
    marked = [line for line in lines if _MARKER.match(line)]
    if len(marked) >= 2:
        raw = [_MARKER.sub("", line) for line in marked]
    else:
        raw = _finished(" ".join(_MARKER.sub("", line) for line in lines))
    points = [p for p in (_sentence(r) for r in raw) if p][:MAX_POINTS]
    if not points:
        return ""
    return "\n".join(f"- {p}" for p in _within(points, max_words, 1))


def style_complete(style: str) -> Callable[[str], bool]:
    """When a generation in ``style`` has enough: one-line as :func:`reason_is_complete`; the others once
    they hold their most sentences or points (the token limit stops them otherwise)."""
    if style == "one-line":
        return reason_is_complete
    most = MAX_POINTS if style == "bullets" else MAX_SENTENCES

    def complete(text: str) -> bool:
        if style == "bullets" and sum(1 for line in text.splitlines() if _MARKER.match(line)) > most:
            return True
        sentences, tail = sentence_spans(text.strip() + " ")
        return not tail and len(sentences) >= most + (style == "bullets")

    return complete


def points(text: str) -> list[tuple[int, str]] | None:
    """The points of a bullets reason as (offset in ``text``, point text without its marker), or None when
    ``text`` is no list: not every non-blank line starts with "- " ("* " and "• " too)."""
    lines = [(m.start(), m.group()) for m in re.finditer(r"[^\n]+", text) if m.group().strip()]
    if not lines or not all(_BULLET.match(line) for _, line in lines):
        return None
    out = []
    for start, line in lines:
        marker = _BULLET.match(line)
        assert marker is not None
        out.append((start + marker.end(), line[marker.end() :].rstrip()))
    return out


def shape_problem(
    text: str, claims: list[Claim], request: ReasonRequest, style: str | None, is_points: bool
) -> tuple[VerdictError, str] | None:
    """How ``text`` misses the shape of ``style``, if it does (nothing when no style is given)."""
    if style == "bullets" and not is_points:
        return "length", 'is not 2 to 4 points on lines starting with "- "'
    if style == "short" and not 2 <= (n := len(split_sentences(text))) <= 3:
        return "length", f"has {n} sentence{'s' if n != 1 else ''}, not the 2 or 3 of a short reason"
    compared = any(c.kind == "attribute" and _COMPARED.match(c.evidence or "") for c in claims)
    if style == "compare" and request.history and not compared:
        return (
            "no_evidence",
            "compares nothing: names no trait it shares with, or that sets it apart from, a history item",
        )
    return None


_COMPARED = re.compile(r"the item and history: |the item, unlike |history: ")
"""Attribute-claim evidence that compares: a trait shared with a history item, one setting the item apart, or one
said of a history item ("Heat (1995) is Crime")."""
