"""Slotted writing: the few-shot prompt that shows a fact plan as slots, and the checks on what comes back.

The model never sees a title: ``{item}``, ``{hist1}`` and ``{hist2}`` are described by role, while
``{shared}``, ``{intent}`` and ``{why}`` show their (title-free or slotted) values so the model
knows what they say. :func:`slot_problems` rejects a slotted text whose slots the plan cannot
fill; :func:`judge_form` rejects a filled text for its form and for claims the model wrote itself
(outside the filled slots) that the plan does not back.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from genre.components.reasoners.plan import FactPlan, plain
from genre.text.hygiene import sentence_spans

__all__ = ["SYSTEM", "describe", "judge_form", "messages", "openings", "plan_problems", "slot_problems"]

SYSTEM = (
    "You explain a recommendation in one short sentence, written with the slots you are given. Never write a "
    "title: write its slot in braces, such as {item} or {hist1}. Say only what the slots say."
)

_SLOT = re.compile(r"\{(\w*)\}")

# Few-shot turns: a plan as slots, and a sentence written with them. They cover plans with and
# without {shared}, {intent} and a {why} that names a history slot, never name a history slot that
# their {why} already names, and call the item "this" (the reason sits under its title).
_SHOTS: tuple[tuple[dict[str, str], str], ...] = (
    (
        {
            "hist1": "an item the user liked",
            "hist2": "another item the user liked",
            "shared": "Crime and Thriller (what {item} shares with {hist1} and {hist2})",
            "why": "85 people who rated {hist1} also rated it",
        },
        "Since {why}, this is a safe bet, and it shares {shared} with {hist2}.",
    ),
    (
        {
            "hist1": "an item the user liked",
            "shared": "Kitchen & Dining and the Calder Brew brand (what {item} shares with {hist1})",
            "intent": "coffee and tea brewing (the user's current interest)",
            "why": "it is popular, with 1,204 reviews",
        },
        "Because you liked {hist1}, this should suit you: it shares {shared} with it and fits your interest "
        "in {intent}.",
    ),
    (
        {
            "hist1": "an item the user liked",
            "hist2": "another item the user liked",
            "why": "it is often picked right after {hist1}",
        },
        "If you enjoyed {hist2}, try this one next, because {why}.",
    ),
    (
        {
            "hist1": "an item the user liked",
            "hist2": "another item the user liked",
            "shared": "Climate and a focus on Europe (what {item} shares with {hist1} and {hist2})",
            "why": "it is close in description to {hist1}",
        },
        "{item} shares {shared} with {hist2}, and {why}.",
    ),
)


def describe(slots: dict[str, str]) -> str:
    """The user turn: every slot the plan has, by role or value, and the task."""
    lines = ["Slots:", "{item}: the recommended item"]
    for name in ("hist1", "hist2", "shared", "intent", "why"):
        if name in slots:
            lines.append(f"{{{name}}}: {slots[name]}")
    return "\n".join(lines)


def plan_descriptions(plan: FactPlan) -> dict[str, str]:
    """The plan's slots as the prompt shows them: titles by role, the other slots by value."""
    out: dict[str, str] = {}
    if len(plan.history) >= 1:
        out["hist1"] = "an item the user liked"
    if len(plan.history) >= 2:
        out["hist2"] = "another item the user liked"
    slots = plan.slots()
    hists = " and ".join(f"{{hist{n}}}" for n in range(1, len(plan.history) + 1))
    if "shared" in slots:
        out["shared"] = f"{slots['shared']} (what {{item}} shares with {hists})"
    if "intent" in slots:
        out["intent"] = f"{slots['intent']} (the user's current interest)"
    if plan.why is not None:
        out["why"] = plain(plan.why.phrase.replace("{intent}", slots.get("intent", "")), 200)
    return out


def messages(plan: FactPlan, shots: bool = True) -> list[dict[str, str]]:
    """The chat: system turn, the few-shot turns (when ``shots``), then this plan's slots."""
    chat = [{"role": "system", "content": SYSTEM}]
    for slots, answer in _SHOTS if shots else ():
        chat += [{"role": "user", "content": describe(slots)}, {"role": "assistant", "content": answer}]
    chat.append({"role": "user", "content": describe(plan_descriptions(plan))})
    return chat


