"""Styled reasons for the slotted reasoners: a reason as points, each a slotted sentence about the facts of one
template point.

A ``short``, ``bullets`` or ``compare`` reason is a few sentences. ``grounded`` and ``tuned-local`` write
it point by point: the template reason of the style (:mod:`genre.components.reasoners.styled`, which picks
the facts, their order and what fits the length bound) is split into points, and each point is
delexicalised (:func:`~genre.components.reasoners.delex.delexicalise`) to learn which slots it states:
``{hist1}``, ``{shared}``, ``{why}``, ``{intent}``, and the contrast slots ``{new}`` (what the item has
that its closest history item lacks) and ``{theirs}`` (what that item is and this one is not). The model
then writes each point in its own words with exactly those slots, so a model point claims what the
template point claims and nothing else; its words outside the slots are connecting words only. A point
whose template states something no slot holds (a figure, a profile match) is shown as the template wrote it.

The prompt of a point row names the style (``Style: bullets``): the tag the adapter learns to write by.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from genre.components.reasoners.contrast import describe, make_contrast
from genre.components.reasoners.delex import delexicalise
from genre.components.reasoners.plan import FactPlan, fill, join_words, plain
from genre.components.reasoners.slotted import judge_form, plan_problems, slot_problems
from genre.components.reasoners.styles import Style
from genre.core.types import ReasonRequest
from genre.text.hygiene import sentence_spans

__all__ = [
    "COMPARING_WORDS",
    "POINT_SYSTEM",
    "Candidate",
    "Point",
    "contrast_slots",
    "join_points",
    "own_words_after",
    "point_form",
    "point_messages",
    "point_openings",
    "point_problems",
    "points_of",
    "split_points",
]

COMPARING_WORDS = frozenset(
    {"unlike", "where", "whereas", "new", "instead", "different", "differs", "over", "apart", "sets"}
)
"""Words a styled point may use outside its slots besides the connecting words: a comparison needs them
("Unlike {hist1}, this one is {new}") and none of them says what an item is."""

POINT_SYSTEM = (
    "You write one point of a recommendation reason in the style you are given, as one short sentence with "
    "the slots you are given. Never write a title: write its slot in braces, such as {item} or {hist1}. Use "
    "every slot listed, and say only what the slots say."
)

_SLOT = re.compile(r"\{(\w+)\}")
_FACTS = ("hist1", "hist2", "shared", "alike", "intent", "why", "new", "theirs")
"""Slots a point may state, in the order the prompt lists them ({item} is always there)."""


@dataclass
class Candidate:
    """One sampled sentence for one item, before and after its slots were filled."""

    slotted: str
    text: str
    problems: list[str]
    fluency: float


@dataclass(frozen=True)
class Point:
    """One point of a styled reason: the template's text, and what a model point must state instead."""

    template: str
    """The template's point as shown (a sentence; a bullet without its "- ")."""
    slotted: str | None
    """The template point with its slots; None when it states something no slot holds, so only it may."""
    values: dict[str, str]
    """The slots a model point must use, with their text: those the template point states. Never ``{item}``:
    the reason sits under the item's title, and a point naming it says nothing."""

    @property
    def required(self) -> frozenset[str]:
        """The slots a model point must use: all of :attr:`values`."""
        return frozenset(self.values)


def contrast_slots(plan: FactPlan, request: ReasonRequest) -> dict[str, str]:
    """``{new}``, ``{alike}`` and ``{theirs}`` from the item's contrast with its closest history item, where it
    has them. ``{new}`` and ``{alike}`` follow "it" ("is Comedy", "comes from Vellmar"); ``{theirs}`` is a noun."""
    contrast = make_contrast(plan, request)
    out: dict[str, str] = {}
    if contrast.new:
        out["new"] = describe(contrast.new)
    if contrast.shared:
        out["alike"] = describe(contrast.shared)
    if contrast.theirs:
        out["theirs"] = join_words(list(contrast.theirs))
    return out


def split_points(text: str, style: Style) -> list[str]:
    """A styled reason's points: its bullet lines without "- ", or its sentences."""
    if style == "bullets":
        return [line.strip()[2:].strip() for line in text.split("\n") if line.strip().startswith("- ")]
    sentences, tail = sentence_spans(re.sub(r"\s+", " ", text).strip() + " ")
    return [s.strip() for s in sentences] + ([tail.strip()] if tail.strip() else [])


def join_points(points: list[str], style: Style) -> str:
    """Points back into one reason of ``style``: "- " lines for bullets, else one paragraph."""
    if style == "bullets":
        return "\n".join(f"- {p}" for p in points)
    return " ".join(points)


def points_of(plan: FactPlan, request: ReasonRequest, template: str, style: Style) -> list[Point]:
    """The template reason ``template`` as points, each with the slots it states (see the module docstring)."""
    extra = contrast_slots(plan, request)
    values = {**plan.slots(), **extra}
    facts = _fact_words(plan)
    out = []
    for text in split_points(template, style):
        slotted = delexicalise(text, plan, extra)
        used = [n for n in _SLOT.findall(slotted) if n in values]
        point_values = {n: values[n] for n in _FACTS if n in used}
        writable = bool(point_values) and "item" not in used and not _states_more(slotted, facts)
        out.append(Point(text, slotted if writable else None, point_values))
    return out


