"""The claim-level verifier: is every claim of a reason true of the evidence it was written from?

A reason is split into claims (:mod:`genre.text.claims`) and each is checked against the evidence
of its :class:`~genre.core.types.ReasonRequest`: the recommended item's fields, the history items
(those the scorers cited, and those the text names), the intent labels and summary, and the
scorers' evidence labels. A reason *passes* when no check below finds an error.

Claims:

* ``invented_title``: a title-like span that is no catalog title (fuzzy ratio below the cutoff)
  and appears nowhere in the evidence ("Lethal Naturals (1997)", "Tom Hanks").
* ``wrong_title``: a catalog title that is neither the item nor in the user's history or the evidence.
* ``unsupported_attribute``: a category, genre or attribute value (brand, region, activity, ...)
  that neither the item nor a named history item has (as a field, or in its own title or
  description), nor an intent label or the scorers' evidence says. Said of the item ("this
  heartwarming Drama") it must be the item's; said as shared ("like them it is Sci-Fi", "shares
  Drama with them", "Drama too") it must hold for the item *and* a named history item (a cited
  one when none is named). A tag, or one part of an "A & B" category, is often a plain word
  ("the conservation agency"): it is a supported claim where the evidence has it and never fails.
  A mention of "your profile" needs profile evidence.
* ``unsupported_number``: a figure found in no evidence field (descriptions, attributes, titles,
  the scorers' labels, the intent).
* ``wrong_target``: the title said to be the recommendation is not the item ("you may enjoy X"),
  or the item is said to be one the user already liked.
* ``no_evidence``: no claim names any evidence (a history item, an attribute, a figure, the profile).
* ``contradiction``: the text negates the top intent or the item's own categories
  (:mod:`genre.text.negation`).

Styles: a reason written as "- " points (``bullets``) is checked point by point, each point on its own
(every point must be a finished sentence stating some evidence), plus 2 to 4 points, none repeated, within
the length bound. In the ``short`` and ``compare`` styles a trait may be said of a history item ("Heat (1995)
is a thriller, while this one ...") or set against one ("Unlike Heat (1995), it is a comedy"):
:mod:`genre.text.attribution` finds whose trait it is, and it must be that item's (and, set against a
history item, not that item's).

Form (:mod:`genre.text.form`): ``empty``, ``slot``, ``markup``, ``language``, ``length``,
``repetition``, ``unfinished``; and ``fluency`` when the caller measured the text's mean token
log-probability and the config sets a floor.

Longer than 420 lines: every claim kind's check reads the same per-text state (the evidence, the titles
found, the blanked text), and splitting them across modules would pass that state through every call.
"""

from __future__ import annotations

import itertools
import re
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, model_validator
from rapidfuzz import fuzz

from genre.core.types import Catalog, Item, ReasonRequest
from genre.core.verdict import Claim, Verdict, VerdictError
from genre.text.attribution import contrasted_with, owner_of
from genre.text.claims import PROFILE, UNKNOWN, Span, split_claims
from genre.text.evidence import (
    SENTENCE_END,
    VACUOUS,
    ReasonEvidence,
    bounds,
    described_targets,
    item_text,
    said_of_item,
    said_shared,
)
from genre.text.form import form_problems
from genre.text.lexicon import TitleKey, TitleMatcher, Vocabulary, normalize, numbers_in, phrase
from genre.text.negation import contradictions
from genre.text.styled import MAX_POINTS, MIN_POINTS, points, shape_problem

__all__ = ["ERROR_TYPES", "Verifier", "VerifierConfig", "points"]

ERROR_TYPES: tuple[VerdictError, ...] = (
    "invented_title", "wrong_title", "unsupported_attribute", "unsupported_number", "wrong_target", "no_evidence",
    "contradiction", "repetition", "unfinished", "length", "markup", "language", "empty", "slot", "fluency",
)  # fmt: skip
"""Every error type, claims first, then form."""

DEFAULT_ALIASES: dict[str, list[str]] = {
    "Animation": ["animated", "cartoon"],
    "Romance": ["romantic"],
    "Sci-Fi": ["science fiction", "science-fiction", "scifi"],
    "Film-Noir": ["noir"],
    "Comedy": ["comedic"],
    "Horror": ["scary"],
    "Documentary": ["documentaries"],
    "Musical": ["musicals"],
}
"""English words for catalog values, applied only to values the catalog has (e.g. "animated" for Animation)."""