def openings(plan: FactPlan) -> list[str]:
    """Ways a candidate may begin, each using only slots the plan has (and never the history slot {why} names)."""
    slots = plan.slots()
    why_hist = plan.why.hist if plan.why is not None else None
    free = [f"hist{n}" for n in range(1, len(plan.history) + 1) if f"hist{n}" != why_hist]
    out: list[str] = []
    if free:
        out += [f"Because you liked {{{free[0]}}},", f"If you enjoyed {{{free[0]}}},"]
    if "why" in slots:
        out.append("Since {why},")
    if "shared" in slots and plan.history:
        out.append("It shares {shared} with")
    if "intent" in slots:
        out.append("For your interest in {intent},")
    return out or ["You may enjoy {item}"]


def slot_problems(slotted: str, slots: dict[str, str]) -> list[str]:
    """Why a slotted text cannot be filled: unknown slots, stray braces or brackets, a slot used twice."""
    problems: list[str] = reading_problems(slotted)
    names = _SLOT.findall(slotted)
    unknown = sorted({n for n in names if n not in slots})
    if unknown:
        problems.append("unknown slot: " + ", ".join("{" + n + "}" for n in unknown))
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        problems.append("slot used twice: " + ", ".join("{" + n + "}" for n in twice))
    # "share" says the item and the history have something in common: only {shared} says what.
    for word, after in re.findall(r"\b(share|shares|shared|sharing)\b\s*([^\s,.;:]*)", slotted, re.IGNORECASE):
        if after != "{shared}":
            what = after if after.startswith("{") else f"'{after}'"
            problems.append(f"says it shares {what}" if after.startswith("{") else f"says it {word.lower()} {what}")
    for before, _ in re.findall(r"(^|\S+)\s*(\{why\})", slotted):
        if before and before.lower().rstrip(",:;-—") not in _WHY_LEADS and before[-1] not in ",:;-—":
            problems.append(f"{{why}} after '{before}' does not read as a reason")
    for after in re.findall(r"\{why\}\s*([^\s,.;:!]*)", slotted):
        if after and after.lower() not in ("and", "so", "too"):
            problems.append(f"runs on after {{why}}: '{after}'")
    for before, _ in re.findall(r"(^|\S+)\s*(\{intent\})", slotted):
        if before.lower() not in _INTENT_LEADS:
            problems.append(f"{{intent}} after '{before}' does not read as an interest")
    for name in re.findall(r"interest\s+in\s+\{(\w+)\}", slotted, flags=re.IGNORECASE):
        if name != "intent":
            problems.append(f"calls {{{name}}} the user's interest")
    for partner in re.findall(r"\{shared\}\s+with\s+([^\s,.;:]+)", slotted):
        if not partner.startswith("{hist") and partner.lower() not in _PARTNERS:
            problems.append(f"says it shares {{shared}} with '{partner}', which is no history slot")
    for before in re.findall(r"(\w+)\W*\{item\}", slotted):
        if before.lower() in _NOT_BEFORE_ITEM:
            problems.append(f"{{item}} after '{before}' talks of the item as something else")
    for lead, name in re.findall(r"\b(because|since|as)\s+\{(hist\d|item)\}\s*(?:[.,;:!]|$)", slotted, re.I):
        problems.append(f"'{lead.lower()} {{{name}}}' gives no reason")
    own = [w.lower() for w in re.findall(r"[A-Za-z']+", _SLOT.sub(" ", slotted))]
    again = sorted({w for w in own if own.count(w) > 1 and w not in _MAY_REPEAT})
    if again:
        problems.append("says again: " + ", ".join(again))
    if re.search(r"^it shares \{shared\} with \{\w+\} too\.?$", slotted.strip(), re.I):
        problems.append("'too' with nothing before it")
    headless = _NO_MAIN_CLAUSE.match(slotted)
    if headless:
        problems.append(f"no main clause after '{headless.group(1).strip()}'")
    rest = _SLOT.sub("", slotted)
    if "{" in rest or "}" in rest:
        problems.append("unfilled brace left in the text")
    if re.search(r"\[[^\]]*\]", rest):
        problems.append("a bracketed placeholder that is no slot")
    return problems


