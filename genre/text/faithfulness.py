"""Faithfulness checks: does a reason name its evidence, and only its evidence?

Longer than 420 lines because title matching (exact forms with and without articles and years, and
fuzzy whole-word windows) and the checks that use it share one index per catalog. The claim-level
verifier of the open trusted-reasons work replaces this module; it is not worth splitting first.

A reason is *faithful* when it

(a) names at least one piece of evidence: a history item the scorers cited, a category the item
    shares with the history, the item's brand, a figure from popularity or attribute evidence, an
    intent label, or (when profile evidence exists) the user's profile;
(b) names no catalog title other than the recommended item, the cited history items and any
    explicitly allowed titles; and
(c) does not contradict the user's intent or the item: no negated mention ("not", "no", "never",
    "without", any "n't" contraction, up to 3 words before) of the top intent label's key words or
    of the item's own categories.

Title matching (rules a and b) works on normalized word tokens (the title key of
:mod:`genre.data.profiles`, so case, punctuation and "Godfather, The" article order do not
matter) and matches whole-word phrases only, longest first. Each title yields several *forms*
(with and without the year, the article in front, at the back or dropped, alternate titles in
parentheses dropped). A form with the year ("Heat (1995)", "Godfather, The (1972)") always
matches. A year-less form is ordinary language as often as it is a title, so the rule depends on
what it may mean:

* naming the recommended item, an evidence item or an allowed title (never a problem): a form
  whose core (the title without its article) has at least 2 words ("fly away home"), or one
  word of at least 6 characters written with its article ("the godfather"), matches in any
  case; a one-word form matches when capitalized ("Because you liked Heat");
* flagging any other catalog title: only when the bare title has at least 2 words or at least
  6 characters, *and* it is written title-cased ("Love Affair", not "a love affair"), *and*, for
  a lone word without its article, not as the first word of a sentence (where every word is
  capitalized). So "Fly", "Heat" or "The Fly" alone never flag, and neither do "a true romance",
  "on a friday" or "Mother would approve".

Evidence titles that no exact form matches get a fuzzy second chance (rapidfuzz ratio ≥ 90
against word windows as long as the title, for titles of at least 8 characters), so small typos
still count as naming the evidence; fuzzy matches never flag hallucinations.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, cast

from rapidfuzz import fuzz, process

from genre.core.types import Catalog, Item, ReasonRequest
from genre.data.profiles import _ARTICLE, TitleIndex, _key

__all__ = ["FaithfulnessChecker", "FaithfulnessVerdict"]

# The same split as rapidfuzz's default_process (runs of letters and digits), with offsets kept
# so a token can be traced back to the original text (for capitalization and masking).
_WORD = re.compile(r"[^\W_]+")
# Words with inner apostrophes kept ("isn't", "children's"), and clause punctuation: the
# negation scan needs both, and a negation never reaches across a clause boundary.
_CLAUSE_TOKEN = re.compile(r"(?P<w>[^\W_]+(?:['’][^\W_]+)*)|(?P<b>[,.;:!?()])")
_YEAR_SUFFIX = re.compile(r"\s*\((?P<year>\d{4})\)\s*$")
_PARENTHETICAL = re.compile(r"\s*\([^)]*\)")
_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
_SENTENCE_END = frozenset(".!?\n")

# Only English articles are peeled off titles that were not written in the inverted
# "Rest, The" form: "Die Hard" must not become an article plus "Hard".
_ARTICLES = frozenset({"the", "a", "an"})

_MULTI, _LONG, _SHORT = 0, 1, 2
"""Shapes of a title's core: two or more words; one word of at least 6 characters; one short word."""

_MIN_BARE_CHARS = 6
_MIN_FUZZY_CHARS = 8
_FUZZY_CUTOFF = 90.0

