"""The evidence-only prompt every generating reasoner sends, and how a reason is matched back to it.

:func:`build_prompt` lists the recommended item, the history items the scorers named, the
categories they share, the user's intent labels and the scorer that contributed most. The user's
free-text profile is never copied in, so it cannot smuggle instructions to the model; every
catalog string goes through :func:`~genre.text.hygiene.sanitize_user_text`.
:func:`prompt_with_units` also says where each piece of evidence sits in the prompt (for
generator attention), and :func:`mentioned_evidence` which history items a written reason names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from genre.components.reasoners.contrast import make_contrast
from genre.components.reasoners.plan import component_contributions, history_evidence, make_plan
from genre.components.reasoners.styles import Style
from genre.core.types import Item, ReasonRequest
from genre.text.hygiene import sanitize_user_text

__all__ = [
    "SYSTEM_PROMPT",
    "NamedHistory",
    "PromptUnit",
    "build_prompt",
    "liked_prefix",
    "mentioned_evidence",
    "named_history",
    "prompt_with_units",
    "style_prefix",
    "system_prompt",
]

SYSTEM_PROMPT = (
    "You explain product and media recommendations in one short, friendly sentence. "
    "Use only the facts you are given and never invent titles."
)

STYLED_SYSTEM_PROMPT = (
    "You explain product and media recommendations briefly, in a friendly tone, in exactly the shape asked for. "
    "Use only the facts you are given and never invent titles."
)


def system_prompt(style: Style) -> str:
    """The system turn for ``style`` (the one-line prompt asks for one sentence)."""
    return SYSTEM_PROMPT if style == "one-line" else STYLED_SYSTEM_PROMPT


# Scorer names in configs are free-form keys; these fragments cover the built-ins' usual names.
_SCORER_PHRASES: tuple[tuple[str, str], ...] = (
    ("popular", "it is popular with many users"),
    ("sasrec", "it follows on from what the user chose most recently"),
    ("sequen", "it follows on from what the user chose most recently"),
    ("content", "its description is close to items the user liked"),
    ("intent", "it matches what the user is looking for right now"),
    ("knn", "people who liked the same items also liked it"),
    ("ease", "people who liked the same items also liked it"),
    ("bpr", "people with similar taste liked it"),
    ("mf", "people with similar taste liked it"),
    ("collab", "people with similar taste liked it"),
    ("price", "its price fits the user's preferences"),
    ("categor", "its category fits the user's preferences"),
    ("attribute", "its attributes fit the user's preferences"),
)


def scorer_phrase(name: str) -> str:
    lowered = name.lower()
    for fragment, phrase in _SCORER_PHRASES:
        if fragment in lowered:
            return phrase
    return f"the {sanitize_user_text(name, 40)} score"


def catalog_text(text: str, max_chars: int = 160) -> str:
    """Catalog strings can come from user-supplied files too; keep them on one line and inert."""
    return sanitize_user_text(text, max_chars)


@dataclass
class NamedHistory:
    """The history items a reason may name: id, title as shown to the model, and the catalog item."""

    item_id: str
    title: str
    item: Item | None


def named_history(req: ReasonRequest, limit: int) -> list[NamedHistory]:
    """Distinct history evidence, strongest first, with titles deduplicated case-insensitively."""
    by_id = {h.item_id: h for h in req.history}
    out: list[NamedHistory] = []
    seen_titles: set[str] = set()
    # Ask for more than ``limit``: two evidence items may share a title and collapse into one.
    for ev in history_evidence(req, limit * 2 + 2):
        assert ev.item_id is not None  # history_evidence keeps only evidence with an item id
        item = by_id.get(ev.item_id)
        title = catalog_text(item.title if item is not None else ev.label)
        if not title or title.lower() in seen_titles:
            continue
        seen_titles.add(title.lower())
        out.append(NamedHistory(ev.item_id, title, item))
        if len(out) == limit:
            break
    return out


@dataclass(frozen=True)
class PromptUnit:
    """One piece of evidence in a prompt, by label and character span (``prompt[start:end]``)."""

    label: str
    """``item: <title>``, ``history: <title>``, ``shared categories``, ``intent`` or ``main reason``."""
    start: int
    end: int


class PromptWriter:
    """Lines of a prompt, remembering where each evidence unit lands in the joined text."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._units: list[tuple[str, int, int, int]] = []  # label, line, start and end within the line

    def add(self, *parts: str | tuple[str, str]) -> None:
        """Append one line; a ``(label, text)`` part is an evidence unit, a plain string is not."""
        line = ""
        for part in parts:
            if isinstance(part, tuple):
                label, text = part
                self._units.append((label, len(self.lines), len(line), len(line) + len(text)))
                line += text
            else:
                line += part
        self.lines.append(line)

    def done(self) -> tuple[str, list[PromptUnit]]:
        starts = [0]
        for line in self.lines:
            starts.append(starts[-1] + len(line) + 1)
        units = [PromptUnit(label, starts[n] + s, starts[n] + e) for label, n, s, e in self._units]
        return "\n".join(self.lines), units