_MAY_REPEAT = frozenset(
    {"a", "an", "the", "and", "it", "its", "it's", "this", "that", "with", "your", "you", "to", "of", "in", "is", "for"}
)
"""Words a sentence may use twice outside its slots; any other word said twice ("try this one next, and …
try it next") is the model going round in circles."""
_NO_MAIN_CLAUSE = re.compile(
    r"^((?:right\s+)?(?:after|like|with|for)\b[^,.;:]*),\s*(?:and|because|since|but|so|as)\b", re.IGNORECASE
)
"""An opening phrase with no verb ("Right after {hist1},") followed straight by a conjunction: no sentence."""


def plan_problems(slotted: str, plan: FactPlan) -> list[str]:
    """Claims a slotted text makes with connecting words that its plan does not back.

    "after {hist1}" says the item follows that one in time: only a sequential scorer citing that item says so.
    """
    problems: list[str] = []
    why = plan.why
    for name in re.findall(r"\bafter\s+\{(hist\d)\}", slotted, re.IGNORECASE):
        if why is None or why.kind != "sequence" or why.hist != name:
            problems.append(f"says it comes after {{{name}}}, but no sequence scorer said so")
    return problems


# A slot reads as its plan meant it only in some places: "it shares {intent}" claims the history has the
# user's intent, and "{why}" is a clause that must follow a break or a conjunction.
_SHARE_WORDS = frozenset({"share", "shares", "shared", "sharing"})
_WHY_LEADS = frozenset({"because", "since", "as", "and", "so", "for", "while", "plus"})
_INTENT_LEADS = frozenset({"in", "for", "of", "about", "with", "towards", "toward", "on"})
_PARTNERS = frozenset({"it", "them", "both", "each", "these", "those"})
"""Words that may follow "shares {shared} with" besides a history slot (they refer back to one)."""
_NOT_BEFORE_ITEM = frozenset({"with", "in", "after", "to", "like", "than", "share", "shares", "enjoyed", "liked"})
"""Words after which {item} would make the recommended item its own evidence ("it shares Drama with {item}")."""
_META = re.compile(r"\b(?:the user|users?'s|answer|example|sentence|slots?|prompt)\b", re.IGNORECASE)


# ---- form and the model's own claims ------------------------------------------------------------

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_MAX_OWN_WORDS = 18
"""Words a reason may hold besides its filled slots: the more the model says itself, the more it invents."""
_MARKUP = re.compile(r"<[^>]+>|\*\*|__|`|^#+\s|\[[^\]]*\]\(")


def judge_form(text: str, plan: FactPlan, min_words: int, max_words: int, categories: Sequence[str] = ()) -> list[str]:
    """Form problems of a filled reason, and claims outside its filled slots that the plan does not back.

    ``categories`` are the catalog's category names: one the model wrote itself that the item lacks
    ("a Sci-Fi adventure" under a drama) is a false claim.
    """
    problems: list[str] = []
    words = text.split()
    if len(words) < min_words:
        problems.append(f"too short: {len(words)} words (at least {min_words})")
    if len(words) > max_words:
        problems.append(f"too long: {len(words)} words (at most {max_words})")
    sentences, tail = sentence_spans(text.strip() + " ")
    if tail or not sentences:
        problems.append("unfinished sentence")
    grams = [tuple(w.lower() for w in _WORD.findall(text)[i : i + 3]) for i in range(len(_WORD.findall(text)) - 2)]
    repeated = sorted({" ".join(g) for g in grams if grams.count(g) > 1})
    if repeated:
        problems.append("repeats: " + "; ".join(repeated[:3]))
    facts = [v for k, v in plan.slots().items() if k in ("shared", "intent", "why")]
    if facts and not any(v.lower() in text.lower() for v in facts):
        problems.append("states no fact of the plan (what it shares, the intent or the main reason)")
    lowered = text.lower()
    twice = [t for t in (plain(h.title) for h in (plan.item, *plan.history)) if lowered.count(t.lower()) > 1]
    if twice:
        problems.append("names a title twice: " + ", ".join(twice))
    own = _own_words(text, plan)
    own_words = [w for w in _WORD.findall(own)]
    if len(own_words) > _MAX_OWN_WORDS:
        problems.append(f"too many words of its own: {len(own_words)} (at most {_MAX_OWN_WORDS})")
    if re.search(r"\d", own):
        problems.append("a number the model wrote itself: " + ", ".join(re.findall(r"\d[\d,.]*", own)[:3]))
    if _MARKUP.search(own):
        problems.append("markup in the text")
    letters = [ch for ch in own if ch.isalpha()]
    if letters and sum(ch.isascii() for ch in letters) < 0.9 * len(letters):
        problems.append("not written in English")
    meta = _META.search(own)
    if meta:
        problems.append(f"talks about the task or 'the user': {meta.group()}")
    doubled = re.search(r"\b(\w+)\s+\1\b", text, flags=re.IGNORECASE)
    if doubled and not doubled.group(1).isdigit():
        problems.append(f"repeats a word: {doubled.group(0)}")
    if re.search(r"[\"“”]", own):
        problems.append("quoted text that is no slot")
    own_categories = {c.lower() for c in plan.item.categories}
    claimed = [c for c in categories if c.lower() not in own_categories and _says(own, c)]
    if claimed:
        problems.append("says what the item is not: " + ", ".join(claimed[:3]))
    for c in plan.item.categories:
        own = re.sub(re.escape(c), " ¶ ", own, flags=re.IGNORECASE)
    names = _names(own)
    if names:
        problems.append("a name the model wrote itself: " + ", ".join(names[:3]))
    return problems


