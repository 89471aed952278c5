"""Form checks on a reason, whatever it claims: empty, an unfilled slot, markup, another language,
a length outside bounds, a repeated word 3-gram (or a word written twice in a row), an unfinished sentence.

Each check returns ``(error type, readable problem)`` pairs; :mod:`genre.text.verifier` adds them to
the verdict. Title spans are passed in as ``masked`` so a title's own words never count as a
repetition or as another language ("La Cérémonie", a title named twice).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections import Counter

from genre.core.verdict import VerdictError
from genre.text.lexicon import word_set

__all__ = ["form_problems"]

_SLOT = re.compile(r"\{[^{}\n]{0,40}\}")
# The prompt's own line labels written back ("The user liked: ..."), or its voice ("what the user chose"):
# a reason speaks to "you".
_PROMPT_ECHO = re.compile(
    r"\b(?:the user liked|recommended item|shared categories|user's current interests?|main reason it ranked high"
    r"|task)\s*:|\bthe user\b|\ba user'?s?\b|\bthe item'?s?\b|\branked high\b|\brecommended items\b",
    re.IGNORECASE,
)
_HTML = re.compile(r"<\s*/?\s*[a-zA-Z][\w-]*(?:\s[^<>]*)?>|&(?:[a-z]+|#\d+);")
_MARKDOWN = re.compile(r"\*\*|__|`|~~|\[[^\]\n]+\]\([^)\n]*\)|(?:^|\n)\s*(?:#{1,6}\s|[-*+•]\s|\d+[.)]\s)")
_BECAUSE = re.compile(r"(?:because|since) ", re.IGNORECASE)
# What a sentence after the 'because' clause starts with ("Because you liked X you may enjoy Y." has no comma).
_MAIN_CLAUSE = re.compile(
    r"\byou(?:'ll|’ll| will| may| might| could| should| can| would)\b|\b(?:it|this)(?: one)? (?:is|has|fits|shares)\b"
    r"|\b(?:it's|it’s)\b",
    re.IGNORECASE,
)
# A part that only goes on listing what the user liked: "and you love Y", "and Study of 1".
_AND_YOU = re.compile(r"\s*(?i:and|or)\s+(?:(?i:you|the user|because|since)\b|I\b|¤|[A-Z])")
_END = re.compile(r"[.!?…][\"'”’)\]]*\s*$")
_WORD = re.compile(r"\d+(?:[.,]\d+)*|[^\W_]+(?:['’][^\W_]+)*")
_DANGLING = word_set(
    "a an the of and or nor to with for in on at by from as but which who whose its their his her my",
    "your our than is are was were be been very if because when while into onto about over under between",
    "such",
)
_ENGLISH = word_set(
    "the a an and or of to in on for with is are was it this that you your as by from be at like its",
    "they them their have has will may can more also if because",
)
_OTHER = word_set(
    "de la el los las le les des du et est une un und der die das ist nicht mit für y que por para con",
    "del il che di è non per het een van niet ook zu ein eine es lo al se au aux dans pour sur avec pas",
    "muy también você não uma",
)


def _in(pos: int, masked: list[tuple[int, int]]) -> bool:
    return any(s <= pos < e for s, e in masked)


def _language(text: str, masked: list[tuple[int, int]]) -> str | None:
    """Why ``text`` does not read as English, or None: mostly non-Latin letters, or more function words of
    other European languages than of English."""
    letters = [c for i, c in enumerate(text) if c.isalpha() and not _in(i, masked)]
    if letters:
        latin = sum(c.isascii() or unicodedata.name(c, "").startswith("LATIN") for c in letters)
        if latin / len(letters) < 0.7:
            return "is not in English (mostly non-Latin script)"
    words = [m.group().lower() for m in _WORD.finditer(text) if not _in(m.start(), masked)]
    english = sum(w in _ENGLISH for w in words)
    other = sum(w in _OTHER for w in words)
    if len(words) >= 6 and other >= 2 and other > english:
        return "is not in English"
    return None


_PRONOUNS = frozenset({"it", "this", "they", "you", "we", "he", "she", "i", "there", "that"})


def _repetition(text: str, masked: list[tuple[int, int]]) -> str | None:
    """The first repeated word 3-gram (or doubled word), titles counted as one unique word each."""
    tokens: list[str] = []
    end = 0
    for n, m in enumerate(_WORD.finditer(text)):
        if not _in(m.start(), masked) and re.search(r"[.!?;:]", text[end : m.start()]):
            # A sentence end between two words: "…with it. It is popular" repeats nothing.
            tokens.append(f"\1{n}")
        end = m.end()
        if _in(m.start(), masked):
            # Each title occurrence is its own token: naming a title twice is not a repeated phrase.
            tokens.append(f"\0{n}")
        else:
            tokens.append(m.group().lower())
    collapsed = [t for i, t in enumerate(tokens) if not (t.startswith("\0") and i and tokens[i - 1].startswith("\0"))]
    for a, b in itertools.pairwise(collapsed):
        # "had had" and "that that" can be grammatical; any other doubled word is a slip.
        if a == b and not a.startswith(("\0", "\1")) and a not in ("had", "that"):
            return f"writes '{a}' twice in a row"
    for a, join, b in zip(collapsed, collapsed[1:], collapsed[2:], strict=False):
        # "rated it, and it shares": a pronoun on both sides of "and" starts a new clause, it is no slip.
        if a == b and join in ("and", "or") and not a.startswith("\0") and a not in _PRONOUNS:
            return f"writes '{a} {join} {b}'"
    grams = Counter(tuple(collapsed[i : i + 3]) for i in range(len(collapsed) - 2))
    for gram, count in grams.items():
        if count > 1 and not any(t.startswith(("\0", "\1")) for t in gram):
            return f"repeats '{' '.join(gram)}' {count} times"
    return None


def _is_fragment(text: str, masked: list[tuple[int, int]]) -> bool:
    """A 'because' clause and nothing more: "Because you liked X." or "Because you liked X, and you love Y."
    (commas inside titles do not count)."""
    if not _BECAUSE.match(text):
        return False
    plain = "".join("¤" if _in(i, masked) else c for i, c in enumerate(text))
    if _MAIN_CLAUSE.search(plain):
        return False
    rest = re.split(r"[,;:–—]", plain)[1:]
    return all(_AND_YOU.match(part) for part in rest)


def _unfinished(text: str, masked: list[tuple[int, int]]) -> str | None:
    if not _END.search(text.strip()):
        return "does not end with a finished sentence"
    if _is_fragment(text, masked):
        return "is only a 'because' clause, with no sentence after it"
    if text.count("(") > text.count(")"):
        return "leaves a parenthesis open"
    words = list(_WORD.finditer(text))
    # A title may end on any word ("... Foam Roller 18in").
    if words and words[-1].group().lower() in _DANGLING and not _in(words[-1].start(), masked):
        return f"ends on '{words[-1].group()}', mid-sentence"
    return None


def form_problems(
    text: str, *, min_words: int, max_words: int, masked: list[tuple[int, int]]
) -> list[tuple[VerdictError, str]]:
    """Every form problem of ``text``; an empty text has only that one."""
    if not re.search(r"[^\W_]", text):
        return [("empty", "the reason is empty")]
    out: list[tuple[VerdictError, str]] = []
    if slot := _SLOT.search(text):
        out.append(("slot", f"leaves the slot {slot.group()} unfilled"))
    if markup := (_HTML.search(text) or _MARKDOWN.search(text)):
        out.append(("markup", f"contains markup: {markup.group().strip()!r}"))
    elif echo := _PROMPT_ECHO.search(text):
        out.append(("markup", f"echoes the prompt: {echo.group()!r}"))
    if language := _language(text, masked):
        out.append(("language", language))
    n = len(text.split())
    if n < min_words:
        out.append(("length", f"has {n} words, fewer than {min_words}"))
    elif n > max_words:
        out.append(("length", f"has {n} words, more than {max_words}"))
    if repeated := _repetition(text, masked):
        out.append(("repetition", repeated))
    if unfinished := _unfinished(text, masked):
        out.append(("unfinished", unfinished))
    return out
