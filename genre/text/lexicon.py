"""What a catalog lets a reason talk about: its titles and its attribute words, indexed for the verifier.

* :class:`TitleMatcher` finds catalog titles by normalized key (case, punctuation and a leading
  article do not matter; a year matters only when one is written) and by fuzzy ratio.
* :class:`Vocabulary` holds the attribute words the catalog knows (categories, the parts of
  "A & B" categories, tags, the values of categorical attribute fields such as brand or region,
  plus configured aliases such as "animated" for Animation) and finds them in text as whole-word,
  plural-folded phrases. A single word the catalog's own text uses mostly as ordinary language
  ("down", "light") is left out: it would turn every ordinary use into a claim.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process, utils

from genre.core.types import Catalog, Item

__all__ = [
    "TitleKey",
    "TitleMatcher",
    "Vocabulary",
    "find_phrases",
    "normalize",
    "numbers_in",
    "phrase",
    "phrase_lengths",
    "split_year",
    "stem",
    "word_set",
    "words",
]


def word_set(*lines: str) -> frozenset[str]:
    """The words of some space-separated lines (for word lists written compactly)."""
    return frozenset(" ".join(lines).split())


WORD = re.compile(r"[^\W_]+")
_YEAR = re.compile(r"\s*\((\d{4})\)\s*$")
_ARTICLES = ("the ", "a ", "an ")
_NUMBER = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)")
# Single words that are attribute values somewhere but carry no claim on their own.
_FUNCTION_WORDS = word_set(
    "a an the and or of in on at to for with by from up down out off over under yes no not parts mixed",
    "other others all any some more most less new old one two light dark",
)
_ORDINARY_RATIO = 1.0
"""A one-word value is ordinary language when more items lacking it use it in their text than items carrying it."""


def stem(token: str) -> str:
    """Crude plural/possessive folding, so 'comedies' meets 'Comedy' and "children's" meets 'Children's'."""
    if token.endswith(("'s", "’s")):
        token = token[:-2]
    if len(token) > 4 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


def words(text: str) -> list[re.Match[str]]:
    """The word tokens of ``text`` (runs of letters and digits) with their offsets."""
    return list(WORD.finditer(text))


def phrase(text: str) -> tuple[str, ...]:
    """Lowercased, plural-folded word tokens; a lone possessive 's' is dropped."""
    return tuple(stem(t) for t in (m.group().lower() for m in WORD.finditer(text)) if t != "s")


def normalize(text: str) -> str:
    """Case- and punctuation-free key of a title or name ('Friend's Wedding' -> 'friend s wedding')."""
    return str(utils.default_process(text))


def split_year(title: str) -> tuple[str, str | None]:
    """('Heat', '1995') for 'Heat (1995)'; (title, None) when it ends in no year."""
    m = _YEAR.search(title)
    return (title[: m.start()], m.group(1)) if m else (title, None)


def _core(key: str) -> str:
    """A normalized key without its leading article."""
    for art in _ARTICLES:
        if key.startswith(art) and len(key) > len(art):
            return key[len(art) :]
    return key


_UNITS = {w: i for i, w in enumerate((
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
))}  # fmt: skip
_TENS = {
    w: 10 * i
    for i, w in enumerate(["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"])
    if i > 1
}
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
_NUMBER_WORDS = re.compile(
    r"\b(?:(?:{}|{}|{}|a|and|dozen)(?:[\s-]+|\b))+".format("|".join(_UNITS), "|".join(_TENS), "|".join(_SCALES)),
    re.IGNORECASE,
)


def _word_number(words: list[str]) -> float | None:
    """'twenty-three' -> 23, 'two hundred' -> 200, 'a dozen' -> 12; None when the words make no number."""
    total, current, seen = 0, 0, False
    for w in words:
        if w in _UNITS or w in _TENS:
            current += _UNITS.get(w, 0) + _TENS.get(w, 0)
            seen = True
        elif w == "dozen":
            current, seen = max(current, 1) * 12, True
        elif w in _SCALES:
            current, seen = max(current, 1) * _SCALES[w], True
            if _SCALES[w] >= 1_000:
                total, current = total + current, 0
    return float(total + current) if seen else None