_NEGATIONS = frozenset({"not", "no", "never", "without", "nor", "neither", "non"})
_NEGATION_WINDOW = 3
# Words after a cue that undo the negation: "not only a comedy", "no ordinary thriller".
_NOT_NEGATING_NEXT = frozenset({"only", "just", "merely", "simply", "ordinary", "mere", "typical", "less", "doubt"})
# Words a title-cased title may leave lowercase ("Sense and Sensibility").
_MINOR = frozenset(
    {"a", "an", "the", "and", "or", "nor", "but", "of", "in", "on", "at", "to", "for", "with", "by", "from", "as", "vs"}
)
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


@dataclass
class FaithfulnessVerdict:
    """The outcome of checking one reason against its evidence."""

    faithful: bool
    mentions: list[str] = field(default_factory=list)
    """Evidence titles and attributes the text names, in the order found."""
    hallucinated_titles: list[str] = field(default_factory=list)
    """Catalog titles the text names that are neither evidence, the recommended item nor allowed."""
    contradicts_intent: bool = False
    """True when the text negates the top intent label's key words or the item's own categories."""
    problems: list[str] = field(default_factory=list)
    """Human-readable reasons the text is not faithful (empty when it is)."""

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able dict, the shape ``RankedItem.faithfulness`` stores."""
        return asdict(self)


@dataclass
class _Form:
    """One normalized way of writing one or more catalog titles."""

    titles: list[int]
    anchored: bool
    """The form ends with the title's year, so it cannot be ordinary language."""
    shape: int
    """_MULTI, _LONG or _SHORT: the shape of the title's core."""
    with_article: bool
    """The form includes the title's article ("the godfather", "godfather the")."""
    article_first: bool
    """The form starts with its article, so the core starts at its second token."""


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int
    titles: tuple[int, ...]
    allowed: tuple[int, ...]


def _stem(token: str) -> str:
    """Crude plural/possessive folding so 'comedies' meets 'Comedy' and "children's" meets 'Children's'."""
    if token.endswith(("'s", "’s")):
        token = token[:-2]
    if len(token) > 4 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
        return token[:-1]
    return token


def _phrase(text: str) -> tuple[str, ...]:
    """Stemmed word tokens of a label, with lone possessive 's' dropped (as the text side does)."""
    return tuple(_stem(t) for t in (m.group().lower() for m in _WORD.finditer(text)) if t != "s")


def _clause_phrase(text: str) -> tuple[str, ...]:
    return tuple(_stem(m.group("w").lower().replace("’", "'")) for m in _CLAUSE_TOKEN.finditer(text) if m.group("w"))


def _shape(core: list[str]) -> int:
    if len(core) >= 2:
        return _MULTI
    return _LONG if len(core[0]) >= _MIN_BARE_CHARS else _SHORT


def _title_forms(title: str) -> Iterable[tuple[tuple[str, ...], _Form]]:
    """(tokens, form) for every way of writing one catalog title; each form lists no titles yet."""
    m_year = _YEAR_SUFFIX.search(title)
    year = m_year["year"] if m_year else None
    bare = title[: m_year.start()] if m_year else title
    # The display title, and the title without alternate names: "Seven (Se7en)" -> "Seven".
    for base in dict.fromkeys((bare.strip(), _PARENTHETICAL.sub("", bare).strip())):
        m_art = _ARTICLE.match(base)
        if m_art:
            article: str | None = m_art["art"].lower()
            core = _key(m_art["rest"]).split()
        else:
            tokens = _key(base).split()
            if len(tokens) > 1 and tokens[0] in _ARTICLES:
                article, core = tokens[0], tokens[1:]
            else:
                article, core = None, tokens
        if not core:
            continue
        shape = _shape(core)
        orders: list[tuple[list[str], bool, bool]] = [(core, False, False)]
        if article is not None:
            orders += [([article, *core], True, True), ([*core, article], True, False)]
        for tokens, with_article, article_first in orders:
            if year is not None:
                yield (*tokens, year), _Form([], True, shape, with_article, article_first)
            yield tuple(tokens), _Form([], False, shape, with_article, article_first)