def _fact_words(plan: FactPlan) -> set[str]:
    """Words that state a fact of the item or its history (categories, tags, attribute values), lowercased."""
    words: set[str] = set()
    for item in (plan.item, *plan.history):
        values = [*item.categories, *item.tags, *(v for v in item.attributes.values() if isinstance(v, str))]
        words |= {w.lower() for v in values for w in re.findall(r"[^\W_]+", v) if len(w) > 2}
    return words


def _states_more(slotted: str, facts: set[str]) -> bool:
    """Whether a slotted point says something outside its slots: a figure, a name, a fact word, a bracket."""
    rest = _SLOT.sub(" ", slotted)
    words = re.findall(r"[^\W_]+", rest)
    named = any(w[:1].isupper() for w in words[1:])
    return bool(re.search(r"[\d(]", rest)) or named or any(w.lower() in facts for w in words)


def _describe(point: Point, style: Style, history: int) -> str:
    """The user turn of a point row: the style, then each slot of the point by role or value."""
    lines = [f"Style: {style}", "Slots:"]
    role = {"hist1": "an item the user liked", "hist2": "another item the user liked"}
    hists = " and ".join(f"{{hist{n}}}" for n in range(1, history + 1)) or "the user's history"
    for name in _FACTS:
        if name not in point.values:
            continue
        value = plain(point.values[name], 200)
        if name in role:
            lines.append(f"{{{name}}}: {role[name]}")
        elif name == "shared":
            lines.append(f"{{shared}}: {value} (what {{item}} shares with {hists})")
        elif name == "intent":
            lines.append(f"{{intent}}: {value} (the user's current interest)")
        elif name == "new":
            lines.append(f"{{new}}: {value} (follows 'it': what {{item}} is that the history is not)")
        elif name == "alike":
            lines.append(f"{{alike}}: {value} (follows 'it': what {{item}} and {{hist1}} both are)")
        elif name == "theirs":
            lines.append(f"{{theirs}}: {value} (what {{hist1}} is that {{item}} is not)")
        else:
            lines.append(f"{{{name}}}: {value}")
    return "\n".join(lines)


# Worked examples per style: a point's slots and a sentence written with all of them, connecting words only.
_POINT_SHOTS: dict[str, tuple[tuple[dict[str, str], str], ...]] = {
    "short": (
        (
            {"hist1": "x", "shared": "Climate and the heat tag"},
            "You liked {hist1}, and this one shares {shared} with it.",
        ),
        ({"hist1": "x", "new": "comes from Cairnline"}, "Next to {hist1}, this one {new}."),
        ({"intent": "coffee and tea brewing"}, "It also fits your current interest in {intent}."),
    ),
    "bullets": (
        ({"hist1": "x", "shared": "Outdoor & Camping"}, "It shares {shared} with {hist1}, which you liked."),
        ({"why": "85 people who rated {hist1} also rated it"}, "Since {why}, this is a safe bet."),
        ({"hist1": "x", "new": "is Comedy"}, "Unlike {hist1}, it {new}."),
    ),
    "compare": (
        ({"hist1": "x", "alike": "is Crime and Thriller"}, "Like {hist1}, this one {alike}."),
        ({"hist1": "x", "new": "is Education", "theirs": "Politics"}, "Where {hist1} is {theirs}, this one {new}."),
        ({"hist1": "x", "new": "comes from Vellmar"}, "Next to {hist1}, what is new is that it {new}."),
    ),
}


def point_messages(point: Point, style: Style, history: int, shots: bool = True) -> list[dict[str, str]]:
    """The chat of one point row: system turn, this style's worked examples (when ``shots``), the point."""
    chat = [{"role": "system", "content": POINT_SYSTEM}]
    for slots, answer in _POINT_SHOTS.get(style, ()) if shots else ():
        shot = Point(answer, answer, slots)
        chat += [
            {"role": "user", "content": _describe(shot, style, 1)},
            {"role": "assistant", "content": answer},
        ]
    chat.append({"role": "user", "content": _describe(point, style, history)})
    return chat


def point_openings(point: Point) -> list[str]:
    """Ways a model point may begin: a first clause with a slot it must use anyway, never the whole point (the
    model writes at least the clause that states the rest; see :func:`own_words_after`)."""
    need = point.required
    hist = next((h for h in ("hist1", "hist2") if h in need), None)
    out: list[str] = []
    if hist and "theirs" in need:
        out.append(f"Where {{{hist}}} is {{theirs}},")
    elif hist and "new" in need:
        out += [f"Unlike {{{hist}}},", f"Next to {{{hist}}},"]
    elif hist and ("alike" in need or "shared" in need):
        out += [f"Like {{{hist}}},", f"Because you liked {{{hist}}},"]
    elif hist and "why" not in need:
        out.append(f"Because you liked {{{hist}}},")
    if "why" in need and len(need) > 1:
        out.append("Since {why},")
    if "intent" in need and len(need) > 1:
        out.append("For your interest in {intent},")
    return out