_SHARE_FRAME = re.compile(
    r"\blike them,? (?:it|this) (?:is|'s)\b[^.;:!?]*|\b(?:it|this|they|both) shares?\b[^.;:!?]*"
    r"|\bit is\b[^.;:!?,]*?\btoo\b|(?<=\bpicked for fans of )[^:.;!?]*:[^.;:!?]*",
    re.IGNORECASE,
)
_FITS_INTEREST = re.compile(
    r"\b(?:fits?|match(?:es)?|suits?|for|into)\s+(?:right\s+)?(?:in\s+)?(?:with\s+)?your\s+(?:current\s+|recent\s+)?"
    r"(?:interests?|taste)\s+(?:in|for)\s+(?:the\s+)?$",
    re.IGNORECASE,
)
"""'It fits your current interest in <intent>' says the item is what the intent label names."""
_LINK = re.compile(
    r"\b(?:also (?:rated|bought|read|chose)|picked right after|pick this right after|next pick|often follows"
    r"|often picked|in its description"
    r"|close in description|description is close|a lot like|in common with|similar taste|popular|widely chosen"
    r"|described in your profile"
    r"|what you described|answers the question|backstory|follow-up|follows up)\b",
    re.IGNORECASE,
)
"""Phrases that say why an item follows from the evidence (the fact plans' component phrases)."""
_DESCRIPTION = re.compile(r"\bdescriptions?\b", re.IGNORECASE)
_LIST_GAP = re.compile(r"\s*(?:,\s*|\s+and\s+|,\s*and\s+)\s*(?:the\s+)?", re.IGNORECASE)
_APPROX_BEFORE = re.compile(r"\b(?:about|around|roughly|nearly|almost|over|more than|under|up to|some)\s+$", re.I)
_MIN_POINT_WORDS = 3
"""Fewest words one point of a bullets reason may have ("Popular: 350 ratings." says something)."""
_MIN_FUZZY_CHARS = 8
_MIN_LONE_TITLE_CHARS = 6


class VerifierConfig(BaseModel):
    """What the verifier checks and its bounds."""

    model_config = ConfigDict(extra="forbid")

    min_words: int = Field(default=5, ge=1)
    """Fewest words a reason may have."""
    max_words: int = Field(default=60, ge=1)
    """Most words a reason may have."""
    min_fluency: float | None = None
    """Floor on the mean token log-probability the caller passes in (None: no fluency check). To be
    calibrated on the dev part of the labelled set."""
    fuzzy_cutoff: float = Field(default=88.0, ge=50.0, le=100.0)
    """Fuzzy ratio (0-100) at which a title-like span counts as a catalog title (a typo of it)."""
    attribute_fields: list[str] = Field(
        default_factory=lambda: ["brand", "activity", "topic", "region", "thread", "source"]
    )
    """Item attributes whose string values are attribute words a reason can claim (categories and tags always are)."""
    aliases: dict[str, list[str]] = Field(default_factory=lambda: {k: list(v) for k, v in DEFAULT_ALIASES.items()})
    """Catalog value -> other words that claim it."""
    ignore: list[VerdictError] = Field(default_factory=list)
    """Error types still reported but not failing a reason."""

    @model_validator(mode="after")
    def _bounds(self) -> VerifierConfig:
        if self.min_words > self.max_words:
            raise ValueError(f"min_words ({self.min_words}) is greater than max_words ({self.max_words})")
        return self


@lru_cache(maxsize=16384)
def _key(title: str) -> TitleKey:
    return TitleKey.of(title)


@lru_cache(maxsize=16384)
def _norm(text: str) -> str:
    return f" {normalize(text)} "


