"""Contradictions: a reason that negates the user's top intent or the item's own categories.

A mention counts as negated when a cue ("not", "no", "never", "without", any "n't" contraction)
stands up to 3 words before it in the same clause; "not only", "no ordinary" and the like do not
negate, a clause ends at punctuation or a contrasting conjunction ("no gore but a comedy"), and
words inside a title ("No Way Out") are neutral.
"""

from __future__ import annotations

import re

from genre.core.types import ReasonRequest
from genre.text.lexicon import stem

__all__ = ["contradictions"]

_CLAUSE_TOKEN = re.compile(r"(?P<w>[^\W_]+(?:['’][^\W_]+)*)|(?P<b>[,.;:!?()])")
_NEGATIONS = frozenset({"not", "no", "never", "without", "nor", "neither", "non"})
_WINDOW = 3
# Words after a cue that undo the negation: "not only a comedy", "no ordinary thriller".
_NOT_NEGATING_NEXT = frozenset({"only", "just", "merely", "simply", "ordinary", "mere", "typical", "less", "doubt"})
# Conjunctions that start a new scope: in "no gore but a comedy" the "no" does not reach "comedy".
_SCOPE_BREAKS = frozenset({"but", "yet", "though", "although", "instead", "rather", "while"})
# Intent words too generic to carry the intent: "you won't feel bored" must not contradict
# "feel-good comedy"; the whole label and its hyphenated compounds are still checked.
_GENERIC = frozenset(
    {
        "and", "or", "the", "for", "with", "feel", "good", "great", "best", "film", "films", "movie",
        "movies", "story", "stories", "thing", "things", "stuff", "gear", "tools", "equipment", "item", "items",
    }
)  # fmt: skip


def _clause_phrase(text: str) -> tuple[str, ...]:
    return tuple(stem(m.group("w").lower().replace("’", "'")) for m in _CLAUSE_TOKEN.finditer(text) if m.group("w"))


def _negation_before(stems: list[str], p: int) -> int | None:
    """Index of a negation cue within the window before position ``p``, if any."""
    for q in range(p - 1, max(-1, p - 1 - _WINDOW), -1):
        cue = stems[q]
        if cue in _NEGATIONS or cue.endswith("n't"):
            if q + 1 < len(stems) and stems[q + 1] in _NOT_NEGATING_NEXT:
                return None
            return q
    return None


def contradictions(text: str, request: ReasonRequest, titles: list[tuple[int, int]]) -> list[tuple[str, int, int]]:
    """(problem, start, end) for each negated mention of the top intent's key words or the item's categories."""
    # (phrase, what it contradicts, what the truth is): the problem reads "<what>: says '<quote>' <truth>".
    terms: list[tuple[tuple[str, ...], str, str]] = []
    if request.intent.labels:
        top = max(request.intent.labels, key=lambda lab: lab.probability).label
        keys = {_clause_phrase(top)}
        keys |= {_clause_phrase(part) for part in re.findall(r"[^\W_]+(?:-[^\W_]+)+", top)}
        keys |= {(w,) for w in _clause_phrase(top) if len(w) >= 4 and w not in _GENERIC}
        truth = f"while the intent is {top}"
        terms += [(k, "contradicts the stated intent", truth) for k in sorted(keys, key=len, reverse=True) if k]
    for c in request.item.categories:
        if phrase := _clause_phrase(c):
            terms.append((phrase, "contradicts the item's categories", f"while the item is {c}"))
    if not terms:
        return []

    # Clauses of (stem, start, end); words inside a named title are neutral.
    clauses: list[list[tuple[str, int, int]]] = [[]]
    for m in _CLAUSE_TOKEN.finditer(text):
        word = m.group("w")
        if word is None:
            clauses.append([])
            continue
        token = word.lower().replace("’", "'")
        if token in _SCOPE_BREAKS:
            clauses.append([])
            continue
        if any(s <= m.start() < e for s, e in titles):
            token = "\0"
        clauses[-1].append((stem(token), m.start(), m.end()))

    out: list[tuple[str, int, int]] = []
    # One problem per intent or category, and one per negation cue (intent first).
    reported: set[str] = set()
    cues: set[int] = set()
    for clause in clauses:
        stems = [s for s, _, _ in clause]
        for phrase, what, truth in terms:
            n = len(phrase)
            for p in range(len(stems) - n + 1):
                if tuple(stems[p : p + n]) != phrase:
                    continue
                cue = _negation_before(stems, p)
                if cue is None:
                    continue
                start, end = clause[cue][1], clause[p + n - 1][2]
                if truth not in reported and start not in cues:
                    reported.add(truth)
                    cues.add(start)
                    out.append((f"{what}: says '{text[start:end]}' {truth}", start, end))
                break
    return out