def _says(text: str, phrase: str) -> bool:
    """Whether ``phrase`` (a category) occurs in ``text`` as whole words, ignoring case and a plural s."""
    return re.search(r"(?<!\w)" + re.escape(phrase) + r"s?(?!\w)", text, re.IGNORECASE) is not None


def _names(text: str) -> list[str]:
    """Runs of two or more capitalized words not opening a sentence: titles or names the model wrote."""
    found: list[str] = []
    run: list[str] = []
    opening = True
    for match in re.finditer(r"[^\W_]+(?:['’-][^\W_]+)*|[.!?¶]", text):
        word = match.group()
        if word in ".!?¶":
            opening = word != "¶"
            run = _flush(run, found)
            continue
        if (word[:1].isupper() and not opening and word != "I") or (run and word.lower() in _CONNECTORS):
            run.append(word)
        else:
            run = _flush(run, found)
        opening = False
    _flush(run, found)
    return found


_CONNECTORS = frozenset({"of", "the", "and", "in", "a", "on"})


def _flush(run: list[str], found: list[str]) -> list[str]:
    while run and run[-1].lower() in _CONNECTORS:
        run = run[:-1]
    if sum(w[:1].isupper() for w in run) >= 2:
        found.append(" ".join(run))
    return []


def _own_words(text: str, plan: FactPlan) -> str:
    """``text`` with every plan value (titles, shared, intent, why) blanked: what the model wrote itself."""
    own = text
    values = sorted(plan.slots().values(), key=len, reverse=True)
    for value in values:
        if value:
            own = own.replace(value, " ¶ ")
    return own


def reading_problems(slotted: str) -> list[str]:
    """Ways a slotted sentence reads wrong that a person rejected in the labelled after-round.

    Two "because"/"since" clauses in one sentence; "you liked {histN}" as the consequence of a reason; "it"
    compared with before anything was named; the item listed among what it shares a trait with; "your
    (current) interest" left unnamed.
    """
    problems: list[str] = []
    lowered = slotted.lower()
    if len(re.findall(r"\b(?:because|since)\b", lowered)) > 1:
        problems.append("gives two reasons ('because'/'since' twice)")
    if re.search(r"(?:\{why\}|\bto \{hist\d\}|\bthan \{hist\d\})\s*,\s*you (?:liked|enjoyed|loved)\b", lowered):
        problems.append("makes the user's liking a consequence ('…, you liked {hist}')")
    opening = re.match(r"^(?:it|this)\b(.*?)\bwith it\b", lowered)
    if opening and "{hist" not in opening.group(1):
        problems.append("says 'with it' before naming anything 'it' could be")
    if re.search(r"\{hist\d\}\s*(?:,|and|&)\s*\{item\}", slotted):
        problems.append("lists {item} among what it is compared with")
    if re.search(r"\byour (?:current )?interests?\b(?!\s+in\s+\{intent\})", lowered):
        problems.append("mentions 'your interest' without naming it ({intent})")
    return problems