class Verifier:
    """Checks reasons against the evidence of their requests; build once per catalog, reuse for every run."""

    def __init__(self, catalog: Catalog, config: VerifierConfig | None = None) -> None:
        self.catalog = catalog
        self.config = config or VerifierConfig()
        self.titles = TitleMatcher(catalog)
        self.vocab = Vocabulary.from_catalog(catalog, self.config.attribute_fields, self.config.aliases)
        self._phrases: dict[tuple[str, str], set[tuple[str, ...]]] = {}

    # ---- public API ----------------------------------------------------------------------

    def verify(
        self,
        text: str,
        request: ReasonRequest,
        *,
        fluency: float | None = None,
        max_words: int | None = None,
        style: str | None = None,
    ) -> Verdict:
        """The verdict on reason ``text`` written for ``request``; ``fluency`` is its mean token log-probability.

        ``max_words`` is the length bound of the generator's style when it has one (else the config's). A reason
        written as "- " points (the bullets style) is checked point by point: each must be a finished sentence
        stating a piece of evidence, and there must be 2 to 4 of them. ``style``, when given, is the shape the
        reason was asked for: bullets must be points, short 2 to 3 sentences, and compare must state a trait
        shared with or setting the item apart from a history item (when the request has history).
        """
        bound = max_words if max_words is not None else self.config.max_words
        lines = points(text)
        if lines is None:
            verdict = self._verify(text, request, fluency, min(self.config.min_words, bound), bound)
        else:
            verdict = self._verify_points(text, lines, request, fluency, bound)
        shape = shape_problem(text, verdict.claims, request, style, lines is not None)
        if shape is None:
            return verdict
        errors = list(dict.fromkeys([*verdict.errors, shape[0]]))
        failing = [e for e in errors if e not in self.config.ignore]
        return verdict.model_copy(
            update={"passed": not failing, "errors": errors, "problems": [*verdict.problems, shape[1]]}
        )

    def _verify_points(
        self, text: str, lines: list[tuple[int, str]], request: ReasonRequest, fluency: float | None, bound: int
    ) -> Verdict:
        """Every point verified on its own (claims shifted to their place in ``text``), then the whole's form."""
        claims: list[Claim] = []
        errors: list[VerdictError] = []
        problems: list[str] = []
        for n, (offset, line) in enumerate(lines, start=1):
            verdict = self._verify(line, request, None, _MIN_POINT_WORDS, bound)
            claims += [c.model_copy(update={"start": c.start + offset, "end": c.end + offset}) for c in verdict.claims]
            errors += verdict.errors
            problems += [f"point {n} {p}" for p in verdict.problems]
        found: list[tuple[VerdictError, str]] = []
        said = [normalize(line) for _, line in lines]
        if len(set(said)) < len(said):
            found.append(("repetition", "makes the same point twice"))
        if not MIN_POINTS <= len(lines) <= MAX_POINTS:
            found.append(("length", f"has {len(lines)} points, not {MIN_POINTS} to {MAX_POINTS}"))
        n_words = sum(len(line.split()) for _, line in lines)
        if n_words > bound:
            found.append(("length", f"has {n_words} words, more than {bound}"))
        floor = self.config.min_fluency
        if floor is not None and fluency is not None and fluency < floor:
            found.append(("fluency", f"reads poorly: mean token log-probability {fluency:.2f} is below {floor:.2f}"))
        errors = list(dict.fromkeys([*errors, *(e for e, _ in found)]))
        failing = [e for e in errors if e not in self.config.ignore]
        return Verdict(passed=not failing, claims=claims, errors=errors, problems=problems + [p for _, p in found],
                       fluency=fluency)  # fmt: skip

    def _verify(
        self, text: str, request: ReasonRequest, fluency: float | None, min_words: int, max_words: int
    ) -> Verdict:
        """The verdict on one text of sentences (a whole reason, or one point of a bullets reason)."""
        ctx = ReasonEvidence.of(request, self.catalog)
        spans = split_claims(
            text, self.titles, self.vocab, lambda s, single, first: self._known(s, single, first, ctx), ctx.intent,
            [request.item.title, *ctx.cited_titles, *_long_titles(request.history)],
        )  # fmt: skip
        claims: list[Claim] = []
        evidential = False
        for span in (s for s in spans if s.kind in ("title", "target")):
            checked, names = self._title(span, ctx)
            claims += [checked] if checked is not None else []
            evidential |= names
            if names and checked is not None and checked.evidence and checked.evidence.startswith("history:"):
                ctx.history_spans.append((span.start, span.end))
                named = self._history_item(checked.evidence.removeprefix("history: "), ctx)
                if named is not None:
                    ctx.history_at[(span.start, span.end)] = named
        found: list[tuple[VerdictError, str]] = []
        titled = sorted((c for c in claims if c.kind == "title"), key=lambda c: c.start)
        for a, b in itertools.pairwise(titled):
            if _key(a.text) == _key(b.text) and _LIST_GAP.fullmatch(text[a.end : b.start]):
                found.append(("repetition", f"names '{a.text}' twice in a row"))
        # Cues are read with every title blanked out: "Password managers adopt shared standard" is a title, not a cue.
        ctx.plain = text
        for s in (s for s in spans if s.kind == "title"):
            ctx.plain = ctx.plain[: s.start] + "¤" * (s.end - s.start) + ctx.plain[s.end :]
        ctx.attr_starts = {s.start: s.end for s in spans if s.kind == "attribute"}
        for span in (s for s in spans if s.kind in ("attribute", "number")):
            claim = self._attribute(span, ctx) if span.kind == "attribute" else self._number(span, text, ctx)
            if claim is not None:
                claims.append(claim)
                evidential |= claim.supported
        for start, end, content, missing in described_targets(ctx):
            # Most of what it calls the item must be in the item's own fields.
            described = Span("target", start, end, text[start:end])
            if 2 * len(missing) >= len(content):
                claims.append(_bad(described, "unsupported_attribute", f"calls the item '{described.text}', but "
                                   f"'{ctx.item.title}' says nothing of {', '.join(missing)}"))  # fmt: skip
            else:
                claims.append(_ok(described, "the item"))
        claims.sort(key=lambda c: (c.start, c.kind != "title"))
        # "like them it is ...", "this shares ... with them", "it is ... too", "Picked for fans of X: ..." (the
        # template's frames) promise a shared trait: one that names none ("like them it is from the same
        # family") says nothing true.
        for m in _SHARE_FRAME.finditer(ctx.plain):
            if not any(c.kind == "attribute" and m.start() <= c.start < m.end() for c in claims):
                found.append(("unsupported_attribute", f"says '{text[m.start() : m.end()].strip()}' but names no "
                              "genre, category or attribute they share"))  # fmt: skip

        if _DESCRIPTION.search(ctx.plain) and not ctx.item.description.strip():
            # "its description is close to theirs" compares texts the catalog does not have (MovieLens).
            found.append(("unsupported_attribute", f"compares descriptions, but '{ctx.item.title}' has none in "
                          "the catalog"))  # fmt: skip

        found = [(c.error, c.problem) for c in claims if c.error and c.problem] + found
        titles = [(s.start, s.end) for s in spans if s.kind == "title"]
        found += [("contradiction", p) for p, _, _ in contradictions(text, request, titles)]
        form = form_problems(text, min_words=min_words, max_words=max_words, masked=titles)
        if not evidential and not any(e == "empty" for e, _ in form):
            found.append(("no_evidence", "names no evidence: no history item, shared attribute or figure"))
        found += form
        linked = (
            any(c.supported and c.kind in ("attribute", "number") for c in claims)
            or _LINK.search(text)
            or _describes(ctx)
        )
        if not found and not linked:
            # "Because you liked X, you may enjoy Y." names real titles and says nothing of what links them (a
            # reason with other errors is rejected for those).
            found.append(("no_evidence", "names titles but no link between them: no shared trait, figure or reason"))
        floor = self.config.min_fluency
        if floor is not None and fluency is not None and fluency < floor:
            found.append(("fluency", f"reads poorly: mean token log-probability {fluency:.2f} is below {floor:.2f}"))

        errors = list(dict.fromkeys(e for e, _ in found))
        failing = [e for e in errors if e not in self.config.ignore]
        return Verdict(passed=not failing, claims=claims, errors=errors, problems=[p for _, p in found],
                       fluency=fluency)  # fmt: skip

    # ---- evidence ------------------------------------------------------------------------

    def _own(self, text: str, ctx: ReasonEvidence) -> tuple[str, str, Item | None, bool] | None:
        """('item' or 'history', the title, its item if known, exact) when ``text`` names the item or an evidence
        title: exactly, as a whole-word part ("Ridge 2P"), or (``exact`` False) with a typo (fuzzy ratio at least
        the cutoff)."""
        key = _key(text)
        candidates: list[tuple[str, str, Item | None]] = [("item", ctx.item.title, ctx.item)]
        candidates += [("history", h.title, h) for h in ctx.history]
        candidates += [("history", t, None) for t in ctx.cited_titles]
        for kind, title, item in candidates:
            other = _key(title)
            if key.same(other) or key.inside(other):
                return kind, title, item, True
        if len(key.core) >= _MIN_FUZZY_CHARS:
            for kind, title, item in candidates:
                other = _key(title)
                same_year = key.year is None or key.year == other.year
                if same_year and fuzz.ratio(key.core, other.core) >= self.config.fuzzy_cutoff:
                    return kind, title, item, False
        return None

    def _source_of(self, text: str, ctx: ReasonEvidence) -> str | None:
        """Where in the evidence ``text`` is written (word for word, any case), if anywhere."""
        # The year stays: "The Magic Hour (1997)" is not the history's "The Magic Hour (1998)".
        needle = _norm(text)
        if needle.strip():
            for where, source in ctx.sources():
                if needle in _norm(source):
                    return where
        return None

    def _known(self, text: str, single: bool, first: bool, ctx: ReasonEvidence) -> bool:
        """Whether capitalized ``text`` names something: the item, a history title, an evidence name or a catalog
        title. A one-word catalog title counts only from 6 letters and not as a sentence's first word: "Heat" or
        "Mother" are as often plain words."""
        if self._own(text, ctx) is not None or self._source_of(text, ctx) is not None:
            return True
        if single and (first or len(_key(text).core) < _MIN_LONE_TITLE_CHARS):
            return False
        return bool(self.titles.exact(text))

    def _item_phrases(self, item: Item) -> set[tuple[str, ...]]:
        key = (item.item_id, item.title)
        if key not in self._phrases:
            self._phrases[key] = self.vocab.item_phrases(item)
        return self._phrases[key]

    # ---- claims ----------------------------------------------------------------------------

    def _is_title(self, text: str) -> bool:
        return bool(self.titles.exact(text)) or self.titles.fuzzy(text, self.config.fuzzy_cutoff) is not None

    def _title(self, span: Span, ctx: ReasonEvidence) -> tuple[Claim | None, bool]:
        """The checked claim of a title or target span (None: a target cue before a name that is no title,
        "you could try Alentejo towns"), and whether it names evidence."""
        own = self._own(span.text, ctx)
        item_title = ctx.item.title
        if span.kind == "target":
            if own is not None and own[0] == "item":
                return _ok(span, "the recommended item"), False
            if own is None and not self._is_title(span.text):
                return None, False
            return _bad(span, "wrong_target", f"says you may enjoy '{span.text}', but the recommendation is "
                        f"'{item_title}'"), False  # fmt: skip
        if own is not None and not own[3]:
            # A title spelled wrong is shown wrong: "Last Highway (1997)" for the history's "Lost Highway (1997)".
            return _bad(span, "wrong_title", f"misspells '{own[1]}' as '{span.text}'"), False
        if own is not None and own[0] == "item":
            if span.history_cue:
                return _bad(
                    span, "wrong_target", f"says you already liked '{span.text}', the recommended item itself"
                ), False
            return _ok(span, "the recommended item"), False
        if own is not None:
            _, title, history, _ = own
            if history is not None and history not in ctx.named:
                ctx.named.append(history)
            return _ok(span, f"history: {title}"), True
        if where := self._source_of(span.text, ctx):
            if where == "the item" and span.history_cue:
                return _bad(span, "wrong_target", f"says you already liked '{span.text}', part of the recommended "
                            "item's own title"), False  # fmt: skip
            return _ok(span, f"named in {where}"), True
        exact = self.titles.exact(span.text)
        if exact:
            title = self.catalog.items[exact[0]].title
            return _bad(span, "wrong_title", f"names '{title}', which is neither the item nor in your history"), False
        near = self.titles.fuzzy(span.text, self.config.fuzzy_cutoff)
        if near is not None:
            title = self.catalog.items[near].title
            return _bad(span, "wrong_title", f"names '{span.text}' (close to '{title}'), which is neither the item "
                        "nor in your history"), False  # fmt: skip
        return _bad(span, "invented_title", f"names '{span.text}', which is no catalog title and appears nowhere in "
                    "the evidence"), False  # fmt: skip

    def _attribute(self, span: Span, ctx: ReasonEvidence) -> Claim | None:
        """The checked attribute claim; None for a weak phrase (a tag, part of a category) no evidence has:
        tags are often plain words ("the conservation agency", "car-camping comfort"), so one is a claim
        only where the evidence has it."""
        if span.phrase == PROFILE:
            if ctx.profile:
                return _ok(span, "your profile")
            return _bad(
                span, "unsupported_attribute", f"mentions '{span.text}', but no profile evidence drove this item"
            )
        if span.phrase in ctx.intent:
            return self._intent_phrase(span, ctx)
        if span.phrase[:1] == (UNKNOWN,):
            return _bad(span, "unsupported_attribute", f"says it is '{span.text}', which is no genre, category or "
                        "attribute this catalog knows")  # fmt: skip
        p = span.phrase
        pool = ctx.named or ctx.cited
        item_has = self._has(ctx.item, p)
        holders = [h for h in pool if self._has(h, p)]
        weak = p not in self.vocab.strong
        compared, claim = self._compared(span, ctx, p, item_has, weak)
        if compared:
            return claim
        if pool and said_shared(span.start, span.end, ctx) and not (weak and not item_has and not holders):
            # Shared with the history items its sentence names ("like them", "shares X with them", "too"):
            # it must hold for every one of them, not just one.
            sharers = self._sharers(span, ctx)
            if sharers and item_has:
                lacking_items = [h for h in sharers if not self._has(h, p)]
                if not lacking_items:
                    return _ok(span, "the item and history: " + ", ".join(h.title for h in sharers))
                if not weak:
                    names = " and ".join(f"'{h.title}'" for h in lacking_items[:2])
                    verb = "is" if len(lacking_items) == 1 else "are"
                    problem = f"says '{span.text}' is shared, but {names} {verb} not {span.text}"
                    return _bad(span, "unsupported_attribute", problem)
            if item_has and holders:
                return _ok(span, f"the item and history: {holders[0].title}")
            if weak:
                return None
            lacking = [f"'{h.title}'" for h in pool if h not in holders][:2] if item_has else [f"'{ctx.item.title}'"]
            verb = "is" if len(lacking) == 1 else "are"
            problem = f"says '{span.text}' is shared, but {' and '.join(lacking)} {verb} not {span.text}"
            return _bad(span, "unsupported_attribute", problem)
        if item_has:
            return _ok(span, "the item")
        if not weak and said_of_item(span.start, ctx):
            return _bad(span, "unsupported_attribute", f"calls '{ctx.item.title}' {span.text}, which it is not")
        general = [(w, t) for w, t in ctx.sources() if not w.startswith(("history:", "the item"))]
        for where, source in general:
            if _contains(phrase(source), p):
                return _ok(span, where)
        if weak and not holders:
            return None
        if holders:
            return _ok(span, f"history: {holders[0].title}")
        return _bad(span, "unsupported_attribute", f"says '{span.text}', but neither the item nor the history items "
                    "it names are that, and no intent says it")  # fmt: skip

    def _compared(
        self, span: Span, ctx: ReasonEvidence, p: tuple[str, ...], item_has: bool, weak: bool
    ) -> tuple[bool, Claim | None]:
        """(True, the claim) for a trait a comparison attributes (:mod:`genre.text.attribution`); (False, None) when
        the span is in no comparison. "<title> is Crime" must hold for that title; "unlike <title>, it is Comedy"
        must hold for the item and not for the title."""
        owner = owner_of(span.start, ctx)
        if owner is not None:
            if self._has(owner, p):
                return True, _ok(span, f"history: {owner.title}")
            # A weak phrase (a tag, part of a category) is often a plain word: no claim, as elsewhere.
            return True, None if weak else _bad(span, "unsupported_attribute", f"says '{owner.title}' is "
                                                f"{span.text}, which it is not")  # fmt: skip
        against = contrasted_with(span.start, ctx)
        if not against:
            return False, None
        sharing = [h for h in against if self._has(h, p)]
        if sharing:
            return True, _bad(span, "unsupported_attribute", f"sets the item apart from '{sharing[0].title}' by "
                              f"'{span.text}', but '{sharing[0].title}' is {span.text} too")  # fmt: skip
        if item_has:
            return True, _ok(span, "the item, unlike " + " and ".join(h.title for h in against))
        return False, None

    def _intent_phrase(self, span: Span, ctx: ReasonEvidence) -> Claim:
        """An intent label named in the text: supported, unless it is said of the item and one of its attribute
        words is not the item's ("you may enjoy a new animated family film" for a drama)."""
        label = ctx.intent[span.phrase]
        if said_of_item(span.start, ctx) or _FITS_INTEREST.search(ctx.plain[max(0, span.start - 60) : span.start]):
            words = [p for s, e, p in self.vocab.find(label) if p in self.vocab.strong]
            lacking = [label[s:e] for s, e, p in self.vocab.find(label) if p in words and not self._has(ctx.item, p)]
            if lacking:
                return _bad(span, "unsupported_attribute", f"calls '{ctx.item.title}' {span.text}, but it is not "
                            f"{' or '.join(lacking)}")  # fmt: skip
        return _ok(span, f"intent: {label}")

    def _sharers(self, span: Span, ctx: ReasonEvidence) -> list[Item]:
        """The history items a shared claim at ``span`` is about: the one "like <title>" points at, else every
        history item its sentence names (none when the sentence names none: "It is Drama too.")."""
        start, end = bounds(ctx.plain, span.start, SENTENCE_END)
        named = [(s, e, h) for (s, e), h in sorted(ctx.history_at.items()) if start <= s < end]
        for s, e, h in named:
            if re.search(r"\blike\s+(?:the\s+)?$", ctx.plain[max(start, s - 12) : s], re.IGNORECASE) and not (
                re.match(r"\s*(?:,\s*)?(?:and|&)\s", ctx.plain[e:end])
            ):
                return [h]
        return list({h.item_id: h for _, _, h in named}.values())

    def _history_item(self, title: str, ctx: ReasonEvidence) -> Item | None:
        return next((h for h in [*ctx.cited, *ctx.named, *ctx.history] if h.title == title), None)

    def _has(self, item: Item, p: tuple[str, ...]) -> bool:
        """Whether ``item`` has attribute phrase ``p``: as a field value, or in its own title or description."""
        return p in self._item_phrases(item) or _contains(phrase(f"{item.title} . {item.description}"), p)

    def _number(self, span: Span, text: str, ctx: ReasonEvidence) -> Claim:
        assert span.value is not None
        approximate = bool(_APPROX_BEFORE.search(text[max(0, span.start - 20) : span.start]))
        for where, source in ctx.sources():
            for value in numbers_in(source):
                if value == span.value or (approximate and value and abs(value - span.value) <= 0.1 * abs(value)):
                    return _ok(span, where)
        return _bad(span, "unsupported_number", f"says '{span.text}', a figure found in no evidence")


