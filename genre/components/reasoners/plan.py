"""The fact plan: what a reason about one recommended item may say, computed from its evidence alone.

A :class:`FactPlan` holds only facts the request backs: the history items that drove the score
(up to two, strongest evidence first), the categories and attributes the item shares with every one
of them, the user's intent label that the item's own fields match, and the component that
contributed most, said in plain words. Templates and models both write from it: the template
composes sentences from its fields, a model writes slots (``{item}``, ``{hist1}``…) that
:meth:`FactPlan.slots` fills. A slot the plan has no value for is absent, never empty, so a reason
can only say what the plan knows.

Longer than 420 lines: the plan's parts (named history, what it shares, the intent it fits, the strongest
component in words) are small rules that must agree with each other and with the verifier; they are kept
together so one reading shows every fact a reason may state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from genre.components.ltr_features import FUSION_TERMS
from genre.core.types import Evidence, Item, ReasonRequest
from genre.text.hygiene import sanitize_user_text
from genre.text.verifier import DEFAULT_ALIASES

__all__ = [
    "SLOT_NAMES",
    "FactPlan",
    "Why",
    "component_contributions",
    "history_evidence",
    "join_words",
    "make_plan",
    "plain",
    "strongest_component",
]

SLOT_NAMES: tuple[str, ...] = ("item", "hist1", "hist2", "shared", "intent", "why")
"""Every slot a plan can fill, in the order prompts list them."""

MAX_NAMED = 2
"""History items a plan names at most: a sentence naming more reads as a list."""

_MAX_SHARED = 4
_MAX_SHARED_CATEGORIES = 3

# Attributes that are identifiers, dates or figures: two items sharing them says nothing a reader
# would call a reason ("both have 4.6 stars"), and numbers belong to the evidence labels instead.
_UNSHARED_ATTRIBUTES = frozenset(
    {"price", "rating", "review_count", "reads", "published", "reading_minutes", "year", "weight_g", "source"}
)
# How a shared attribute reads inside "it shares {shared} with {hist1}"; other keys read "<value> <key>".
_ATTRIBUTE_PHRASES: dict[str, str] = {
    "brand": "the {} brand",
    "activity": "{}",
    "region": "a focus on {}",
    "material": "{}",
    "form": "{}",
    "roast": "a {} roast",
    "format": "the {} format",
}
_NOT_A_VALUE = frozenset({"yes", "no", "parts", "none", "n/a", ""})

# Intent words that carry no meaning of their own: "science fiction adventure" is matched by
# "adventure", never by "film"; "and" or "gear" match anything.
_GENERIC_WORDS = frozenset(
    {
        "and", "or", "the", "a", "an", "of", "for", "with", "film", "films", "movie", "movies", "cinema",
        "story", "stories", "gear", "equipment", "tools", "devices", "setup", "basics", "things", "items",
        "reads", "updates", "results", "long", "quick", "depth", "new", "good", "feel",
    }
)  # fmt: skip
_WORD = re.compile(r"[a-z]+")
_INTENT_SHARE = 0.25
"""An intent label counts when its probability is at least this share of the top label's."""
_SHARED_PREFIX = 5
"""Two words match when equal or when both share their first 5 letters ("animated" ~ "animation")."""

WhyKind = Literal[
    "co-rated", "collaborative", "sequence", "content", "similar", "profile", "popularity", "intent", "attribute"
]


@dataclass(frozen=True)
class Why:
    """The component that contributed most to the item's score, in plain words."""

    kind: WhyKind
    source: str
    """The scorer's name in the pipeline config."""
    phrase: str
    """A clause that can follow "because": it may hold the slots ``{hist1}``/``{hist2}`` (never a
    literal title), e.g. "120 people who rated {hist1} also rated it"."""
    hist: str | None = None
    """The history slot the phrase names (``hist1`` or ``hist2``), if any."""
    count: int | None = None
    """Users who interacted with both the named history item and this one (co-rated only)."""