def numbers_in(text: str) -> set[float]:
    """Every figure written in ``text``: '1,800' -> 1800, '4.6' -> 4.6, '2026-06-02' -> 2026, 6, 2,
    'Twenty-six' -> 26, '1.5 million' -> 1.5 and 1500000."""
    out = set()
    for m in _NUMBER.finditer(text):
        value = float(m.group(1).replace(",", ""))
        out.add(value)
        scale = re.match(r"\s+(hundred|thousand|million|billion)\b", text[m.end() :], re.IGNORECASE)
        if scale:
            out.add(value * _SCALES[scale.group(1).lower()])
    for m in _NUMBER_WORDS.finditer(text):
        spelled = _word_number(re.split(r"[\s-]+", m.group().lower().strip(" -")))
        if spelled is not None:
            out.add(spelled)
    return out


@dataclass(frozen=True)
class TitleKey:
    """A title as the matcher compares it: its core (article-free normalized words) and year."""

    core: str
    year: str | None

    @classmethod
    def of(cls, text: str) -> TitleKey:
        bare, year = split_year(text)
        return cls(_core(normalize(bare)), year)

    @property
    def folded(self) -> str:
        """The core with plurals folded: "hand blenders" reads as "hand blender"."""
        return " ".join(stem(w) for w in self.core.split())

    def same(self, other: TitleKey) -> bool:
        """The same title: equal cores (plurals folded), and equal years when both have one."""
        years = self.year is None or other.year is None or self.year == other.year
        return years and (self.core == other.core or self.folded == other.folded)

    def inside(self, other: TitleKey) -> bool:
        """This (year-less, 2+ word) key is a whole-word part of ``other``'s core ("Ridge 2P" in a tent's title)."""
        if self.year is not None or " " not in self.core:
            return False
        return f" {self.core} " in f" {other.core} " or f" {self.folded} " in f" {other.folded} "


class TitleMatcher:
    """Every catalog title by normalized key, for exact and fuzzy lookups."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.keys = [TitleKey.of(item.title) for item in catalog.items]
        self._by_core: dict[str, list[int]] = {}
        for i, key in enumerate(self.keys):
            self._by_core.setdefault(key.core, []).append(i)
        self._cores = list(self._by_core)
        self._by_year: dict[str, dict[str, list[int]]] = {}
        for i, key in enumerate(self.keys):
            if key.year is not None:
                self._by_year.setdefault(key.year, {}).setdefault(key.core, []).append(i)

    def exact(self, text: str) -> list[int]:
        """Catalog indices whose title is ``text`` (year checked when ``text`` has one)."""
        key = TitleKey.of(text)
        return [i for i in self._by_core.get(key.core, []) if key.same(self.keys[i])]

    def fuzzy(self, text: str, cutoff: float) -> int | None:
        """The catalog title closest to ``text`` by fuzzy ratio, if at least ``cutoff`` (0-100)."""
        key = TitleKey.of(text)
        if len(key.core) < 4:
            return None
        pool = list(self._by_year.get(key.year, {})) if key.year is not None else self._cores
        best = process.extractOne(key.core, pool, scorer=fuzz.ratio, score_cutoff=cutoff)
        if best is None:
            return None
        found = self._by_core[best[0]] if key.year is None else self._by_year[key.year][best[0]]
        return found[0]

    def ending_at(self, before: str, year: str) -> str | None:
        """The longest catalog title of ``year`` that ``before`` ends with (as written there), if any."""
        key = normalize(before)
        best: str | None = None
        for core in self._by_year.get(year, {}):
            for form in (core, *(art + core for art in _ARTICLES), *(core + " " + art.strip() for art in _ARTICLES)):
                if (key == form or key.endswith(" " + form)) and (best is None or len(form) > len(best)):
                    best = form
        return best


@dataclass
class Vocabulary:
    """The attribute words of one catalog, as plural-folded phrases mapped to the values they stand for."""

    values: dict[tuple[str, ...], set[str]] = field(default_factory=dict)
    """Phrase -> the catalog values (category, tag, attribute value) it names."""
    fields: tuple[str, ...] = ()
    """Attribute fields whose string values are attribute words."""
    strong: set[tuple[str, ...]] = field(default_factory=set)
    """Phrases that name a whole category or a field value (brand, region, ...), not only a tag or a part of
    an "A & B" category: those are often plain words ("the conservation agency", "a backpacking kitchen")."""
    _lengths: dict[str, tuple[int, ...]] = field(default_factory=dict)

    @classmethod
    def from_catalog(
        cls, catalog: Catalog, fields: Sequence[str], aliases: Mapping[str, Sequence[str]] | None = None
    ) -> Vocabulary:
        vocab = cls(fields=tuple(fields))
        for item in catalog.items:
            tags = set(item.tags)
            for value in vocab.item_values(item):
                strong = value not in tags
                vocab.add(value, value, strong)
                if " & " in value:
                    # "Kitchen" of "Kitchen & Dining" is as often a plain word ("a backpacking kitchen").
                    for part in value.split(" & "):
                        vocab.add(part, value, False)
        known = {v.lower(): v for vs in vocab.values.values() for v in vs}
        for value, alias_list in (aliases or {}).items():
            if value.lower() in known:
                for alias in alias_list:
                    vocab.add(alias, known[value.lower()], True)
        vocab._drop_ordinary(catalog)
        vocab._index()
        return vocab

    def item_values(self, item: Item) -> list[str]:
        """An item's attribute words: categories, tags and the string values of the vocabulary's fields."""
        out = [*item.categories, *item.tags]
        for name in self.fields:
            value = item.attributes.get(name)
            values = value if isinstance(value, list | tuple) else [value]
            out += [v for v in values if isinstance(v, str) and v.strip()]
        return out

    def item_phrases(self, item: Item) -> set[tuple[str, ...]]:
        """Every phrase that names one of ``item``'s attribute words (aliases included)."""
        mine = {v.lower() for v in self.item_values(item)}
        return {p for p, vs in self.values.items() if any(v.lower() in mine for v in vs)}

    def add(self, text: str, value: str, strong: bool) -> None:
        key = phrase(text)
        if key:
            self.values.setdefault(key, set()).add(value)
            if strong:
                self.strong.add(key)

    def _drop_ordinary(self, catalog: Catalog) -> None:
        """Leave out one-word phrases that are function words or mostly ordinary language in the catalog's text."""
        singles: set[tuple[str, ...]] = {p for p in self.values if len(p) == 1}
        carrying = dict.fromkeys(singles, 0)
        using = dict.fromkeys(singles, 0)
        for item in catalog.items:
            own = self.item_phrases(item) & singles
            text = {t for t in phrase(f"{item.title} {item.description}") if (t,) in singles}
            for p in own:
                carrying[p] += 1
            for t in text:
                if (t,) not in own:
                    using[(t,)] += 1
        for p in singles:
            if p[0] in _FUNCTION_WORDS or p[0].isdigit() or using[p] > _ORDINARY_RATIO * max(carrying[p], 1):
                del self.values[p]
                self.strong.discard(p)

    def _index(self) -> None:
        self._lengths = phrase_lengths(self.values)

    def find(self, text: str, masked: Iterable[tuple[int, int]] = ()) -> list[tuple[int, int, tuple[str, ...]]]:
        """(start, end, phrase) of every vocabulary phrase in ``text``, longest first, outside ``masked`` spans."""
        return find_phrases(text, self._lengths, self.values, masked)


