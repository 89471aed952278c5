"""Split a reason into the claims a verifier can check, each with its kind and character span.

* **title**: words before a year in parentheses ("Critical Care (1997)": the longest catalog
  title of that year the text ends with, else the capitalized run before it); quoted text that
  starts with a capital; capitalized multi-word names ("Port Alder", "Ridge 2P"), where the first
  word of a sentence counts only when the whole name is known, and a run that is no known name is
  split at its lowercase joining words, so a list such as "Critical Care and Lethal Naturals"
  gives two names while "Sense and Sensibility" stays one title; a lone capitalized word only when
  it is a known name (the caller decides).
* **target**: a title said to be the recommendation ("you may enjoy X", "X is a great pick").
  A title after a history cue ("because you liked X") is marked so the verifier can catch a
  reason that claims the user already liked the recommended item.
* **attribute**: an attribute word of the catalog's :class:`~genre.text.lexicon.Vocabulary`, an
  intent label, or a mention of the user's profile.
* **number**: integers, decimals, money and percentages, with the unit written after them.

Titles are found first; attributes and numbers are only looked for outside them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from genre.text.lexicon import (
    TitleMatcher,
    Vocabulary,
    find_phrases,
    normalize,
    phrase,
    phrase_lengths,
    split_year,
    word_set,
    words,
)

__all__ = ["PROFILE", "UNKNOWN", "Span", "split_claims"]

PROFILE = ("<profile>",)
"""The phrase of an attribute span that mentions the user's own profile ("what you described")."""
UNKNOWN = "<unknown>"
"""First word of the phrase of an attribute span the catalog does not know ("like them it is Movies")."""

Known = Callable[[str, bool, bool], bool]
"""``known(text, single_word, sentence_start)``: whether capitalized words name a title or name the caller knows."""