@dataclass(frozen=True)
class FactPlan:
    """Facts one reason may state about ``item``: each is backed by the request it was made from."""

    item: Item
    history: tuple[Item, ...] = ()
    """History items that drove the score, strongest evidence first (at most :data:`MAX_NAMED`)."""
    shared_categories: tuple[str, ...] = ()
    """Categories (genres, topics) the item shares with every item of ``history``."""
    shared_attributes: tuple[str, ...] = ()
    """Attribute values and tags the item shares with every item of ``history``, as readable phrases."""
    intent: str | None = None
    """The user's intent label that the item's own categories, tags or attributes match."""
    why: Why | None = None
    """The strongest component in plain words."""
    popularity: str | None = None
    """The popularity evidence label ("350 ratings"), when a popularity scorer gave one."""
    profile: bool = False
    """The item was scored against the user's free-text profile."""
    cold_start: bool = False
    alike: bool = False
    """``history`` was chosen for what it shares with the item (no scorer cited a history item), so a
    reason may say they are alike, not that they caused the pick."""
    evidence_ids: tuple[str, ...] = field(default=())
    """Item ids of ``history``."""

    @property
    def shared(self) -> tuple[str, ...]:
        """What ``{shared}`` lists: shared categories first, then attributes."""
        return (self.shared_categories + self.shared_attributes)[:_MAX_SHARED]

    def slots(self) -> dict[str, str]:
        """The slot values this plan has: ``item`` always, the others only when the plan knows them."""
        out = {"item": plain(self.item.title)}
        for n, hist in enumerate(self.history, start=1):
            out[f"hist{n}"] = plain(hist.title)
        if self.shared:
            out["shared"] = join_words(list(self.shared))
        if self.intent:
            out["intent"] = plain(self.intent, 60)
        if self.why is not None:
            out["why"] = fill(self.why.phrase, out)
        return out


def plain(text: str, max_chars: int = 160) -> str:
    """A catalog string on one line with instruction-like phrases neutralized (catalogs can be user files)."""
    return sanitize_user_text(text, max_chars)