def phrase_lengths(phrases: Iterable[tuple[str, ...]]) -> dict[str, tuple[int, ...]]:
    """First word -> the lengths of the phrases starting with it, longest first (what :func:`find_phrases` reads)."""
    lengths: dict[str, set[int]] = {}
    for p in phrases:
        if p:
            lengths.setdefault(p[0], set()).add(len(p))
    return {first: tuple(sorted(ls, reverse=True)) for first, ls in lengths.items()}


def find_phrases(
    text: str,
    lengths: Mapping[str, tuple[int, ...]],
    phrases: Container[tuple[str, ...]],
    masked: Iterable[tuple[int, int]] = (),
) -> list[tuple[int, int, tuple[str, ...]]]:
    """(start, end, phrase) of each of ``phrases`` in ``text``: whole words, plural-folded, longest first,
    left to right, never inside a ``masked`` span."""
    blocked = list(masked)
    toks = [m for m in words(text) if m.group().lower() != "s" and not any(s <= m.start() < e for s, e in blocked)]
    stems = [stem(m.group().lower()) for m in toks]
    out: list[tuple[int, int, tuple[str, ...]]] = []
    i = 0
    while i < len(toks):
        for n in lengths.get(stems[i], ()):
            key = tuple(stems[i : i + n])
            # A phrase may not straddle a masked span or punctuation: its words must be adjacent in the text.
            if len(key) == n and key in phrases and _adjacent(text, toks[i : i + n]):
                end = toks[i + n - 1].end()
                end += 2 if text[end : end + 2] in ("'s", "’s") else 0
                out.append((toks[i].start(), end, key))
                i += n
                break
        else:
            i += 1
    return out


def _adjacent(text: str, toks: list[re.Match[str]]) -> bool:
    """Whether consecutive tokens are separated only by spaces, hyphens, '&' or an apostrophe."""
    return all(re.fullmatch(r"[\s\-&'’/]*", text[a.end() : b.start()]) for a, b in itertools.pairwise(toks))