def _number_phrases(label: str) -> list[tuple[str, ...]]:
    """Every figure in a label, as written ('1,234' -> 1 234) and without separators (1234)."""
    out: list[tuple[str, ...]] = []
    for m in _NUMBER.finditer(label):
        written = tuple(t.lower() for t in _WORD.findall(m.group()))
        out.append(written)
        plain = tuple(_WORD.findall(m.group().replace(",", "")))
        if plain != written:
            out.append(plain)
    return out


def _find(tokens: Sequence[str], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    if n == 0:
        return False
    first = phrase[0]
    return any(tokens[i] == first and tuple(tokens[i : i + n]) == phrase for i in range(len(tokens) - n + 1))


class FaithfulnessChecker:
    """Checks reasons against the evidence they may use; build once per catalog, reuse for every run."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._titles = TitleIndex(catalog)
        self._forms: dict[tuple[str, ...], _Form] = {}
        # First token -> form lengths, longest first: at each text position only a handful of
        # dict lookups are needed, whatever the catalog size.
        lengths: dict[str, set[int]] = {}
        for i, item in enumerate(catalog.items):
            for tokens, new in _title_forms(item.title):
                form = self._forms.setdefault(tokens, new)
                if form is new:
                    lengths.setdefault(tokens[0], set()).add(len(tokens))
                # The same words can name two titles (remakes): the first form's flags are kept,
                # which is safe because the flags follow from the words themselves.
                if i not in form.titles:
                    form.titles.append(i)
        self._lengths = {first: tuple(sorted(ls, reverse=True)) for first, ls in lengths.items()}
        self._category_phrases = {c: _phrase(c) for c in catalog.category_names()}
        self._exact_keys: dict[str, list[str]] = {}

    # ---- public API ----------------------------------------------------------------------

    def check(self, text: str, request: ReasonRequest, allowed_titles: Sequence[str] = ()) -> FaithfulnessVerdict:
        """The verdict on one reason ``text`` written for ``request``.

        ``allowed_titles`` are extra titles the text may name (e.g. titles the user typed) without
        counting as hallucinations; they do not count as evidence.
        """
        evidence, unresolved = self._evidence_titles(request)
        allowed = set(evidence) | self._allowed_indices(request.item, allowed_titles)
        words = list(_WORD.finditer(text))
        tokens = [m.group().lower() for m in words]
        hits = self._scan(text, words, tokens, allowed)

        mentions: list[str] = []
        hallucinated: list[str] = []
        named_evidence: set[int] = set()
        masked = [False] * len(tokens)
        for hit in hits:
            for i in range(len(tokens)):
                if hit.start <= words[i].start() < hit.end:
                    masked[i] = True
            if hit.allowed:
                for t in hit.allowed:
                    if t in evidence and t not in named_evidence:
                        named_evidence.add(t)
                        mentions.append(evidence[t])
            else:
                title = self.catalog.items[hit.titles[0]].title
                if title not in hallucinated:
                    hallucinated.append(title)
        pending = [evidence[i] for i in evidence if i not in named_evidence] + unresolved
        mentions += self._fuzzy_evidence(pending, tokens, masked)
        mentions += self._attribute_mentions(request, tokens, masked)

        title_spans = [(h.start, h.end) for h in hits]
        contradictions = self._contradictions(text, request, title_spans)

        problems: list[str] = []
        if not mentions:
            problems.append("names no evidence item or attribute")
        problems += [f"names a title not in the evidence: {t}" for t in hallucinated]
        problems += contradictions
        return FaithfulnessVerdict(
            faithful=not problems,
            mentions=mentions,
            hallucinated_titles=hallucinated,
            contradicts_intent=bool(contradictions),
            problems=problems,
        )

    # ---- evidence ------------------------------------------------------------------------

    def _resolve(self, item_id: str | None, title: str) -> int | None:
        idx = self.catalog.index_of(item_id) if item_id is not None else None
        return idx if idx is not None else self._titles.find(title)

    def _evidence_titles(self, request: ReasonRequest) -> tuple[dict[int, str], list[str]]:
        """Catalog index -> title of every history item the scorers cited, and cited titles not in the catalog."""
        by_id = {h.item_id: h for h in request.history}
        out: dict[int, str] = {}
        unresolved: list[str] = []
        for evs in request.evidence.values():
            for e in evs:
                if e.kind != "history_item":
                    continue
                known = by_id.get(e.item_id) if e.item_id is not None else None
                title = known.title if known is not None else e.label
                idx = self._resolve(e.item_id, title)
                if idx is None:
                    # Not a catalog item: it can still be named, found by the fuzzy pass.
                    if title not in unresolved:
                        unresolved.append(title)
                else:
                    out.setdefault(idx, self.catalog.items[idx].title)
        return out, unresolved

    def _allowed_indices(self, item: Item, allowed_titles: Sequence[str]) -> set[int]:
        out = {i for i in (self._resolve(item.item_id, item.title),) if i is not None}
        out |= {i for i in (self._titles.find(t) for t in allowed_titles) if i is not None}
        return out

    def _fuzzy_evidence(self, pending: list[str], tokens: list[str], masked: list[bool]) -> list[str]:
        """Evidence titles (``pending``: not matched by the scan) named with a small variation such as a typo."""
        if not pending:
            return []
        # Masked tokens belong to other titles: "Toy Story 2" must not count as naming "Toy Story".
        visible = [None if m else t for t, m in zip(tokens, masked, strict=True)]
        padded = " " + " ".join(t or "|" for t in visible) + " "
        windows: dict[int, list[str]] = {}
        found: list[str] = []
        for title in pending:
            keys = self._exact_keys.get(title)
            if keys is None:
                forms = list(_title_forms(title))
                keys = [" ".join(toks) for toks, form in forms if form.anchored or form.shape == _MULTI]
                # The fuzzy pass compares the core only: an article the text left out is no typo.
                shortest: tuple[str, ...] = min((toks for toks, f in forms if not f.with_article), key=len)
                keys.append(" ".join(shortest))
                self._exact_keys[title] = keys
            *exact, core = keys
            if any(f" {k} " in padded for k in exact):
                found.append(title)
                continue
            if len(core) < _MIN_FUZZY_CHARS:
                continue
            # Whole-word windows as long as the core, so a typo matches but a word inside a word does not.
            k = core.count(" ") + 1
            if k not in windows:
                windows[k] = [
                    " ".join(cast(list[str], w))
                    for j in range(len(visible) - k + 1)
                    if None not in (w := visible[j : j + k])
                ]
            if process.extractOne(core, windows[k], scorer=fuzz.ratio, score_cutoff=_FUZZY_CUTOFF):
                found.append(title)
        return found

    def _attribute_mentions(self, request: ReasonRequest, tokens: list[str], masked: list[bool]) -> list[str]:
        """Shared categories, brand, figures, intent labels and the profile that the text names."""
        # Placeholders keep positions, so a phrase cannot straddle a title.
        stems = ["\0" if m or t == "s" else _stem(t) for t, m in zip(tokens, masked, strict=True)]
        candidates: list[tuple[str, list[tuple[str, ...]]]] = []
        item = request.item
        history_categories = {c for h in request.history for c in h.categories}
        for c in sorted(set(item.categories) & history_categories):
            candidates.append((c, [_phrase(c)]))
        evs = [e for group in request.evidence.values() for e in group]
        for e in evs:
            if e.kind == "attribute":
                label_phrase = _phrase(e.label)
                for c, phrase in self._category_phrases.items():
                    if _find(label_phrase, phrase):
                        candidates.append((c, [phrase]))
                candidates.append((e.label, _number_phrases(e.label)))
            elif e.kind == "popularity":
                candidates.append((e.label, _number_phrases(e.label)))
            elif e.kind == "intent":
                label = e.label.split(":", 1)[-1].strip()
                candidates.append((label, [_phrase(label)]))
        brand = item.attributes.get("brand")
        if isinstance(brand, str) and brand.strip():
            candidates.append((brand, [_phrase(brand)]))
        candidates += [(lab.label, [_phrase(lab.label)]) for lab in request.intent.labels]
        if any(e.kind == "profile" for e in evs):
            candidates.append(("your profile", [("profile",), ("you", "described")]))

        found: list[str] = []
        for display, phrases in candidates:
            if display not in found and any(_find(stems, p) for p in phrases):
                found.append(display)
        return found

    # ---- titles --------------------------------------------------------------------------

    def _scan(self, text: str, words: list[re.Match[str]], tokens: list[str], allowed: set[int]) -> list[_Hit]:
        """Catalog titles named in the text: greedy, longest form first, left to right."""
        hits: list[_Hit] = []
        n = len(tokens)
        i = 0
        while i < n:
            hit = None
            for length in self._lengths.get(tokens[i], ()):
                if i + length > n:
                    continue
                form = self._forms.get(tuple(tokens[i : i + length]))
                if form is None:
                    continue
                ok = tuple(t for t in form.titles if t in allowed)
                if not form.anchored and not self._accepts(form, bool(ok), text, words[i : i + length], i, words):
                    continue
                hit = _Hit(words[i].start(), words[i + length - 1].end(), tuple(form.titles), ok)
                break
            if hit is None:
                i += 1
            else:
                hits.append(hit)
                i += length
        return hits

    @staticmethod
    def _accepts(
        form: _Form, allowed: bool, text: str, span: list[re.Match[str]], i: int, words: list[re.Match[str]]
    ) -> bool:
        """Whether a year-less form, written as ``span`` at word ``i``, names a title here (module docstring)."""
        core_first = span[1] if form.article_first and len(span) > 1 else span[0]
        if allowed:
            if form.shape == _MULTI or (form.shape == _LONG and form.with_article):
                return True
            return core_first.group()[:1].isupper()
        if form.shape == _SHORT:
            return False
        title_cased = all(
            w[:1].isupper() for w in (m.group() for m in span) if len(w) > 1 and w.isalpha() and w.lower() not in _MINOR
        )
        if not title_cased:
            return False
        if form.shape == _LONG and not form.with_article:
            # A lone capitalized word is no evidence of a title where every word is capitalized.
            if i == 0:
                return False
            gap = text[words[i - 1].end() : words[i].start()]
            return not any(ch in _SENTENCE_END for ch in gap)
        return True

    # ---- intent --------------------------------------------------------------------------

    def _contradictions(self, text: str, request: ReasonRequest, title_spans: list[tuple[int, int]]) -> list[str]:
        """Negated mentions of the top intent's key words or of the item's categories."""
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

        # Clauses of (stem, start, end); words inside a named title are neutral ("No Way Out").
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
            if any(s <= m.start() < e for s, e in title_spans):
                token = "\0"
            clauses[-1].append((_stem(token), m.start(), m.end()))

        problems: list[str] = []
        # One problem per intent or category, and one per negated phrase (intent first).
        reported: set[str] = set()
        reported_cues: set[int] = set()
        for clause in clauses:
            stems = [s for s, _, _ in clause]
            for phrase, what, truth in terms:
                n = len(phrase)
                for p in range(len(stems) - n + 1):
                    if tuple(stems[p : p + n]) != phrase:
                        continue
                    cue = self._negation_before(stems, p)
                    if cue is None:
                        continue
                    if truth not in reported and clause[cue][1] not in reported_cues:
                        reported.add(truth)
                        reported_cues.add(clause[cue][1])
                        problems.append(f"{what}: says '{text[clause[cue][1] : clause[p + n - 1][2]]}' {truth}")
                    break
        return problems

    @staticmethod
    def _negation_before(stems: list[str], p: int) -> int | None:
        """Index of a negation cue within the window before position ``p``, if any."""
        for q in range(p - 1, max(-1, p - 1 - _NEGATION_WINDOW), -1):
            cue = stems[q]
            if cue in _NEGATIONS or cue.endswith("n't"):
                if q + 1 < len(stems) and stems[q + 1] in _NOT_NEGATING_NEXT:
                    return None
                return q
        return None