def join_words(words: list[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def fill(text: str, slots: dict[str, str]) -> str:
    """``text`` with every ``{name}`` the slots know replaced; unknown ones are left as they are."""
    return re.sub(r"\{(\w+)\}", lambda m: slots.get(m.group(1), m.group(0)), text)


def history_evidence(req: ReasonRequest, limit: int) -> list[Evidence]:
    """Up to ``limit`` distinct history items, taken from scorers in order of their contribution.

    Evidence weights are on each scorer's own scale, so they are only compared within a scorer.
    """
    seen: set[str] = set()
    picked: list[Evidence] = []
    for name in sorted(req.evidence, key=lambda n: -req.contributions.get(n, 0.0)):
        for e in sorted(
            (e for e in req.evidence[name] if e.kind == "history_item" and e.item_id), key=lambda e: -e.weight
        ):
            if e.item_id is not None and e.item_id not in seen:
                seen.add(e.item_id)
                picked.append(e)
            if len(picked) == limit:
                return picked
    return picked


def make_plan(req: ReasonRequest, max_named: int = MAX_NAMED) -> FactPlan:
    """The fact plan for one request (see the module docstring)."""
    item = req.item
    evidence = [e for evs in req.evidence.values() for e in evs]
    popularity = next((e.label for e in evidence if e.kind == "popularity"), None)
    profile = any(e.kind == "profile" for e in evidence)
    intent = matching_intent(req)
    if req.cold_start:
        return FactPlan(item, popularity=popularity, cold_start=True, intent=intent, why=_popular(req, popularity))

    named = _named_history(req, max_named)
    alike = not named
    if alike:
        named = _alike_history(item, req.history, max_named)
    dominant = _dominant(req)
    why_ev = _why_evidence(req, dominant, named)
    named, shared_cats, shared_attrs = _with_shared(item, named, keep=why_ev.item_id if why_ev else None)
    why = _why(req, dominant, named, why_ev, intent, popularity, profile)
    return FactPlan(
        item=item,
        history=tuple(named),
        shared_categories=shared_cats,
        shared_attributes=shared_attrs,
        intent=intent,
        why=why,
        popularity=popularity,
        profile=profile,
        alike=alike and bool(named),
        evidence_ids=tuple(h.item_id for h in named),
    )


# ---- history and what it shares ------------------------------------------------------------------


def _named_history(req: ReasonRequest, limit: int) -> list[Item]:
    """Distinct history items behind the score, strongest first; titles deduplicated case-insensitively.

    Only items of the request's history are named: an item the scorers saw but the history left out
    (e.g. rated too low to count as liked) is not something the user "liked".
    """
    by_id = {h.item_id: h for h in req.history}
    out: list[Item] = []
    titles: set[str] = set()
    for ev in history_evidence(req, limit * 3 + 2):
        hist = by_id.get(ev.item_id or "")
        if hist is None or hist.item_id == req.item.item_id or hist.title.lower() in titles:
            continue
        titles.add(hist.title.lower())
        out.append(hist)
        if len(out) == limit:
            break
    return out


def _alike_history(item: Item, history: list[Item], limit: int) -> list[Item]:
    """Up to ``limit`` history items sharing the most categories with ``item``, most recent first.

    For scorers that cite no history item (matrix factorization, popularity): the reason can still
    say something true and specific about the item and the user's own history.
    """
    own = {c.lower() for c in item.categories}
    if not own:
        return []
    overlap = {h.item_id: len(own & {c.lower() for c in h.categories}) for h in history}
    recent = [h for h in reversed(history) if h.item_id != item.item_id and overlap[h.item_id]]
    best = sorted(recent, key=lambda h: -overlap[h.item_id])  # stable: the most recent first among equals
    out: list[Item] = []
    for h in best:
        if h.title.lower() not in {o.title.lower() for o in out}:
            out.append(h)
        if len(out) == limit:
            break
    return out


def _shared_with(item: Item, others: list[Item]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Categories and attribute phrases ``item`` has in common with every one of ``others``."""
    if not others:
        return (), ()
    cats = tuple(c for c in item.categories if all(c.lower() in {x.lower() for x in o.categories} for o in others))[
        :_MAX_SHARED_CATEGORIES
    ]
    attrs: list[str] = []
    for key, value in item.attributes.items():
        if key in _UNSHARED_ATTRIBUTES or not isinstance(value, str):
            continue
        text = value.strip()
        if text.lower() in _NOT_A_VALUE or not all(_same_value(o.attributes.get(key), text) for o in others):
            continue
        template = _ATTRIBUTE_PHRASES.get(key, "{} " + key.replace("_", " "))
        attrs.append(template.format(plain(text, 60)))
    for tag in item.tags:
        if all(tag.lower() in {t.lower() for t in o.tags} for o in others):
            # Tags are slugs ("four-day-week", "budget"): "the budget tag" says what kind of fact it is.
            attrs.append(f"the {plain(tag, 40)} tag")
    return cats, tuple(attrs)


def _same_value(value: object, text: str) -> bool:
    return isinstance(value, str) and value.strip().lower() == text.lower()


def _with_shared(
    item: Item, named: list[Item], keep: str | None
) -> tuple[list[Item], tuple[str, ...], tuple[str, ...]]:
    """The named history and what the item shares with all of it.

    When two named items have nothing in common with the item but the strongest one does, the
    plan names only that one, so every claim about ``{shared}`` stays true of every named item
    (unless the weaker item is the one ``{why}`` is about: then both stay, sharing nothing).
    """
    cats, attrs = _shared_with(item, named)
    if cats or attrs or len(named) < 2:
        return named, cats, attrs
    first_cats, first_attrs = _shared_with(item, named[:1])
    if (first_cats or first_attrs) and keep != named[1].item_id:
        return named[:1], first_cats, first_attrs
    return named, (), ()


# ---- intent --------------------------------------------------------------------------------------


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def _word_match(a: str, b: str) -> bool:
    if a == b:
        return True
    return len(a) >= _SHARED_PREFIX and len(b) >= _SHARED_PREFIX and a[:_SHARED_PREFIX] == b[:_SHARED_PREFIX]


def matching_intent(req: ReasonRequest) -> str | None:
    """The most probable intent label the item is, by its own fields.

    Only labels at least a quarter as probable as the top label are considered. A label's category
    words (words of a category the item or the history carries, or their English aliases such as
    "romantic" for Romance) must *all* be the item's: "It fits your interest in romantic drama"
    says the film is romantic too. Words no category has ("dark", "quick") are not checked, but at
    least one word must match the item's categories, tags or string attributes. A label word
    matches a field word when they are equal or share their first five letters ("animated" and
    "Animation").
    """
    item = req.item
    fields: set[str] = set()
    for text in (*item.categories, *item.tags, *(v for v in item.attributes.values() if isinstance(v, str))):
        fields |= _words(text)
    known = {c for i in (item, *req.history) for c in i.categories}
    category_words = {w for c in known for w in _words(c)} - _GENERIC_WORDS
    labels = sorted(req.intent.labels, key=lambda lab: -lab.probability)
    # A label far less likely than the top one is no "current interest" (news: 0.84 vs 0.02).
    floor = labels[0].probability * _INTENT_SHARE if labels else 0.0
    for label in labels:
        if label.probability < floor:
            break
        text, aliased = _with_aliases(label.label, known)
        words = _words(text) - _GENERIC_WORDS
        matched = {w for w in words if any(_word_match(w, f) for f in fields)}
        categorial = {w for w in words if w in aliased or any(_word_match(w, c) for c in category_words)}
        if matched and categorial <= matched:
            return label.label.strip()
    return None


def _with_aliases(label: str, categories: set[str]) -> tuple[str, set[str]]:
    """``label`` with English aliases of the known categories replaced by the category's words
    ("science fiction" -> "sci fi" for Sci-Fi), and the words that replaced them."""
    text = label.lower()
    replaced: set[str] = set()
    for category in categories:
        for alias in DEFAULT_ALIASES.get(category, ()):
            if re.search(rf"\b{re.escape(alias)}\b", text):
                words = " ".join(_WORD.findall(category.lower()))
                text = re.sub(rf"\b{re.escape(alias)}\b", words, text)
                replaced |= set(words.split())
    return text, replaced


# ---- the strongest component -----------------------------------------------------------------------


def component_contributions(req: ReasonRequest) -> dict[str, float]:
    """The request's contributions that come from components (scorers, re-rankers).

    A learning-to-rank fusion adds terms of its own model beside the scorers' (item popularity, genre
    overlap, its base value...): no component a reason could name, so they are left out, unless a
    scorer of the pipeline has that name (then the request has its evidence).
    """
    return {n: c for n, c in req.contributions.items() if n not in FUSION_TERMS or n in req.evidence}


def strongest_component(req: ReasonRequest) -> str | None:
    """The component that added most to the fused score (None when none added anything)."""
    positive = {n: c for n, c in component_contributions(req).items() if c > 0}
    return max(positive, key=lambda n: positive[n]) if positive else None


_dominant = strongest_component


def _kind(name: str) -> WhyKind | None:
    """What a scorer is, from its configured name (names are free-form; the built-ins' usual names)."""
    lowered = name.lower()
    for fragments, kind in (
        (("popular",), "popularity"),
        (("sasrec", "sequen"), "sequence"),
        (("content",), "content"),
        (("intent",), "intent"),
        (("knn", "ease", "bpr", "collab", "mf"), "collaborative"),
        (("price", "prefer", "categor", "attribute", "brand"), "attribute"),
    ):
        if any(f in lowered for f in fragments):
            return kind  # type: ignore[return-value]
    return None


def _why_evidence(req: ReasonRequest, dominant: str | None, named: list[Item]) -> Evidence | None:
    """The dominant scorer's strongest history evidence among the named items."""
    if dominant is None:
        return None
    ids = {h.item_id for h in named}
    items = [e for e in req.evidence.get(dominant, []) if e.kind == "history_item" and e.item_id in ids]
    return max(items, key=lambda e: e.weight) if items else None


def _why(
    req: ReasonRequest,
    dominant: str | None,
    named: list[Item],
    ev: Evidence | None,
    intent: str | None,
    popularity: str | None,
    profile: bool,
) -> Why | None:
    """The dominant scorer in plain words, naming its history item by slot; None when it cannot be said."""
    if dominant is None:
        return None
    kind = _kind(dominant)
    slot = None
    if ev is not None:
        slot = next((f"hist{n}" for n, h in enumerate(named, start=1) if h.item_id == ev.item_id), None)
    hist = "{" + slot + "}" if slot else None
    if kind == "collaborative":
        if hist and ev is not None and ev.count:
            who = "person who rated" if ev.count == 1 else "people who rated"
            return Why("co-rated", dominant, f"{ev.count:,} {who} {hist} also rated it", slot, ev.count)
        return Why("collaborative", dominant, "people with similar taste liked it")
    if kind == "sequence":
        if hist:
            return Why("sequence", dominant, f"it is often picked right after {hist}", slot)
        return Why("sequence", dominant, "it often follows what you picked most recently")
    if kind == "content":
        if hist and req.item.description.strip():
            return Why("content", dominant, f"it is close in description to {hist}", slot)
        if hist:
            # Without descriptions (MovieLens) the content scorer compares titles and genres.
            return Why("similar", dominant, f"it is a lot like {hist}", slot)
        if profile:
            return Why("profile", dominant, "it is close to what you described in your profile")
        return None
    if kind == "popularity":
        return _popular(req, popularity, dominant)
    if kind == "intent":
        if intent:
            return Why("intent", dominant, "it matches your interest in {intent}")
        return None
    if kind == "attribute":
        attrs = [e for e in req.evidence.get(dominant, []) if e.kind == "attribute"]
        if not attrs:
            return None
        label = plain(max(attrs, key=lambda e: e.weight).label, 120)
        return Why("attribute", dominant, f"its price of {label}" if label.startswith("$") else label)
    return None


def _popular(req: ReasonRequest, popularity: str | None, source: str | None = None) -> Why | None:
    if popularity is None:
        return None
    name = source or next((n for n, evs in req.evidence.items() if any(e.kind == "popularity" for e in evs)), "")
    return Why("popularity", name, f"it is popular, with {plain(popularity, 60)}")