def build_prompt(req: ReasonRequest, max_evidence: int = 3, style: Style = "one-line", max_words: int = 35) -> str:
    """A compact, evidence-only prompt asking for a reason in ``style`` about why ``req.item`` was recommended.

    It lists the item (title, categories, brand and price when known), the user's intent
    (summary or top labels, never the raw profile text), up to ``max_evidence`` history
    titles that drove the score, the categories they share with the item, and the scorer
    that contributed most. The ``short``, ``bullets`` and ``compare`` styles also get the closest
    history item and what is new about the item next to it (:mod:`.contrast`), and the task line
    asks for the style's shape within ``max_words`` words.
    """
    return prompt_with_units(req, max_evidence, style, max_words)[0]


def prompt_with_units(
    req: ReasonRequest, max_evidence: int = 3, style: Style = "one-line", max_words: int = 35
) -> tuple[str, list[PromptUnit]]:
    """:func:`build_prompt`'s text and where its evidence units are in it.

    Units: the recommended item's title, each history title listed, and the whole shared
    categories, intent and main-reason lines (when the prompt has them).
    """
    item = req.item
    title = catalog_text(item.title)
    details = []
    if item.categories:
        details.append("categories: " + ", ".join(catalog_text(c, 40) for c in item.categories[:5]))
    brand = item.attributes.get("brand")
    if isinstance(brand, str) and brand.strip():
        details.append(f"brand: {catalog_text(brand, 60)}")
    if item.price is not None:
        details.append(f"price: {item.price:.2f}")
    out = PromptWriter()
    out.add('Recommended item: "', (f"item: {title}", title), '"' + (f" ({'; '.join(details)})" if details else ""))

    named = named_history(req, max_evidence)
    if named:
        liked: list[str | tuple[str, str]] = ["The user liked: "]
        for n, e in enumerate(named):
            liked += [", " if n else "", '"', (f"history: {e.title}", e.title), '"']
        out.add(*liked)
        history_categories = {c.lower() for e in named if e.item is not None for c in e.item.categories}
        shared = [catalog_text(c, 40) for c in item.categories if c.lower() in history_categories]
        if shared:
            out.add(("shared categories", "Shared categories: " + ", ".join(shared[:4])))

    # The summary may itself be model-written from the profile, so it is sanitized like user text.
    if req.intent.summary and req.intent.summary.strip():
        out.add(("intent", "User's current interest: " + sanitize_user_text(req.intent.summary, 240)))
    elif req.intent.labels:
        top = sorted(req.intent.labels, key=lambda label: -label.probability)[:3]
        out.add(("intent", "User's current interests: " + ", ".join(catalog_text(t.label, 40) for t in top)))

    components = component_contributions(req)
    if components:
        dominant = max(components, key=lambda n: components[n])
        out.add(("main reason", f"Main reason it ranked high: {scorer_phrase(dominant)}"))

    closest = _contrast_lines(out, req, style) if style != "one-line" else None
    titles = (
        "Name at least one title the user liked from the list above, and mention no other title."
        if named or closest
        # Nothing in the history drove this score (cold start, profile-only users): ask for no titles.
        else "Do not mention any other title."
    )
    out.add(f"Task: {_task(style, title, closest, max_words)} {titles}")
    return out.done()


