"""Generated reasons: a small local LLM, any local transformers model, or an OpenAI-compatible server.

Every generator sees the same compact, evidence-only prompt (:func:`build_prompt`): the
recommended item, the history items the scorers named, the categories they share, the
user's intent labels and the scorer that contributed most. The user's free-text profile is
never copied in, so it cannot smuggle instructions to the model. Whatever the model writes
goes through :func:`clean_reason`; an item whose text comes back empty, or whose endpoint
fails, gets the deterministic template reason instead, so a reasoner never fails a run.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import os
import re
import threading
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
from abc import ABC, abstractmethod
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, field_validator

from genre.components.env import Env
from genre.components.reasoners.template import TemplateReasoner, history_evidence
from genre.core.component import Component, ComponentConfig
from genre.core.errors import ConfigError, ModelUnavailableError
from genre.core.types import Item, ReasonOut, ReasonRequest
from genre.explain.attention import reason_evidence_attention
from genre.models import Generator, load_generator

if TYPE_CHECKING:
    import torch

__all__ = [
    "SYSTEM_PROMPT",
    "HFLocalReasoner",
    "LocalLLMReasoner",
    "OpenAICompatibleReasoner",
    "PromptUnit",
    "build_prompt",
    "clean_reason",
    "mentioned_evidence",
    "prompt_with_units",
    "sanitize_user_text",
]

SYSTEM_PROMPT = (
    "You explain product and media recommendations in one short, friendly sentence. "
    "Use only the facts you are given and never invent titles."
)
MAX_REASON_WORDS = 45

# ---- text hygiene -------------------------------------------------------------------------

# Phrases that try to re-steer a model. They are replaced, not deleted, so a reader of the
# prompt can still see that something was there.
_INJECTION_PATTERNS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\b(?:ignore|disregard|forget|override|skip)\s+(?:all\s+|any\s+|the\s+|your\s+|of\s+)*"
        r"(?:previous|prior|above|earlier|preceding|former|system|original)?\s*"
        r"(?:instructions?|prompts?|rules?|directions?|context|messages?|guidelines?)\b",
        r"\b(?:new|updated|real|actual)\s+instructions?\s*:",
        r"\byou\s+are\s+now\b",
        r"\bact\s+as\s+(?:an?\s+)?(?:different|new|unrestricted)\b",
        r"\b(?:system|assistant|user|developer)\s*:",
        r"<\|[^|>]{0,40}\|>",  # chat-template control tokens such as <|im_start|>
        r"\[/?(?:INST|SYS)\]|<</?SYS>>",
        r"#{2,}\s*(?:instruction|system|response)s?\b",
    )
]
_NEUTRALIZED = "[removed]"


def sanitize_user_text(text: str, max_chars: int = 2000) -> str:
    """User-supplied text made safe to place inside a prompt.

    Control and format characters go (they can hide text or fake line structure), runs of
    whitespace become one space, instruction-like phrases ("ignore previous instructions",
    "system:", chat-template tokens) become ``[removed]``, and the result is cut to
    ``max_chars`` at a word boundary where one is near.
    """
    if max_chars <= 0:
        return ""
    # Control and zero-width/bidi format characters become spaces so words on either side stay apart.
    cleaned = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf") else ch for ch in text)
    for pattern in _INJECTION_PATTERNS:
        cleaned = pattern.sub(_NEUTRALIZED, cleaned)
    cleaned = re.sub(r"\s+", " ", cleaned).strip()
    if len(cleaned) <= max_chars:
        return cleaned
    cut = cleaned[:max_chars]
    space = cut.rfind(" ")
    # Only back up to a word boundary when that loses little; one huge token is still cut.
    if space >= max_chars * 0.8:
        cut = cut[:space]
    return cut.rstrip()


# Small models like to open with chatter before the sentence that matters. Each part is
# optional and anchored, so a reason that merely starts with "Great" or "Here" is left alone.
_PREAMBLE = re.compile(
    r"""^\s*
    (?:(?:sure|certainly|of\s+course|absolutely|okay|ok|alright|great|no\s+problem)\s*[,!.]\s*)?
    (?:here(?:'s|\s+is|\s+are)\b[^:\n]{0,80}?:\s*)?
    (?:(?:reason|explanation|answer|recommendation|sentence|output|response)\s*(?:\(\d+\s*words?\))?\s*:\s*)?
    """,
    re.IGNORECASE | re.VERBOSE,
)
_ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "st", "jr", "sr", "vs", "no", "vol", "mt", "ft", "etc", "inc", "ltd", "co", "prof"}
)
_OPENING_QUOTES = "\"'`“‘«"
_CLOSING_QUOTES = "\"'`”’»"


def _sentence_spans(text: str) -> tuple[list[str], str]:
    """Complete sentences and the unfinished tail.

    A sentence ends at ., ! or ? (plus closing quotes) followed by whitespace, but not after an
    abbreviation or initials ("Mr.", "L.A."), which are common inside titles.
    """
    sentences: list[str] = []
    start = 0
    for match in re.finditer(r"[.!?]+[\"'”’)]*\s+", text):
        before = text[start : match.start()].split()
        last = before[-1].lower().lstrip("(\"'“‘").rstrip(".") if before else ""
        if text[match.start()] == "." and (last in _ABBREVIATIONS or re.fullmatch(r"(?:[a-z]\.)*[a-z]", last)):
            continue
        sentences.append(text[start : match.end()].strip())
        start = match.end()
    return sentences, text[start:].strip()


def _split_sentences(text: str) -> list[str]:
    sentences, tail = _sentence_spans(text)
    return [*sentences, tail] if tail else sentences


def _reason_is_complete(text: str) -> bool:
    """Whether :func:`clean_reason` would keep nothing more of ``text`` than it already has.

    True once there is one finished sentence of 12+ words, or two finished sentences; lets
    generation stop early instead of writing tokens that would be cut anyway.
    """
    sentences, tail = _sentence_spans(text.strip() + " ")
    if tail or not sentences:
        return False
    return len(sentences) >= 2 or len(sentences[0].split()) >= 12


def _strip_wrapping_quotes(text: str) -> str:
    """Remove quotes around the whole reason, keeping quotes that belong to a title inside it."""
    for _ in range(2):
        if len(text) >= 2 and text[0] in _OPENING_QUOTES:
            inner = text[1:]
            closing = _CLOSING_QUOTES[_OPENING_QUOTES.index(text[0])]
            # A wrapped reason: the only other quote of this kind is the very last character.
            if inner.rstrip(".!? ").endswith(closing) and inner.rstrip(".!? ")[:-1].count(closing) == 0:
                body = inner.rstrip(".!? ")[:-1]
                text = body + inner[len(inner.rstrip(".!? ")) :]
                continue
            # A lone opening quote with no partner anywhere.
            if text[0] == '"' and text.count('"') % 2 == 1:
                text = inner
                continue
        break
    return text.strip()


def clean_reason(text: str) -> str:
    """A model's raw output reduced to a reason: one or two sentences, at most ~45 words, ending in a period.

    Strips "Sure, here is…" openers, markdown, bullets and wrapping quotes; drops a trailing
    sentence that was cut off mid-way; closes a title quote the model left open. Returns ``""``
    when nothing usable is left, which the reasoners treat as "fall back to the template".
    """
    text = re.sub(r"\s+", " ", text).strip()
    # Repeat: models sometimes stack openers and markup ("**Sure!** Here's the sentence: ...").
    for _ in range(3):
        before = text
        text = re.sub(r"(\*\*|__|`+|~~)", "", text)
        text = re.sub(r"^(?:#+|[-*•>]|\d+[.)])\s+", "", text)
        text = _PREAMBLE.sub("", text, count=1)
        text = _strip_wrapping_quotes(text)
        if text == before:
            break
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # markdown links keep their words
    if not re.search(r"\w", text):
        return ""

    sentences, tail = _sentence_spans(text + " ")
    kept = sentences[:1] or [tail]
    # A short first sentence ("Great choice!") says little; the second one carries the reason.
    if len(sentences) > 1 and len(kept[0].split()) < 12:
        kept.append(sentences[1])
    words = " ".join(kept).split()[:MAX_REASON_WORDS]
    out = " ".join(words).rstrip(" ,;:-–—(")
    # End on a period, outside any closing quote: 'the movie "Heat."' becomes 'the movie "Heat".'
    match = re.search(r"[.!?…]*([\"”’»)]*)[.!?…]*$", out)
    closers = match.group(1) if match else ""
    out = out[: match.start()] if match else out
    out = out.rstrip(" ,;:-–—(") + closers
    if out.count('"') % 2 == 1:
        out += '"'
    if out.count("“") > out.count("”"):
        out += "”"
    if not re.search(r"\w", out):
        return ""
    return out + "."


# ---- the prompt ---------------------------------------------------------------------------

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


def _scorer_phrase(name: str) -> str:
    lowered = name.lower()
    for fragment, phrase in _SCORER_PHRASES:
        if fragment in lowered:
            return phrase
    return f"the {sanitize_user_text(name, 40)} score"


def _catalog_text(text: str, max_chars: int = 160) -> str:
    """Catalog strings can come from user-supplied files too; keep them on one line and inert."""
    return sanitize_user_text(text, max_chars)


@dataclass
class _Named:
    """The history items a reason may name: id, title as shown to the model, and the catalog item."""

    item_id: str
    title: str
    item: Item | None


def _named_history(req: ReasonRequest, limit: int) -> list[_Named]:
    """Distinct history evidence, strongest first, with titles deduplicated case-insensitively."""
    by_id = {h.item_id: h for h in req.history}
    out: list[_Named] = []
    seen_titles: set[str] = set()
    # Ask for more than ``limit``: two evidence items may share a title and collapse into one.
    for ev in history_evidence(req, limit * 2 + 2):
        assert ev.item_id is not None  # history_evidence keeps only evidence with an item id
        item = by_id.get(ev.item_id)
        title = _catalog_text(item.title if item is not None else ev.label)
        if not title or title.lower() in seen_titles:
            continue
        seen_titles.add(title.lower())
        out.append(_Named(ev.item_id, title, item))
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


class _PromptWriter:
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


def build_prompt(req: ReasonRequest, max_evidence: int = 3) -> str:
    """A compact, evidence-only prompt asking for one sentence about why ``req.item`` was recommended.

    It lists the item (title, categories, brand and price when known), the user's intent
    (summary or top labels, never the raw profile text), up to ``max_evidence`` history
    titles that drove the score, the categories they share with the item, and the scorer
    that contributed most.
    """
    return prompt_with_units(req, max_evidence)[0]


def prompt_with_units(req: ReasonRequest, max_evidence: int = 3) -> tuple[str, list[PromptUnit]]:
    """:func:`build_prompt`'s text and where its evidence units are in it.

    Units: the recommended item's title, each history title listed, and the whole shared
    categories, intent and main-reason lines (when the prompt has them).
    """
    item = req.item
    title = _catalog_text(item.title)
    details = []
    if item.categories:
        details.append("categories: " + ", ".join(_catalog_text(c, 40) for c in item.categories[:5]))
    brand = item.attributes.get("brand")
    if isinstance(brand, str) and brand.strip():
        details.append(f"brand: {_catalog_text(brand, 60)}")
    if item.price is not None:
        details.append(f"price: {item.price:.2f}")
    out = _PromptWriter()
    out.add('Recommended item: "', (f"item: {title}", title), '"' + (f" ({'; '.join(details)})" if details else ""))

    named = _named_history(req, max_evidence)
    if named:
        liked: list[str | tuple[str, str]] = ["The user liked: "]
        for n, e in enumerate(named):
            liked += [", " if n else "", '"', (f"history: {e.title}", e.title), '"']
        out.add(*liked)
        history_categories = {c.lower() for e in named if e.item is not None for c in e.item.categories}
        shared = [_catalog_text(c, 40) for c in item.categories if c.lower() in history_categories]
        if shared:
            out.add(("shared categories", "Shared categories: " + ", ".join(shared[:4])))

    # The summary may itself be model-written from the profile, so it is sanitized like user text.
    if req.intent.summary and req.intent.summary.strip():
        out.add(("intent", "User's current interest: " + sanitize_user_text(req.intent.summary, 240)))
    elif req.intent.labels:
        top = sorted(req.intent.labels, key=lambda label: -label.probability)[:3]
        out.add(("intent", "User's current interests: " + ", ".join(_catalog_text(t.label, 40) for t in top)))

    if req.contributions:
        dominant = max(req.contributions, key=lambda n: req.contributions[n])
        out.add(("main reason", f"Main reason it ranked high: {_scorer_phrase(dominant)}"))

    if named:
        out.add(
            f'Task: Write ONE sentence of 12-35 words telling the user why they may like "{title}". '
            "Name at least one title the user liked from the list above, and mention no other title."
        )
    else:
        # Nothing in the history drove this score (cold start, profile-only users): ask for no titles.
        out.add(
            f'Task: Write ONE sentence of 12-35 words telling the user why they may like "{title}". '
            "Do not mention any other title."
        )
    return out.done()


def _title_variants(title: str) -> list[str]:
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


def _mentions(text: str, phrase: str) -> bool:
    """Whether ``phrase`` occurs in ``text`` as whole words, ignoring case."""
    return re.search(r"(?<!\w)" + re.escape(phrase) + r"(?!\w)", text, re.IGNORECASE) is not None


def mentioned_evidence(req: ReasonRequest, text: str, max_evidence: int = 3) -> list[str]:
    """Ids of the prompt's history items (up to ``max_evidence``) whose title appears in ``text``."""
    ids = []
    for ev in _named_history(req, max_evidence):
        titles = {ev.title} | ({ev.item.title} if ev.item is not None else set())
        if any(_mentions(text, v) for t in titles for v in _title_variants(t)):
            ids.append(ev.item_id)
    return ids


# ---- shared reasoner machinery ------------------------------------------------------------


class _LLMReasoner(Component):
    """Base for generated reasons: cleaning, evidence ids, template fallback and notices."""

    name: ClassVar[str] = "llm"
    last_notices: list[str]
    """What degraded in the last call (fallbacks to the template), for the run trace's notices."""

    def __init__(self, config: ComponentConfig | dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self.template = TemplateReasoner({"max_evidence": self._max_evidence()})
        self.last_notices = []

    def _max_evidence(self) -> int:
        return int(getattr(self.config, "max_evidence", 3))

    def prepare(self, env: Env) -> None:
        super().prepare(env)
        self.template.prepare(env)

    def _finish(self, req: ReasonRequest, generated: str | None, prefix: str = "") -> ReasonOut:
        """A cleaned reason from ``prefix`` + the model's text, or the template reason when the model wrote nothing.

        ``generated`` alone decides emptiness: a prefix the reasoner wrote itself is not a reason.
        """
        if not clean_reason(generated or ""):
            return self.template([req])[0]
        text = clean_reason(prefix + (generated or ""))
        return ReasonOut(
            text=text, generator=self.name, evidence_ids=mentioned_evidence(req, text, self._max_evidence())
        )

    def _empty_notice(self, empty: int, total: int) -> None:
        if empty:
            self.last_notices.append(
                f"{self.name} wrote no usable text for {empty} of {total} items; showing template reasons for them"
            )


# ---- local transformers models ------------------------------------------------------------


class LocalLLMConfig(ComponentConfig):
    max_new_tokens: int = Field(default=48, ge=8, le=256)
    """Most tokens the model may write per reason (a 35-word sentence is about 45 tokens)."""
    max_evidence: int = Field(default=3, ge=1, le=5)
    """How many history titles the prompt lists at most."""
    prefill: bool = True
    """Start each answer with "Because you liked <strongest history title>" and let the model go on.

    A 135M model asked to name a history title rarely does; written for it, the title is always real.
    """
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    """0: greedy decoding (the same evidence always gives the same sentence). Above 0: sampling at this
    temperature with nucleus ``top_p``, seeded by ``seed`` so a run is reproducible."""
    top_p: float = Field(default=0.9, gt=0.0, le=1.0)
    """Nucleus sampling mass (only with temperature > 0)."""
    seed: int = Field(default=0, ge=0)
    """Random seed for sampling (only with temperature > 0)."""
    attention: bool = True
    """Also record where the model looked while writing each reason (``RankedItem.generator_attention``):
    one extra batched forward pass over prompt + reason with eager attention, timed as its own step."""


class HFLocalConfig(LocalLLMConfig):
    model_path: str = Field(min_length=1)
    """Directory of a local transformers causal LM, ideally with a chat template (config.json, weights, tokenizer)."""


def _stopping(tokenizer: Any, prompt_len: int, prefixes: list[str], event: threading.Event | None) -> Any:
    """Stopping criteria: a row is done once its reason is complete (or, for streams, the reader left).

    Rows finish independently, so one long answer does not keep the others generating.
    """
    from transformers import StoppingCriteria, StoppingCriteriaList

    class _ReasonDone(StoppingCriteria):
        def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
            import torch

            if event is not None and event.is_set():
                return torch.ones(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
            new = tokenizer.batch_decode(input_ids[:, prompt_len:], skip_special_tokens=True)
            done = [_reason_is_complete(prefix + text) for prefix, text in zip(prefixes, new, strict=True)]
            return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([_ReasonDone()])


class _TransformersReasoner(_LLMReasoner, ABC):
    """Reasons from a transformers causal LM loaded through :func:`genre.models.load_generator`."""

    config: LocalLLMConfig
    _generator: Generator | None = None
    _ATTENTION_MEMO = 256
    """Evidence shares remembered per exact prompt + reason text (the pipeline re-serves cached reasons)."""

    def __init__(self, config: ComponentConfig | dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self._attention_memo: OrderedDict[str, dict[str, float] | None] = OrderedDict()

    @abstractmethod
    def _load(self, env: Env) -> Generator:
        """The model this reasoner generates with."""

    def prepare(self, env: Env) -> None:
        super().prepare(env)
        self._generator = self._load(env)

    @property
    def generator(self) -> Generator:
        """The loaded model; tests may assign a stand-in."""
        if self._generator is None:
            raise RuntimeError(f"{type(self).__name__}.prepare(env) must run before generating reasons")
        return self._generator

    @generator.setter
    def generator(self, value: Generator) -> None:
        self._generator = value

    def prefix(self, req: ReasonRequest) -> str:
        """The words the answer starts with (empty when prefill is off or no history item drove the score)."""
        if not self.config.prefill:
            return ""
        named = _named_history(req, 1)
        return f"Because you liked {named[0].title}" if named else ""

    def prefix_of(self, req: ReasonRequest, text: str) -> str:
        """The prefill a finished reason was written from (a subclass may prefill only some answers)."""
        return self.prefix(req)

    def __call__(self, requests: list[ReasonRequest]) -> list[ReasonOut]:
        """Reasons for all requests from one batched, greedy generate call."""
        self.last_notices = []
        if not requests:
            return []
        prefixes = [self.prefix(r) for r in requests]
        generated = self._generate([self._input_text(r, p) for r, p in zip(requests, prefixes, strict=True)], prefixes)
        outs = [self._finish(r, g, p) for r, g, p in zip(requests, generated, prefixes, strict=True)]
        self._empty_notice(sum(o.generator != self.name for o in outs), len(outs))
        return outs

    def stream(self, requests: list[ReasonRequest]) -> Iterator[tuple[int, str]]:
        """Yield ``(request index, text delta)`` as tokens arrive, one request after another.

        A request's deltas concatenate to its raw text (prefill included): ``clean_reason`` of
        that is its reason, as ``__call__`` would write it. When the model writes nothing usable,
        the request's only delta is the template reason. Closing the iterator early stops the
        generation in progress.
        """
        for index, req in enumerate(requests):
            for delta in self._reason_stream(req):
                yield index, delta

    def _reason_stream(self, req: ReasonRequest) -> Iterator[str]:
        """One request's deltas: the model's reason from its prefill, or the template reason."""
        return self._stream_or_template(req, self.prefix(req))

    def _stream_or_template(self, req: ReasonRequest, prefix: str) -> Iterator[str]:
        """The model's reason from ``prefix`` once it is usable; the template reason if it never is."""
        shown = False
        for delta in self._held_stream(req, prefix, lambda text: bool(clean_reason(text))):
            shown = True
            yield delta
        if not shown:
            yield self.template([req])[0].text

    def _held_stream(self, req: ReasonRequest, prefix: str, usable: Callable[[str], bool]) -> Iterator[str]:
        """Deltas of one generation from ``prefix``, held back until ``usable(generated text)``.

        The first delta carries the prefill and everything held so far; a generation that never
        becomes usable yields nothing, so a fallback is never shown glued to the model's false start.
        """
        pending: list[str] | None = [prefix]
        generated = ""
        for delta in self._stream_one(self._input_text(req, prefix), prefix):
            generated += delta
            if pending is None:
                yield delta
                continue
            pending.append(delta)
            if usable(generated):
                yield "".join(pending)
                pending = None

    def generator_attention(
        self, requests: list[ReasonRequest], reasons: list[ReasonOut]
    ) -> list[dict[str, float] | None]:
        """Per reason, each prompt evidence unit's share of the attention the reason gave the prompt.

        The model reads its own prompt again with the reason written after it, exactly as it
        generated (chat prompt, prefill, continuation), in one batched forward pass with eager
        attention; attention is averaged over all layers and heads and over the tokens the
        model wrote itself (the prefilled "Because you liked <title>" is ours, so it is read but
        not weighed), then summed per evidence unit of :func:`prompt_with_units` and normalized
        over those units. None where the reason is the template fallback, when ``attention``
        is off, or when the prompt cannot be located in the model's input text.
        """
        out: list[dict[str, float] | None] = [None] * len(requests)
        if not self.config.attention:
            return out
        rows: list[int] = []
        keys: list[str] = []
        texts: list[str] = []
        starts: list[int] = []
        spans: list[list[tuple[str, int, int]]] = []
        for index, (req, reason) in enumerate(zip(requests, reasons, strict=True)):
            if reason.generator != self.name or not reason.text:
                continue
            prompt, units = prompt_with_units(req, self.config.max_evidence)
            prefix = self.prefix_of(req, reason.text)
            with_prefix = self._input_text(req, prefix)
            stem = with_prefix[: len(with_prefix) - len(prefix)]
            base = stem.find(prompt)
            if base < 0 or not units:
                continue
            # The plain layout ends "Answer:"; chat templates end the assistant header with a newline.
            joiner = "" if not stem or stem[-1].isspace() or stem[-1] == ">" else " "
            written = len(prefix) if prefix and reason.text.startswith(prefix) else 0
            if written >= len(reason.text):
                continue
            text, start = stem + joiner + reason.text, len(stem) + len(joiner) + written
            key = f"{self.generator.name}\0{start}\0{text}"
            if key in self._attention_memo:
                out[index] = self._attention_memo[key]
                continue
            rows.append(index)
            keys.append(key)
            texts.append(text)
            starts.append(start)
            spans.append([(u.label, base + u.start, base + u.end) for u in units])
        special = not getattr(self.generator.tokenizer, "chat_template", None)
        shares = reason_evidence_attention(self.generator, texts, starts, spans, add_special_tokens=special)
        for index, key, share in zip(rows, keys, shares, strict=True):
            out[index] = share
            self._attention_memo[key] = share
        while len(self._attention_memo) > self._ATTENTION_MEMO:
            self._attention_memo.popitem(last=False)
        return [dict(share) if share is not None else None for share in out]

    # -- model plumbing --

    def _input_text(self, req: ReasonRequest, prefix: str) -> str:
        """The chat-formatted prompt with the prefill already written as the start of the answer."""
        prompt = build_prompt(req, self.config.max_evidence)
        tokenizer = self.generator.tokenizer
        if not getattr(tokenizer, "chat_template", None):
            # Base models without a chat template get a plain instruction layout.
            return f"{SYSTEM_PROMPT}\n\n{prompt}\n\nAnswer:" + (f" {prefix}" if prefix else "")
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}]
        try:
            text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        except Exception:
            # Some templates (Gemma's, for one) reject a system turn; fold it into the user turn.
            merged = [{"role": "user", "content": f"{SYSTEM_PROMPT}\n\n{prompt}"}]
            text = tokenizer.apply_chat_template(merged, add_generation_prompt=True, tokenize=False)
        return str(text) + prefix

    def _encode(self, texts: list[str]) -> Any:
        tokenizer = self.generator.tokenizer
        # Left padding keeps every row's last prompt token adjacent to its first generated one.
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        # A chat template already writes the BOS token; adding it again would double it.
        special = not getattr(tokenizer, "chat_template", None)
        return tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=special).to(self.generator.device)

    def _decoding(self) -> dict[str, Any]:
        """``generate`` arguments for greedy decoding or seeded nucleus sampling."""
        cfg = self.config
        if cfg.temperature <= 0:
            return {"max_new_tokens": cfg.max_new_tokens, "do_sample": False}
        return {
            "max_new_tokens": cfg.max_new_tokens,
            "do_sample": True,
            "temperature": cfg.temperature,
            "top_p": cfg.top_p,
        }

    @contextmanager
    def _seeded(self) -> Iterator[None]:
        """Sampling draws from a forked RNG seeded by ``seed``: reproducible, and the caller's RNG is untouched."""
        if self.config.temperature <= 0:
            yield
            return
        import torch

        devices = [torch.cuda.current_device()] if self.generator.device == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.config.seed)
            yield

    def _generate(self, texts: list[str], prefixes: list[str]) -> list[str]:
        """The new text for every input, from one batched ``generate`` call (see :meth:`_decoding`)."""
        import torch

        gen = self.generator
        batch = self._encode(texts)
        prompt_len = int(batch["input_ids"].shape[1])
        with torch.inference_mode(), self._seeded():
            out = gen.model.generate(
                **batch,
                **self._decoding(),
                pad_token_id=gen.tokenizer.pad_token_id,
                stopping_criteria=_stopping(gen.tokenizer, prompt_len, prefixes, None),
            )
        return list(gen.tokenizer.batch_decode(out[:, prompt_len:], skip_special_tokens=True))

    def _stream_one(self, text: str, prefix: str) -> Iterator[str]:
        """Raw text deltas for one input, generated in a background thread (see :meth:`_decoding`)."""
        import torch
        from transformers import TextIteratorStreamer

        gen = self.generator
        streamer = TextIteratorStreamer(gen.tokenizer, skip_prompt=True, skip_special_tokens=True)
        batch = self._encode([text])
        stop = threading.Event()
        criteria = _stopping(gen.tokenizer, int(batch["input_ids"].shape[1]), [prefix], stop)
        failure: list[BaseException] = []

        def run() -> None:
            try:
                with torch.inference_mode(), self._seeded():
                    gen.model.generate(
                        **batch,
                        **self._decoding(),
                        pad_token_id=gen.tokenizer.pad_token_id,
                        streamer=streamer,
                        stopping_criteria=criteria,
                    )
            except BaseException as exc:  # re-raised in the reader's thread below
                failure.append(exc)
                # Without this the reader would wait forever for a token that never comes.
                streamer.end()

        worker = threading.Thread(target=run, name="genre-reason-stream", daemon=True)
        worker.start()
        try:
            for delta in streamer:
                if delta:
                    yield delta
        finally:
            # Also reached when the reader closes the iterator early: stop generating, then wait.
            stop.set()
            worker.join()
        if failure:
            raise failure[0]


class LocalLLMReasoner(_TransformersReasoner):
    """Reasons written by the packaged SmolLM2-135M-Instruct from the scorers' evidence."""

    Config = LocalLLMConfig
    name = "local-llm"

    def _load(self, env: Env) -> Generator:
        return load_generator(env.device)


class HFLocalReasoner(_TransformersReasoner):
    """Reasons written by any local transformers chat model, given by directory."""

    Config = HFLocalConfig
    config: HFLocalConfig
    name = "hf-local"

    def _load(self, env: Env) -> Generator:
        path = Path(self.config.model_path).expanduser()
        if not path.is_dir():
            raise ModelUnavailableError(
                f"hf-local model_path {path} does not exist or is not a directory; "
                "point it at a local transformers model directory (config.json, weights and tokenizer)"
            )
        try:
            return load_generator(env.device, path)
        except ModelUnavailableError:
            raise
        except (OSError, ValueError, KeyError) as exc:
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ModelUnavailableError(f"hf-local could not load a transformers model from {path}: {detail}") from exc


# ---- OpenAI-compatible HTTP endpoint ------------------------------------------------------


class OpenAICompatibleConfig(ComponentConfig):
    base_url: str = "http://127.0.0.1:8000/v1"
    """Server root up to and including the API version, e.g. http://127.0.0.1:11434/v1 for Ollama."""
    model: str = Field(min_length=1)
    """Model name the server knows (vLLM: the served model; Ollama: e.g. llama3.2:3b)."""
    api_key_env: str | None = None
    """Name of the environment variable holding the API key; the key itself never goes in a config."""
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    """Seconds to wait on the server per request before showing the template reason instead."""
    max_tokens: int = Field(default=64, ge=8, le=1024)
    """Most tokens the server may write per reason."""
    max_evidence: int = Field(default=3, ge=1, le=5)
    """How many history titles the prompt lists at most."""
    max_workers: int = Field(default=4, ge=1, le=32)
    """Requests in flight at once for one batch."""

    @field_validator("base_url")
    @classmethod
    def _http_only(cls, v: str) -> str:
        # urllib would also open file:// and ftp:// URLs; a config must not turn into a file read.
        parsed = urllib.parse.urlparse(v.strip())
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"base_url must be an http:// or https:// URL. Got {v!r}")
        return v.strip().rstrip("/")


