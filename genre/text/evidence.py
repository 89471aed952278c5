"""The evidence one reason is checked against, and what its wording says a claim is about.

:class:`ReasonEvidence` gathers a request's evidence once per verified text: the item, the history,
the history items the scorers cited (and, while titles are checked, those the text names), the
intent labels and summary, and the scorers' evidence labels. :func:`said_shared` and
:func:`said_of_item` read the cues around an attribute word: "like them it is Sci-Fi" says the
item and the history share it; "this heartwarming Drama" says it of the item.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from genre.core.types import Catalog, Item, ReasonRequest
from genre.text.lexicon import phrase, word_set

__all__ = ["VACUOUS", "ReasonEvidence", "bounds", "described_targets", "item_text", "said_of_item", "said_shared"]

_SHARED_BEFORE = re.compile(
    r"\b(?:like|as with|as for|as in) (?:them|those|these|both)\b|\bshar(?:e|es|ing)\b"
    r"|\b(?:another|same)\s+(?:[\w'-]+\s+){0,2}$",
    re.IGNORECASE,
)
_SHARED_AFTER = re.compile(r",?\s+(?:too|as well)\b", re.IGNORECASE)
_LIST_JOIN = re.compile(r"\s*(?:,\s*)?(?:(?:and|or|&)\s+)?", re.IGNORECASE)
_LIKE_TITLE_AFTER = re.compile(r"\s+(?:just\s+)?like\s+(?:the\s+)?", re.IGNORECASE)
_LIKE_TITLE_BEFORE = re.compile(r"(?:^|\b)(?:just\s+)?like\s+(?:the\s+)?$", re.IGNORECASE)
_THEN_ITEM_IS = re.compile(
    r"(?:\s*\(\d{4}\))?\s*,\s*(?:it|this|this one|this [\w-]+)\s+(?:is|'s|’s|is also|also is)\s+"
    r"(?:(?:a|an|another)\s+)?(?:[\w'-]+\s+){0,2}",
    re.IGNORECASE,
)
SENTENCE_END = re.compile(r"[.!?](?=\s|$)")
_PART_END = re.compile(r"[.!?;:](?=\s|$)|\s[-–—]\s")
_ITEM_POINTER = re.compile(
    r"\b(?:this|it|it's|its)\b|\b(?:will|may|might|could|should|'ll)\s+(?:also\s+)?(?:love|enjoy|like)\b",
    re.IGNORECASE,
)
_USER_CUE = re.compile(r"\byour\b|\byou(?:'re|’re| are)\b", re.IGNORECASE)
_HISTORY_CUE = re.compile(
    r"\b(?:you|the user)(?:'ve|’ve| have)?\s+(?:already\s+)?(?:liked|enjoyed|loved|watched|rated|read|bought|chose)\b"
    r"|\bfans? of\b|\byour (?:history|past|recent|favou?rite)",
    re.IGNORECASE,
)


_ENJOY = re.compile(
    r"\byou(?:'ll|’ll| will| may| might| would| should| could| can)\s+(?:also\s+|surely\s+|probably\s+|really\s+)?"
    r"(?:enjoy|like|love|appreciate|want to (?:consider|try|check out|read|watch|buy|get)"
    r"(?:\s+(?:purchasing|buying|reading|watching|trying|getting))?)\s+",
    re.IGNORECASE,
)
_CLAUSE_END = re.compile(r"[,.;:!?]|\s[-–—]\s")
# Words that say nothing checkable about what the item is: function words, praise, and the generic nouns
# every recommendation uses ("a great new read", "the story of ...").
VACUOUS = word_set(
    "a an the of to in on at for with and or by from as its their your our this that these those it them",
    "new great good nice fine wonderful exciting delicious perfect best fun interesting amazing lovely fresh",
    "wide whole range variety idea story thing things experience option options choice pick read watch",
    "article piece movie movies film films product products item items one ones kind type way lot lots more",
    "also very really just other same similar next latest much many some any all something everything",
    "is are was were be been being has have had do does which who whom whose what where when while there here",
    "make makes making made get gets offer offers top rated popular",
)


def item_text(item: Item) -> str:
    """Every field of an item as one text: title, categories, tags, description and attribute values."""
    values = [str(v) for v in item.attributes.values() if isinstance(v, str | int | float) and not isinstance(v, bool)]
    return " . ".join([item.title, *item.categories, *item.tags, item.description, *values])


def bounds(text: str, pos: int, ends: re.Pattern[str]) -> tuple[int, int]:
    """The sentence or clause (as ``ends`` marks them) around ``text[pos]``."""
    start = 0
    for m in ends.finditer(text):
        if m.end() <= pos:
            start = m.end()
        else:
            return start, m.end()
    return start, len(text)


@dataclass
class ReasonEvidence:
    """The evidence of one request, gathered once per verified text, and what the checks learn of the text."""

    item: Item
    history: list[Item]
    cited: list[Item]
    """History items the scorers cited."""
    cited_titles: list[str]
    """Titles of cited history evidence, including ones no history item resolves."""
    intent: dict[tuple[str, ...], str]
    """Intent label phrases -> label."""
    intent_text: str
    labels: list[str]
    """The scorers' evidence labels other than history titles (popularity, attributes, intent, profile)."""
    profile: bool
    """Profile evidence drove the item (or an intent summary was written from the profile)."""
    named: list[Item] = field(default_factory=list)
    """History items the text names (filled while checking titles)."""
    history_spans: list[tuple[int, int]] = field(default_factory=list)
    history_at: dict[tuple[int, int], Item] = field(default_factory=dict)
    """The history item each of ``history_spans`` names (when the text names a cited or history item)."""
    """Where the text names them."""
    plain: str = ""
    """The text with every title blanked out, for reading cues."""
    attr_starts: dict[int, int] = field(default_factory=dict)
    """Start -> end of every attribute span (to read lists such as "Drama, Comedy and Romance too")."""

    @classmethod
    def of(cls, request: ReasonRequest, catalog: Catalog) -> ReasonEvidence:
        by_id = {h.item_id: h for h in request.history}
        cited: list[Item] = []
        cited_titles: list[str] = []
        labels: list[str] = []
        profile = False
        for e in (e for evs in request.evidence.values() for e in evs):
            profile |= e.kind == "profile"
            if e.count is not None:
                # A co-occurrence count ("120 people who rated Fargo also rated this") is a figure the scorer gave.
                labels.append(f"{e.count} people who chose {e.label}")
            if e.kind != "history_item":
                labels.append(e.label)
                continue
            item = by_id.get(e.item_id) if e.item_id is not None else None
            if item is None and e.item_id is not None and (i := catalog.index_of(e.item_id)) is not None:
                item = catalog.items[i]
            if item is not None and item not in cited:
                cited.append(item)
            title = item.title if item is not None else e.label
            if title not in cited_titles:
                cited_titles.append(title)
        intent = {phrase(lab.label): lab.label for lab in request.intent.labels if phrase(lab.label)}
        for label in labels:
            if label.startswith("your intent:") and (p := phrase(label.split(":", 1)[1])):
                intent.setdefault(p, label.split(":", 1)[1].strip())
        intent_text = " ".join([request.intent.summary or "", *intent.values()])
        return cls(request.item, list(request.history), cited, cited_titles, intent, intent_text, labels,
                   profile or bool(request.intent.summary))  # fmt: skip

    def sources(self) -> list[tuple[str, str]]:
        """(where, text) of every evidence text a name, attribute or figure may come from."""
        out = [("the item", item_text(self.item))]
        for h in {id(h): h for h in [*self.cited, *self.named]}.values():
            out.append((f"history: {h.title}", item_text(h)))
        out += [("the intent", self.intent_text), ("the scorers' evidence", " ".join(self.labels))]
        return out


