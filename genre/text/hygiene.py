"""User-text hygiene: what may go into a prompt, and what a model's output is reduced to.

* :func:`sanitize_user_text` makes free text (profiles, intent summaries, catalog strings from
  user-supplied files) inert inside a prompt: control characters and instruction-like phrases go.
* :func:`clean_reason` reduces a model's raw output to a reason: one or two sentences, at most
  :data:`MAX_REASON_WORDS` words, ending in a period; ``""`` when nothing usable is left.
* :func:`sentence_spans`, :func:`split_sentences` and :func:`reason_is_complete` split text into
  sentences without breaking on abbreviations and initials common inside titles ("Mr.", "L.A.").
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "INJECTION_PATTERNS",
    "MAX_REASON_WORDS",
    "NEUTRALIZED",
    "clean_reason",
    "reason_is_complete",
    "sanitize_user_text",
    "sentence_spans",
    "split_sentences",
]

MAX_REASON_WORDS = 45
"""Most words :func:`clean_reason` keeps of a reason."""

# Phrases that try to re-steer a model. They are replaced, not deleted, so a reader of the
# prompt can still see that something was there.
INJECTION_PATTERNS = [
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
NEUTRALIZED = "[removed]"


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
    for pattern in INJECTION_PATTERNS:
        cleaned = pattern.sub(NEUTRALIZED, cleaned)
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


def sentence_spans(text: str) -> tuple[list[str], str]:
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


def split_sentences(text: str) -> list[str]:
    """Every sentence of ``text``, the unfinished tail last (see :func:`sentence_spans`)."""
    sentences, tail = sentence_spans(text)
    return [*sentences, tail] if tail else sentences


def reason_is_complete(text: str) -> bool:
    """Whether :func:`clean_reason` would keep nothing more of ``text`` than it already has.

    True once there is one finished sentence of 12+ words, or two finished sentences; lets
    generation stop early instead of writing tokens that would be cut anyway.
    """
    sentences, tail = sentence_spans(text.strip() + " ")
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

    sentences, tail = sentence_spans(text + " ")
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