_FRAME_WORDS = frozenset(
    [
        "because",
        "since",
        "liked",
        "like",
        "enjoyed",
        "enjoy",
        "enjoys",
        "love",
        "loved",
        "loves",
        "might",
        "would",
        "should",
        "could",
        "will",
        "also",
        "fans",
        "picked",
        "pick",
        "picks",
        "next",
        "choice",
        "great",
        "think",
        "want",
    ]
)


def _long_titles(history: list[Item]) -> list[str]:
    """History titles of four or more words: found wherever the text writes them, cited or not. A headline such as
    "Methane-tracking satellite flags 120 large leaks" is mostly lowercase, so only its full text finds it (a
    compare reason may name the closest history item though no scorer cited it); short titles ("Heat") stay to
    the capitalization rules, as they are often plain words."""
    return [h.title for h in history if len(h.title.split()) >= 4]


def _describes(ctx: ReasonEvidence) -> bool:
    """Whether the text (titles blanked) says something of its own: two or more content words (compared by their
    first five letters) of the item's description, tags or attributes, or six content words in all."""
    own = {w[:5] for w in phrase(item_text(ctx.item)) if len(w) > 3} - {w[:5] for w in phrase(ctx.item.title)}
    content = [w for w in phrase(ctx.plain) if len(w) > 3 and w not in VACUOUS and w not in _FRAME_WORDS]
    # Six content words, or fourteen words in all, outside the titles is prose with something to say ("the
    # sleeper now runs daily from mid-December with a new stop"), not the bare "Because you liked X, you may
    # enjoy Y" frame.
    outside = re.findall(r"[^\W\d_]+", ctx.plain.replace("¤", " "))
    return len({w[:5] for w in content} & own) >= 2 or len(set(content)) >= 6 or len(outside) >= 14


def _contains(tokens: tuple[str, ...], p: tuple[str, ...]) -> bool:
    n = len(p)
    return any(tokens[i : i + n] == p for i in range(len(tokens) - n + 1))


def _ok(span: Span, evidence: str) -> Claim:
    return Claim(kind=span.kind, text=span.text, start=span.start, end=span.end, supported=True, evidence=evidence)


def _bad(span: Span, error: VerdictError, problem: str) -> Claim:
    return Claim(
        kind=span.kind, text=span.text, start=span.start, end=span.end, supported=False, problem=problem, error=error
    )