# A chat completion for one sentence is a few hundred bytes; a server sending more is not one.
_MAX_REPLY_BYTES = 1 << 20


class _EndpointFailure(Exception):
    """A request that produced no text; ``what`` is the notice's middle part, ``systemic`` stops the batch."""

    def __init__(self, what: str, systemic: bool) -> None:
        super().__init__(what)
        self.what = what
        self.systemic = systemic


def _is_loopback(url: str) -> bool:
    host = urllib.parse.urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class OpenAICompatibleReasoner(_LLMReasoner):
    """Reasons from an OpenAI-compatible chat server (vLLM, Ollama, llama.cpp); template reasons if it fails."""

    Config = OpenAICompatibleConfig
    config: OpenAICompatibleConfig
    name = "openai-compatible"

    def __init__(self, config: ComponentConfig | dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self.url = f"{self.config.base_url}/chat/completions"
        # A server on this machine is never behind the user's HTTP proxy; remote ones keep proxy settings.
        handlers = [urllib.request.ProxyHandler({})] if _is_loopback(self.url) else []
        self._opener = urllib.request.build_opener(*handlers)

    def prepare(self, env: Env) -> None:
        super().prepare(env)
        self._api_key()  # a missing key is a config problem: report it now, not per request

    def _api_key(self) -> str | None:
        name = self.config.api_key_env
        if not name:
            return None
        key = os.environ.get(name)
        if not key:
            raise ConfigError(
                f"openai-compatible: api_key_env names {name!r}, but that environment variable is not set"
            )
        return key

    def __call__(self, requests: list[ReasonRequest]) -> list[ReasonOut]:
        """Reasons for all requests, several in flight at once; the template's where the server fails."""
        outs: list[ReasonOut | None] = [None] * len(requests)
        for index, out in self._run(requests):
            outs[index] = out
        return [o for o in outs if o is not None]

    def stream(self, requests: list[ReasonRequest]) -> Iterator[tuple[int, str]]:
        """Yield ``(request index, whole reason)`` as each request completes (not token by token)."""
        for index, out in self._run(requests):
            yield index, out.text

    def _run(self, requests: list[ReasonRequest]) -> Iterator[tuple[int, ReasonOut]]:
        self.last_notices = []
        if not requests:
            return
        try:
            key = self._api_key()
        except ConfigError as exc:
            # The variable was unset after prepare(): degrade like any other endpoint failure.
            self.last_notices.append(f"{exc}; showing template reasons")
            yield from enumerate(self.template(requests))
            return
        tripped = threading.Event()
        first_systemic: list[str] = []
        failures: Counter[str] = Counter()
        empty = 0

        def one(req: ReasonRequest) -> str:
            # Once the server is known to be down, the rest of the batch skips it instead of
            # each waiting out its own timeout.
            if tripped.is_set():
                raise _EndpointFailure(first_systemic[0] if first_systemic else "unreachable", True)
            try:
                return self._complete(build_prompt(req, self.config.max_evidence), key)
            except _EndpointFailure as exc:
                if exc.systemic and not tripped.is_set():
                    first_systemic.append(exc.what)
                    tripped.set()
                raise

        workers = min(self.config.max_workers, len(requests))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="genre-openai") as pool:
            futures = {pool.submit(one, req): i for i, req in enumerate(requests)}
            for future in as_completed(futures):
                index = futures[future]
                req = requests[index]
                try:
                    out = self._finish(req, future.result())
                    if out.generator != self.name:
                        empty += 1
                except _EndpointFailure as exc:
                    failures[exc.what] += 1
                    out = self.template([req])[0]
                yield index, out

        total = len(requests)
        for what, count in failures.items():
            scope = "" if count == total else f" for {count} of {total} items"
            self.last_notices.append(f"openai-compatible endpoint {self.url} {what}; showing template reasons{scope}")
        self._empty_notice(empty, total)

    def _complete(self, prompt: str, key: str | None) -> str:
        """The server's reply text for one prompt, or an :class:`_EndpointFailure` saying what went wrong."""
        body = {
            "model": self.config.model,
            "messages": [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}],
            "max_tokens": self.config.max_tokens,
            "temperature": 0,
            "n": 1,
            "stream": False,
        }
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        request = urllib.request.Request(self.url, data=json.dumps(body).encode(), headers=headers, method="POST")
        timeout = self.config.timeout_s
        try:
            with self._opener.open(request, timeout=timeout) as response:
                payload = response.read(_MAX_REPLY_BYTES)
        except urllib.error.HTTPError as exc:
            # 4xx (wrong model, bad key, rate limit) will fail the same way for every item; 5xx may not.
            reason = f"{exc.code} {exc.reason}".strip()
            raise _EndpointFailure(f"returned HTTP {reason}", systemic=exc.code < 500) from exc
        except TimeoutError as exc:
            raise _EndpointFailure(f"unreachable (timed out after {timeout:g} s)", systemic=True) from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise _EndpointFailure(f"unreachable (timed out after {timeout:g} s)", systemic=True) from exc
            raise _EndpointFailure(f"unreachable ({_reason_text(exc.reason)})", systemic=True) from exc
        except (OSError, ValueError, http.client.HTTPException) as exc:  # reset or cut off mid-reply, bad status line
            raise _EndpointFailure(f"unreachable ({_reason_text(exc)})", systemic=True) from exc
        return _reply_text(payload)


def _reason_text(reason: object) -> str:
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason) or type(reason).__name__


def _reply_text(payload: bytes) -> str:
    """``choices[0].message.content`` of a chat completion; malformed replies become failures."""
    try:
        data = json.loads(payload)
        content = data["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise _EndpointFailure("returned a malformed response (no choices[0].message.content)", False) from exc
    if content is None:
        return ""
    if not isinstance(content, str):
        raise _EndpointFailure("returned a malformed response (message content is not text)", False)
    return content