def said_shared(start_pos: int, end_pos: int, ev: ReasonEvidence) -> bool:
    """Whether the attribute at ``[start_pos, end_pos)`` is said to be shared with the history: "like them it
    is Sci-Fi", "shares Drama with them", "Drama and Comedy too", "another backpacking piece",
    "backpacking like <history title>", "Like <history title>, this is a Comedy"."""
    text = ev.plain
    start, end = bounds(text, start_pos, _PART_END)
    if _SHARED_BEFORE.search(text[start:start_pos]):
        return True
    # "Drama, Comedy and Romance too": only other attribute words (and list words) before "too".
    pos = end_pos
    while (m := _LIST_JOIN.match(text, pos)) and (nxt := ev.attr_starts.get(m.end())) is not None:
        pos = nxt
    if _SHARED_AFTER.match(text, pos, end):
        return True
    for s, e in ev.history_spans:
        if end_pos <= s < end and _LIKE_TITLE_AFTER.fullmatch(text[end_pos:s]):
            return True
        like_title = start <= s and e <= start_pos and _LIKE_TITLE_BEFORE.search(text[start:s])
        if like_title and _THEN_ITEM_IS.fullmatch(text[e:start_pos]):
            return True
    return False


def described_targets(ev: ReasonEvidence) -> list[tuple[int, int, list[str], list[str]]]:
    """What "you may enjoy <phrase>" calls the item, where the phrase is no title and no pronoun: (start, end,
    its content words, those the item's own fields do not have). "a new coffee blend" for a grinder misses
    "blend"; for a film with genres alone, "a legendary detective" misses both words: a reader cannot tell
    them from the evidence either."""
    text = ev.plain
    own = set(phrase(item_text(ev.item)))
    out = []
    for m in _ENJOY.finditer(text):
        start = m.end()
        if re.match(r"(?:this|it|them|that|these|those|the one)\b", text[start:]):
            continue
        stop = _CLAUSE_END.search(text, start)
        end = stop.start() if stop else len(text)
        # A title as the target is the title check's to judge; what the phrase says after it ("as a must-visit
        # destination") is still said of the item. Names inside it ("a restaurant in Utrecht") are left out.
        titled = re.match(
            r"(?:the\s+)?(?:(?:movie|film|book|article|story|product)\s+)?[\"“'‘]?¤+[\"”'’]?", text[start:end]
        )
        if titled:
            start += titled.end()
        words = phrase(text[start:end].replace("¤", " "))
        content = [w for w in words if w not in VACUOUS and not w.isdigit()]
        if content:
            out.append((start, end, content, [w for w in content if w not in own]))
    return out


def said_of_item(start_pos: int, ev: ReasonEvidence) -> bool:
    """Whether the attribute at ``start_pos`` is said of the recommended item: its sentence points at the item
    before it ("this", "it", "you will love") and mentions no history in between."""
    text = ev.plain
    start, _ = bounds(text, start_pos, SENTENCE_END)
    pointers = list(_ITEM_POINTER.finditer(text, start, start_pos))
    if not pointers:
        return False
    after = pointers[-1].end()
    # "It fits your current interest in ...": what follows is said of the user, not the item.
    if _HISTORY_CUE.search(text, after, start_pos) or _USER_CUE.search(text, after, start_pos):
        return False
    return not any(after <= s < start_pos for s, _ in ev.history_spans)