def _contrast_lines(out: PromptWriter, req: ReasonRequest, style: Style) -> str | None:
    """The closest liked item, what the item shares with it and what is new about it; its title, if any."""
    plan = make_plan(req)
    contrast = make_contrast(plan, req)
    if contrast.closest is None:
        return None
    closest = catalog_text(contrast.closest.title)
    out.add('Closest item the user liked: "', (f"history: {closest}", closest), '"')
    if contrast.shared:
        out.add(("shared", "Both have: " + ", ".join(t.words for t in contrast.shared)))
    if contrast.new:
        out.add(("new", "Only the recommended item has: " + ", ".join(t.words for t in contrast.new)))
    if contrast.theirs and style == "compare":
        out.add(("theirs", "Only the liked item has: " + ", ".join(contrast.theirs)))
    return closest


def _task(style: Style, title: str, closest: str | None, max_words: int) -> str:
    """What to write, in the style's shape and length."""
    if style == "short":
        return (
            f"Write 2 or 3 short sentences (at most {max_words} words in all) telling the user why they may like "
            f'"{title}": first the evidence, then what is new about it.'
        )
    if style == "bullets":
        return (
            f'Write 2 to 4 bullet points on why the user may like "{title}", each on its own line starting with '
            f'"- ", each one short sentence with one fact from above (at most {max_words} words in all).'
        )
    if style == "compare" and closest:
        return (
            f'Write 2 or 3 short sentences (at most {max_words} words in all) comparing "{title}" with '
            f'"{closest}": what they share and what only "{title}" has.'
        )
    low = min(12, max_words)
    return f'Write ONE sentence of {low}-{max_words} words telling the user why they may like "{title}".'


def style_prefix(req: ReasonRequest, style: Style) -> str:
    """The prefill for ``style``: "Because you liked <title>" (one-line, short), "- You liked <title>" (bullets),
    "Compared with <closest title>," (compare); empty when no history item drove the score."""
    if style == "compare":
        contrast = make_contrast(make_plan(req), req)
        return f"Compared with {catalog_text(contrast.closest.title)}," if contrast.closest is not None else ""
    named = named_history(req, 1)
    if not named:
        return ""
    return f"- You liked {named[0].title}" if style == "bullets" else f"Because you liked {named[0].title}"


def title_variants(title: str) -> list[str]:
    """Ways a model may write a title: as is, without a trailing "(1995)", with a moved article undone or dropped."""
    bare = re.sub(r"\s*\(\d{4}\)\s*$", "", title).strip()
    variants = {title, bare}
    # MovieLens writes "Lion King, The (1994)"; models write "The Lion King" or "Lion King (1994)".
    moved = re.fullmatch(r"(.+), (The|A|An)", bare)
    if moved:
        variants.update({f"{moved.group(2)} {moved.group(1)}", moved.group(1)})
        variants.add(re.sub(r", (?:The|A|An)(?=\s*\(\d{4}\)\s*$)", "", title))
    # Very short shortened forms ("Up", "It") would match ordinary words; only the full title counts then.
    return [v for v in variants if v == title or len(v) >= 4]


def mentions(text: str, phrase: str) -> bool:
    """Whether ``phrase`` occurs in ``text`` as whole words, ignoring case."""
    return re.search(r"(?<!\w)" + re.escape(phrase) + r"(?!\w)", text, re.IGNORECASE) is not None


def mentioned_evidence(req: ReasonRequest, text: str, max_evidence: int = 3) -> list[str]:
    """Ids of the prompt's history items (up to ``max_evidence``) whose title appears in ``text``."""
    ids = []
    for ev in named_history(req, max_evidence):
        titles = {ev.title} | ({ev.item.title} if ev.item is not None else set())
        if any(mentions(text, v) for t in titles for v in title_variants(t)):
            ids.append(ev.item_id)
    return ids


def liked_prefix(req: ReasonRequest) -> str:
    """ "Because you liked <strongest history title>": the prefill that makes a model name real evidence.

    Empty when no history item drove the score (nothing true to start from).
    """
    named = named_history(req, 1)
    return f"Because you liked {named[0].title}" if named else ""