_YEAR_PAREN = re.compile(r"\((\d{4})\)")
_YEAR_AFTER = re.compile(r"\s*\(\d{4}\)")
_QUOTED = re.compile(r"\"([^\"\n]{2,120})\"|“([^”\n]{2,120})”|(?<!\w)'([^'\n]{2,120})'(?!\w)|‘([^’\n]{2,120})’")
_TOKEN = re.compile(r"\S+")
_LEADING = "(\"'“‘«[-"
_TRAILING = ",;:.!?)\"'”’»]"
_MINOR = word_set(
    "a an the and or nor but of in on at to for with by from as vs vs. de la le les du des del di da von",
    "van il el y et und &",
)
_CONTRAST_LEADS = word_set("unlike like where while whereas both")
"""Words that open a comparison sentence before a title ("Unlike Fargo (1996), it is a comedy")."""
_ABBREVIATION = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]?\.?|(?:Mr|Mrs|Ms|Dr|St|Jr|Sr|Vol|Mt|Ft|No)\.", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?![.,]\d)")
_UNIT = re.compile(
    r"\s?(?:%|°\s?[CF]?|percent\b|per cent\b)|-?[A-Za-z]+(?:-[A-Za-z]+)*"
    r"|\s(?!(?:and|or|to|of|in|on|at|for|with|the|a|an|is|are|was|were|from|by|as|than|that|which|who)\b)"
    r"[a-z]+(?:-[a-z]+)*"
)
_PROFILE = re.compile(r"\byour (?:own )?profile\b|\byou (?:described|wrote|said|mentioned|told us)\b", re.IGNORECASE)
_TARGET_BEFORE = re.compile(
    r"(?:\byou(?:'ll|’ll| will| may| might| would| should| could| can)\s+(?:also\s+|surely\s+|probably\s+|really\s+)?"
    r"(?:enjoy|love|like|appreciate|want)|\brecommend(?:s|ed|ing)?|\bsuggest(?:s|ed|ing)?|\bcheck out|\btry)"
    r"\s+(?:the\s+|this\s+)?(?:(?:movie|film|book|article|story|piece|product|item)\s+)?[\"“'‘]?$",
    re.IGNORECASE,
)
_TARGET_AFTER = re.compile(
    r"^[\"”'’]?,?\s+(?:is|would be|could be|should be|makes)\s+(?:a|an|the|your)\s+(?:[\w-]+\s+){0,2}?"
    r"(?:pick|choice|fit|match|recommendation|option|bet|next)\b",
    re.IGNORECASE,
)
_LIST_GAP = re.compile(
    r"[\"”'’]?\s*(?:,\s*|\s+and\s+|,\s*and\s+)(?:the\s+)?(?:(?:movie|film|book|article|product)\s+)?[\"“'‘]?",
    re.IGNORECASE,
)
_IS_BEFORE = re.compile(
    r"\b(?:it|this|they)\s+(?:is|are|'s|’s)\s+(?:(?:a|an|also|from)\s+)?"
    r"(?:[A-Z][\w'’&-]*(?:\s*,\s*|\s+and\s+|\s+or\s+|\s+&\s+))*$"
)
_LIKED_LIST = re.compile(r"\b(?:you|the user) (?:liked|enjoyed|loved|watched|read)\b[^.;:,]*\s(?:and|&)\s+$", re.I)
_HISTORY_BEFORE = re.compile(
    r"(?:\b(?:you|the user)(?:'ve|’ve| have)?\s+(?:already\s+)?"
    r"(?:liked|enjoyed|loved|watched|rated|read|bought|saw|chose)"
    r"|\bfans? of|\byour (?:love|liking|taste) (?:of|for)|\bafter (?:reading|watching))"
    r"[:\s]+(?:(?:the|this)\s+(?:movie|film|book|article|story|piece|product)\s+)?[\"“'‘]?$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Span:
    """One claim as found in the text, before it is checked."""

    kind: Literal["title", "number", "attribute", "target"]
    start: int
    end: int
    text: str
    phrase: tuple[str, ...] = ()
    """An attribute's plural-folded words (:data:`PROFILE` for a profile mention)."""
    value: float | None = None
    """A number's value."""
    anchored: bool = False
    """A title written with a year or in quotes: it cannot be ordinary language."""
    history_cue: bool = False
    """A title after a history cue: the text says the user already liked it."""


@dataclass(frozen=True)
class _Tok:
    start: int
    end: int
    core: str
    trail: str
    """Punctuation right after the word."""
    breaks_after: bool
    """The token ends a clause or sentence (a comma, a full stop that is no abbreviation, ...)."""
    ends_sentence: bool
    opens: bool
    """The token opens a parenthesis or quote: a run cannot continue into it."""

    @property
    def capital(self) -> bool:
        return bool(self.core) and (self.core[0].isupper() or self.core[0].isdigit())

    @property
    def minor(self) -> bool:
        return self.core.lower() in _MINOR

    @property
    def figure(self) -> bool:
        """A bare number ("40", "1,800"), unlike a model name such as "2P" or "12L"."""
        return bool(re.fullmatch(r"[\d.,]+", self.core))


def _tokens(text: str) -> list[_Tok]:
    out = []
    for m in _TOKEN.finditer(text):
        raw = m.group()
        lead = len(raw) - len(raw.lstrip(_LEADING))
        core = raw[lead:].rstrip(_TRAILING)
        trail = raw[lead + len(core) :]
        if _ABBREVIATION.fullmatch(core + trail[:1]) and trail.startswith("."):
            core, trail = core + ".", trail[1:]
        # A possessive ends a name ("Chile's W circuit"): the name is the word without its "'s".
        possessive = core.endswith(("'s", "’s")) and len(core) > 2
        if possessive:
            core, trail = core[:-2], core[-2:] + trail
        start = m.start() + lead
        breaks = possessive or bool(re.search(r"[,;.!?)\"”»]", trail))
        out.append(_Tok(start, start + len(core), core, trail, breaks, bool(re.search(r"[.!?]", trail)), lead > 0))
    return out


def _overlaps(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return any(start < e and s < end for s, e in spans)


def _named_titles(text: str, named: Sequence[str]) -> list[Span]:
    """``named`` titles (2+ words, with or without article and year) wherever the text writes them, in any case."""
    toks = words(text)
    low = [m.group().lower() for m in toks]
    found: list[Span] = []
    for title in named:
        bare, _ = split_year(title)
        key = tuple(normalize(bare).split())
        for form in {key, key[1:] if key[:1] in (("the",), ("a",), ("an",)) else key}:
            n = len(form)
            for i in range(len(low) - n + 1) if n >= 2 else ():
                if tuple(low[i : i + n]) == form:
                    start, end = toks[i].start(), toks[i + n - 1].end()
                    end = _closing_paren(text, start, end)
                    year = _YEAR_AFTER.match(text, end)
                    end = year.end() if year else end
                    found.append(Span("title", start, end, text[start:end], anchored=year is not None))
    out: list[Span] = []
    for span in sorted(found, key=lambda s: s.start - s.end):
        if not _overlaps(span.start, span.end, [(s.start, s.end) for s in out]):
            out.append(span)
    return out


def _year_titles(text: str, titles: TitleMatcher, taken: list[tuple[int, int]]) -> list[Span]:
    """Titles written with a year: the catalog title the text ends with there, else the capitalized run before it."""
    out = []
    toks = _tokens(text)
    for m in _YEAR_PAREN.finditer(text):
        if _overlaps(m.start(), m.end(), taken):
            continue
        before = text[max(0, m.start() - 200) : m.start()].rstrip()
        offset = m.start() - 200 if m.start() > 200 else 0
        form = titles.ending_at(before, m.group(1))
        if form is not None:
            n = len(form.split())
            word_starts = [w.start() for w in re.finditer(r"[^\W_]+", before)]
            start = offset + word_starts[-n]
        else:
            run = [t for t in toks if t.end <= m.start()]
            kept: list[_Tok] = []
            for t in reversed(run):
                # A title may end in "?" or "!" ("Shall We Dance? (1996)"); any other break ends the run.
                if t.breaks_after and (kept or t.trail.strip() not in ("?", "!")):
                    break
                if not (t.capital or t.minor):
                    break
                kept.insert(0, t)
                if t.opens:
                    break
            while kept and kept[0].minor and not kept[0].capital:
                kept.pop(0)
            if not kept:
                continue
            start = kept[0].start
        out.append(Span("title", start, m.end(), text[start : m.end()], anchored=True))
    return out


def _quoted_titles(text: str, taken: list[tuple[int, int]]) -> list[Span]:
    out = []
    for m in _QUOTED.finditer(text):
        group = next(g for g in range(1, 5) if m.group(g) is not None)
        start, end = m.span(group)
        inner = m.group(group).strip()
        if inner[:1].isupper() and not _overlaps(start, end, taken):
            out.append(Span("title", start, end, text[start:end], anchored=True))
    return out


def _runs(text: str, taken: list[tuple[int, int]]) -> list[tuple[list[_Tok], bool]]:
    """Runs of capitalized words (minor words allowed inside), each with whether it starts a sentence."""
    runs: list[tuple[list[_Tok], bool]] = []
    current: list[_Tok] = []
    sentence_start = True
    first = True
    for t in _tokens(text):
        if current and t.opens:
            runs.append((current, first))
            current = []
        free = not _overlaps(t.start, t.end, taken) and t.core
        if free and (t.capital or (t.minor and current)):
            if not current:
                first = sentence_start
            current.append(t)
        elif current:
            runs.append((current, first))
            current = []
        if current and t.breaks_after:
            runs.append((current, first))
            current = []
        sentence_start = t.ends_sentence
    if current:
        runs.append((current, first))
    return runs


def _closing_paren(text: str, start: int, end: int) -> int:
    """``end``, past the ")" that closes a parenthesis the span opened ("Soft Flask (2-Pack)"), so the
    highlighted title is the whole title."""
    inside = text[start:end]
    if inside.count("(") > inside.count(")") and text[end : end + 1] == ")":
        return end + 1
    return end


def _name_spans(text: str, run: list[_Tok], at_start: bool, vocab: Vocabulary, known: Known) -> list[Span]:
    """The title-like spans of one capitalized run (module docstring)."""
    while run and run[-1].minor:
        run = run[:-1]
    while run and run[0].minor and not run[0].capital:
        run = run[1:]
    if not run:
        return []
    whole = text[run[0].start : run[-1].end]
    # Words that name things, not counting capitalized articles and prepositions ("The", "Of"), nor figures.
    capitals = sum(t.capital and not t.minor and not t.figure for t in run)
    if not any(t.core[:1].isupper() and not t.minor for t in run):
        return []  # a name has a word in capitals: "600-megawatt" alone is a figure
    if at_start and len(run) == 1 and run[0].core.lower() in _CONTRAST_LEADS:
        # "Where <title> is ...": a comparison word before a title found by its full text is no title itself.
        return []
    rest = text[run[1].start : run[-1].end] if len(run) > 1 else ""
    if at_start and run[0].core.lower() in _CONTRAST_LEADS and rest and known(rest, capitals <= 2, False):
        # "Unlike Fargo (1996), ...": the comparison word opens the sentence and is no part of the title.
        return _name_spans(text, run[1:], False, vocab, known)
    if at_start and not known(whole, capitals <= 1, True):
        return _name_spans(text, run[1:], False, vocab, known)
    if phrase(whole) in vocab.values:
        return []
    if known(whole, capitals <= 1, at_start):
        end = _closing_paren(text, run[0].start, run[-1].end)
        return [Span("title", run[0].start, end, text[run[0].start : end])]
    if len(run) == 1:
        before = text[max(0, run[0].start - 120) : run[0].start]
        # "like them it is Movies", "it is Home and Past": a capitalized word said to be what the item is.
        if _IS_BEFORE.search(before):
            return [Span("attribute", run[0].start, run[0].end, whole, phrase=(UNKNOWN, *phrase(whole)))]
        # "Because you liked Bean (1997) and TSA": a word in the list of what the user liked is a title.
        if _LIKED_LIST.search(before):
            return [Span("title", run[0].start, run[0].end, whole)]
        return []
    # A leading measure is no part of a name ("55-liter Northwind", "4K Lumacraft"); a trailing one may be
    # ("Ridge 2P", "Limex 2-Pack"), unless it is a bare number.
    if run[0].core[:1].isdigit():
        return _name_spans(text, run[1:], False, vocab, known)
    if run[-1].figure:
        return _name_spans(text, run[:-1], False, vocab, known)
    # An unknown run is split at its lowercase joining words: "Critical Care and Lethal Naturals",
    # "Portugal to Senegal" and "Turkey Red for 40" are names side by side, not one title.
    parts: list[list[_Tok]] = [[]]
    for t in run:
        if t.minor and not t.capital:
            parts.append([])
        else:
            parts[-1].append(t)
    if len(parts) > 1:
        return [s for part in parts if part for s in _name_spans(text, part, False, vocab, known)]
    if capitals < 2:
        return []
    return [Span("title", run[0].start, run[-1].end, whole)]


def _numbers(text: str, taken: list[tuple[int, int]]) -> list[Span]:
    out = []
    for m in _NUMBER.finditer(text):
        if _overlaps(m.start(), m.end(), taken):
            continue
        start, end = m.span()
        if start > 0 and text[start - 1] in "$€£":
            start -= 1
        unit = _UNIT.match(text, end)
        if unit is not None:
            end = unit.end()
        out.append(Span("number", start, end, text[start:end], value=float(m.group(1).replace(",", ""))))
    return out


def split_claims(
    text: str,
    titles: TitleMatcher,
    vocab: Vocabulary,
    known: Known,
    extra_phrases: Mapping[tuple[str, ...], str] | None = None,
    named: Sequence[str] = (),
) -> list[Span]:
    """Every claim in ``text``, in text order (a target also appears as its title).

    ``known`` decides which capitalized words name something (module docstring);
    ``extra_phrases`` are more attribute phrases for this text only (the request's intent labels),
    found before the vocabulary's; ``named`` are titles (the item's, the evidence's) to find in any case.
    """
    spans = _named_titles(text, named)
    spans += _year_titles(text, titles, [(s.start, s.end) for s in spans])
    spans += _quoted_titles(text, [(s.start, s.end) for s in spans])
    letters = [c for c in text if c.isalpha()]
    # In text written in capitals every word is capitalized: names are read only where case tells them apart.
    if sum(c.isupper() for c in letters) <= 0.6 * len(letters):
        for run, at_start in _runs(text, [(s.start, s.end) for s in spans]):
            spans += _name_spans(text, run, at_start, vocab, known)
    out: list[Span] = []
    listed: Span | None = None
    targeted = False
    for s in sorted(spans, key=lambda s: s.start):
        before, after = text[max(0, s.start - 80) : s.start], text[s.end : s.end + 80]
        # A cue reaches every title of its list: "you liked A, B and C", "you may enjoy A and the movie B".
        in_list = listed is not None and bool(_LIST_GAP.fullmatch(text[listed.end : s.start]))
        s = replace(s, history_cue=bool(_HISTORY_BEFORE.search(before) or (in_list and listed and listed.history_cue)))
        out.append(s)
        targeted = bool(_TARGET_BEFORE.search(before) or _TARGET_AFTER.match(after) or (in_list and targeted))
        if targeted:
            out.append(replace(s, kind="target"))
        listed = s
    taken = [(s.start, s.end) for s in out]
    if extra_phrases:
        found = find_phrases(text, phrase_lengths(extra_phrases), extra_phrases, taken)
        out += [Span("attribute", s, e, text[s:e], phrase=p) for s, e, p in found]
        taken += [(s, e) for s, e, _ in found]
    for m in _PROFILE.finditer(text):
        if not _overlaps(m.start(), m.end(), taken):
            out.append(Span("attribute", m.start(), m.end(), m.group(), phrase=PROFILE))
            taken.append(m.span())
    found = vocab.find(text, taken)
    out += [Span("attribute", s, e, text[s:e], phrase=p) for s, e, p in found]
    taken += [(s, e) for s, e, _ in found]
    out += _numbers(text, taken)
    return sorted(out, key=lambda s: (s.start, s.kind != "title"))