def own_words_after(prefix: str, slotted: str) -> int:
    """Words the model wrote itself after the opening ``prefix`` (slots and punctuation not counted)."""
    rest = slotted[len(prefix) :] if slotted.startswith(prefix) else slotted
    return len(re.findall(r"[A-Za-z']+", _SLOT.sub(" ", rest)))


def point_problems(slotted: str, point: Point, plan: FactPlan) -> list[str]:
    """Why a model's slotted point cannot stand for the template point: unfillable slots, a slot it left out."""
    problems = slot_problems(slotted, point.values) + plan_problems(slotted, plan)
    used = set(_SLOT.findall(slotted))
    missing = sorted(point.required - used)
    if missing:
        problems.append("leaves out " + ", ".join("{" + n + "}" for n in missing))
    for name in ("new", "alike"):
        for before in re.findall(r"(\S*)\s*\{" + name + r"\}", slotted):
            if before.lower() not in _PREDICATE_LEADS:
                problems.append(f"{{{name}}} after '{before}' does not read as what it is")
    for after in re.findall(r"\{(?:new|alike|theirs)\}\s*([^\s,.;:!]*)", slotted):
        if after and after.lower() not in ("and", "too"):
            problems.append(f"runs on after its fact: '{after}'")
    if "new" not in point.values and re.search(r"\bnew\b", _SLOT.sub(" ", slotted), re.IGNORECASE):
        problems.append("calls something new that no {new} slot says")
    for before in re.findall(r"(\S*)\s*\{theirs\}", slotted):
        if before.lower() not in ("is", "was"):
            problems.append(f"{{theirs}} after '{before}' does not read as what that item is")
    if re.search(r"\bit and it\b|\bboth it\b", slotted, re.IGNORECASE):
        problems.append("'it' stands for two things at once")
    opening = re.match(r"^(where|whereas|while)\b[^,]*,\s*(\S+)", slotted, re.IGNORECASE)
    if opening and opening.group(2).lower() not in ("this", "it"):
        problems.append(f"no main clause after '{opening.group(1)} …,' (it goes on with '{opening.group(2)}')")
    bare = _SLOT.sub("{}", slotted)  # slot names are no words ("{new}" says nothing new)
    for pattern, problem in _READS_WRONG:
        if re.search(pattern, bare, re.IGNORECASE):
            problems.append(problem)
    if "{intent}" in slotted and not re.search(r"\byour (?:current )?interests? in \{intent\}", slotted, re.I):
        problems.append("names {intent} without saying it is your interest")
    own = re.findall(r"[a-z']+", _SLOT.sub(" ", slotted).lower())
    if any(w in _NEGATIONS or w.endswith("n't") for w in own):
        problems.append("a negation of its own (a point may only state its slots)")
    if len(own) > _MAX_OWN:
        problems.append(f"too many words of its own: {len(own)} (at most {_MAX_OWN})")
    return problems


_READS_WRONG: tuple[tuple[str, str], ...] = (
    (r"\b(?:here|what|that|there)['’]s\b", "a contraction that reads as chat ('here's', 'what's')"),
    (r"^(?:because|since|if)\b[^,]*,\s*(?:and|but|so|or)\b", "no main clause after its opening ('Because …, and')"),
    (r"\bthe most\b", "a superlative of its own ('the most …')"),
    (r"(?<!what is )\bnew\b|\bnew\b(?! is that)", "says 'new' outside 'what is new is that it {new}'"),
)
"""Shapes a point may not take, each with the problem it is reported as (seen in grounded points on fresh runs)."""
_PREDICATE_LEADS = frozenset({"it", "one", "this", "which", "that", "and", "also", "both"})
"""Words after which ``{new}``/``{alike}`` (a predicate such as "is Comedy") reads as a sentence."""
_NEGATIONS = frozenset({"not", "no", "never", "nor", "neither", "without", "cannot"})
_MAX_OWN = 12
"""Words a point may hold outside its slots: a point states one or two facts, in a short sentence."""


def point_form(text: str, point: Point, plan: FactPlan, max_words: int, categories: list[str]) -> list[str]:
    """The grounded form judge on a filled point, its contrast values read as slots (not the model's own words)."""
    masked = text
    for name in ("new", "theirs"):
        if name in point.values:
            masked = masked.replace(point.values[name], "¶")
    problems = judge_form(masked, plan, 1, 10_000, categories)
    # A point states its own facts (checked by point_problems), not necessarily the plan's main one.
    problems = [p for p in problems if not p.startswith(("states no fact", "too short", "too long"))]
    words = len(text.split())
    if words < 4:
        problems.append(f"too short: {words} words (at least 4)")
    if words > max_words:
        problems.append(f"too long: {words} words (at most {max_words})")
    return problems


def filled(slotted: str, point: Point) -> str:
    """A slotted point filled from its values, capitalised."""
    text = fill(slotted, point.values)
    return text[:1].upper() + text[1:]
