"""Decoding that cannot spell a title: banned title openings, slot-name constraints, 3-gram blocking, fluency.

The ``grounded`` reasoner's model writes slots (``{item}``, ``{hist1}``…) and code fills them, so
every processor here exists to keep the model inside that contract, using only what transformers
ships in its core library (constrained beam search needs a Hub download in transformers 5):

* :func:`banned_openings` — a :class:`~transformers.NoBadWordsLogitsProcessor` over the token
  sequences that start a literal title of the items in the prompt (the first token of the title,
  or its first two when the first is a common word such as "The", so "The" itself stays
  writable), and over "(" followed by the first digit of a year.
* :class:`GeneratedNoRepeat` — no word 3-gram twice *within the generated text*. transformers'
  ``no_repeat_ngram_size`` also counts the prompt, whose slot names ("{hist1}") the model must
  be free to repeat.
* :class:`SlotNames` — after an opening brace only a slot the row's plan has may follow, closed
  by "}" (so "{hist3}" or "{histone}" cannot be written).
* :class:`Fluency` — the mean log-probability the model gave each row's chosen tokens (before any
  processor changed the scores), for ranking candidates that pass the check.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

__all__ = [
    "CONNECTING_WORDS",
    "Fluency",
    "GeneratedNoRepeat",
    "RowSlots",
    "SlotNames",
    "banned_openings",
    "opening_sequences",
]

_COMMON_FIRST_WORDS = frozenset(
    {
        "the", "a", "an", "and", "of", "in", "on", "at", "my", "your", "our", "his", "her", "their", "this",
        "that", "for", "with", "from", "to", "it", "its", "is", "be", "we", "you", "they", "what", "when", "how",
        "why", "all", "one", "two", "new", "old", "big", "some", "more", "most", "best", "first", "last", "if",
        "as", "by", "not", "no", "so", "but", "or", "just", "like", "because", "after", "before",
    }
)  # fmt: skip
"""First words whose token alone is not banned (a reason must be able to say "The"): their title's
first two tokens are banned instead."""

_YEAR_DIGITS = ("1", "2")
_LEADING_ARTICLE = re.compile(r"^(?:the|a|an)\s+", re.IGNORECASE)
_YEAR = re.compile(r"\s*\(\d{4}\)\s*$")

_vocab_lock = threading.Lock()
_vocab_text: dict[int, tuple[Any, list[str]]] = {}
_continuations: dict[tuple[int, frozenset[str], str], list[int]] = {}
"""Allowed next tokens per tokenizer, slot-name set and partial name (a few dozen entries; racing writers
compute the same list)."""


def vocabulary_text(tokenizer: Any) -> list[str]:
    """Each token id's text as decoded alone (computed once per tokenizer, about 0.7 s for 49k tokens)."""
    key = id(tokenizer)
    with _vocab_lock:
        if key not in _vocab_text or _vocab_text[key][0] is not tokenizer:
            # The tokenizer is kept with its texts: while cached it lives, so its id (the key here and in the
            # continuation cache) is never reused by another tokenizer.
            _vocab_text[key] = (tokenizer, list(tokenizer.batch_decode([[i] for i in range(len(tokenizer))])))
        return _vocab_text[key][1]


def _title_forms(title: str) -> list[str]:
    """A title as a model may start writing it: as is, without "(year)", without its leading article."""
    bare = _YEAR.sub("", title).strip()
    forms = [title.strip(), bare, _LEADING_ARTICLE.sub("", bare)]
    return [f for f in dict.fromkeys(forms) if f]


def opening_sequences(tokenizer: Any, titles: Sequence[str]) -> list[list[int]]:
    """Token sequences that start each title, mid-sentence (" Title") and at the start ("Title")."""
    out: dict[tuple[int, ...], None] = {}
    for title in titles:
        for form in _title_forms(title):
            for text in (form, " " + form):
                ids = tokenizer(text, add_special_tokens=False)["input_ids"]
                if not ids:
                    continue
                first = tokenizer.decode(ids[:1]).strip()
                common = len(first) < 4 or first.lower() in _COMMON_FIRST_WORDS or not first.isalpha()
                out[tuple(ids[:2] if common and len(ids) > 1 else ids[:1])] = None
    return [list(seq) for seq in out]


def year_sequences(tokenizer: Any) -> list[list[int]]:
    """ "(" or " (" followed by the first digit of a year: the opening of "(1997)"."""
    # "(1" may be one token or "(" + "1": the tokenizer says which, and that sequence is banned.
    return [
        tokenizer(paren + digit, add_special_tokens=False)["input_ids"]
        for paren in ("(", " (")
        for digit in _YEAR_DIGITS
    ]


def bracket_tokens(tokenizer: Any) -> list[list[int]]:
    """Every token holding "[": a small model's habit of writing "[hist1]" for a slot, which nothing fills."""
    return [[tid] for tid, text in enumerate(vocabulary_text(tokenizer)) if "[" in text]


def banned_openings(tokenizer: Any, titles: Sequence[str]) -> Any:
    """A NoBadWordsLogitsProcessor over every title opening of ``titles``, every "(year" opening and "["."""
    from transformers import NoBadWordsLogitsProcessor

    sequences = opening_sequences(tokenizer, titles) + year_sequences(tokenizer) + bracket_tokens(tokenizer)
    return NoBadWordsLogitsProcessor(sequences, eos_token_id=tokenizer.eos_token_id)


class GeneratedNoRepeat:
    """No repeated ``n``-gram of tokens within the text generated after ``prompt_len`` (the prompt may repeat)."""

    def __init__(self, n: int, prompt_len: int) -> None:
        from transformers import NoRepeatNGramLogitsProcessor

        self.inner = NoRepeatNGramLogitsProcessor(n)
        self.prompt_len = prompt_len

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        generated = input_ids[:, self.prompt_len :]
        return self.inner(generated, scores)


@dataclass(frozen=True)
class RowSlots:
    """What one row may write inside braces: its plan's slot values, and which slots exclude each other."""

    values: dict[str, str]
    """Slot name -> the text it is filled with."""
    exclusive: dict[str, frozenset[str]] = field(default_factory=dict)
    """Slot name -> slots it may not appear with ({why} naming {hist1} excludes {hist1}, and back)."""
    prefix: str = ""
    """Text the row's answer was begun with (it is part of the prompt, so not in the generated ids)."""


class SlotNames:
    """Inside an open brace, only a slot the row may still use, then "}", may be written.

    A row may use each of its plan's slots once, never two that say the same title (``exclusive``),
    and none whose filled text would take the reason past ``max_words``. A row's last few
    generated tokens are decoded at each step; when they hold an unclosed "{", every token that
    does not continue an allowed name (or close it) is set to -inf. When no slot is allowed any
    more, the names the plan has stay open and the check rejects the candidate instead.
    """

    _LOOKBACK = 8

    def __init__(
        self,
        tokenizer: Any,
        rows: list[RowSlots],
        prompt_len: int,
        max_words: int = 1_000,
        words: frozenset[str] | None = None,
    ) -> None:
        self.tokenizer = tokenizer
        self.rows = rows
        self.prompt_len = prompt_len
        self.max_words = max_words
        self.vocab = vocabulary_text(tokenizer)
        names = {name for row in rows for name in row.values}
        self.stray = stray_braces(tokenizer, names)
        # Outside a slot, either any token but stray braces, or only the connecting ``words``.
        self.outside = None if words is None else connecting_tokens(tokenizer, words, names)

    def allowed(self, row: RowSlots, written: str) -> frozenset[str]:
        """The slots ``row`` may still open after ``written`` (prefix and generated text so far)."""
        used = set(re.findall(r"\{(\w+)\}", written))
        blocked = used | {other for name in used for other in row.exclusive.get(name, ())}
        filled = re.sub(r"\{(\w+)\}", lambda m: row.values.get(m.group(1), m.group(0)), written)
        room = self.max_words - len(filled.split()) - 1
        names = frozenset(n for n, v in row.values.items() if n not in blocked and len(v.split()) <= room)
        return names or frozenset(row.values)

    def continuations(self, names: frozenset[str], partial: str) -> list[int]:
        """Token ids that extend ``partial`` (text after "{") towards one of ``names`` + "}"."""
        key = (id(self.tokenizer), names, partial)
        if key not in _continuations:
            targets = [n + "}" for n in names]
            ok: list[int] = []
            for tid, text in enumerate(self.vocab):
                if not text:
                    continue
                joined = partial + text
                for target in targets:
                    if target.startswith(joined):
                        ok.append(tid)
                        break
                    rest = joined[len(target) :]
                    if joined.startswith(target) and "{" not in rest and "}" not in rest and not _has_word(rest):
                        ok.append(tid)
                        break
            _continuations[key] = ok
        return _continuations[key]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        import torch

        generated = input_ids[:, self.prompt_len :]
        # At the first step nothing is written yet: every row is outside a slot (a prefill never ends in "{").
        tails = (
            self.tokenizer.batch_decode(generated[:, -self._LOOKBACK :], skip_special_tokens=True)
            if generated.shape[1]
            else [""] * int(generated.shape[0])
        )
        eos = self.tokenizer.eos_token_id
        for index, tail in enumerate(tails):
            opened = tail.rfind("{")
            if opened < 0 or "}" in tail[opened:]:
                # Outside a slot: no "}" and no "{" that cannot start a slot name ("{'", "{{").
                if self.outside is None:
                    scores[index, self.stray] = float("-inf")
                else:
                    keep = torch.full_like(scores[index], float("-inf"))
                    keep[self.outside] = 0.0
                    scores[index] = scores[index] + keep
                continue
            row = self.rows[index]
            text = row.prefix + self.tokenizer.decode(generated[index], skip_special_tokens=True)
            allowed = self.continuations(self.allowed(row, text[: text.rfind("{")]), tail[opened + 1 :])
            mask = torch.full_like(scores[index], float("-inf"))
            mask[allowed] = 0.0
            if bool(torch.isinf(scores[index] + mask).all()) and eos is not None:
                # Nothing may follow (other processors banned the rest): end the row; the check rejects it.
                mask[eos] = 0.0
                scores[index, eos] = 0.0
            scores[index] = scores[index] + mask
        return scores


CONNECTING_WORDS = frozenset([
    "a", "an", "the", "and", "or", "but", "so", "as", "because", "since", "if", "for", "with", "to", "of", "in",
    "on", "at", "by", "from", "after", "before", "like", "too", "also", "both", "just", "right", "then", "than",
    "that", "this", "these", "those", "it", "its", "it's", "they", "them", "their", "you", "your", "you're",
    "you've", "you'll", "we", "our", "one", "more", "most", "much", "very", "well", "here", "there", "now",
    "next", "is", "are", "was", "were", "be", "been", "being", "has", "have", "had", "do", "does", "can",
    "could", "should", "would", "will", "may", "might", "must", "try", "enjoy", "enjoyed", "liked", "love",
    "loved", "pick", "picked", "picks", "choose", "chosen", "fit", "fits", "fitting", "suit", "suits", "match",
    "matches", "matching", "share", "shares", "shared", "sharing", "follow", "follows", "add", "adds", "bring",
    "brings", "keep", "give", "gives", "offer", "offers", "continue", "continues", "want", "wanted", "find",
    "see", "make", "makes", "same", "similar", "close", "closely", "often", "people", "others", "fans", "fan",
    "choice", "bet", "safe", "good", "great", "natural", "step", "interest", "interests", "taste", "tastes",
    "current", "recently", "lately", "list", "worth", "another", "other", "what", "which", "who", "while",
    "plus", "along", "together",
])  # fmt: skip
"""Words a slotted sentence may use outside its slots: connectives, pronouns and verbs of liking and
choosing, and no word that says what an item is or how good it is. Every claim then comes from a slot."""

_PUNCTUATION = frozenset({",", ".", ":", ";", "!", "-", "—", "–", "'s", "’s"})


def connecting_tokens(tokenizer: Any, words: frozenset[str], names: set[str]) -> list[int]:
    """Tokens that spell one of ``words`` (any case, with or without a leading space), punctuation,
    the end token, and the tokens that open a slot (" {", "{" or "{" + the start of a slot name)."""
    stray = set(stray_braces(tokenizer, names))
    out: list[int] = []
    for tid, text in enumerate(vocabulary_text(tokenizer)):
        core = text.strip()
        if not core:
            continue
        if core.lower() in words or core in _PUNCTUATION or (core.startswith("{") and tid not in stray):
            out.append(tid)
    if tokenizer.eos_token_id is not None:
        out.append(int(tokenizer.eos_token_id))
    return out


def stray_braces(tokenizer: Any, names: set[str]) -> list[int]:
    """Tokens that cannot appear outside a slot: any holding "}", and any whose last "{" does not begin a name.

    A token such as "{item" may open a slot; "{'" or "{{" would leave a brace nothing fills.
    """
    targets = [n + "}" for n in names]
    out: list[int] = []
    for tid, text in enumerate(vocabulary_text(tokenizer)):
        if "}" in text:
            out.append(tid)
        elif "{" in text:
            rest = text[text.rfind("{") + 1 :]
            if not any(t.startswith(rest) for t in targets) or "{" in text[: text.rfind("{")]:
                out.append(tid)
    return out


def _has_word(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


class Fluency:
    """Records the model's own log-probability of each row's chosen tokens; put it first in the list.

    At each step it keeps the log-softmax of the raw scores and, at the next step, reads the
    probability of the token that was chosen; :meth:`finish` reads the last one from the output.
    A row stops counting at its first end-of-sequence token (later positions are padding).
    """

    def __init__(self, eos_token_id: int) -> None:
        self.eos = eos_token_id
        self._previous: torch.Tensor | None = None
        self._sum: torch.Tensor | None = None
        self._count: torch.Tensor | None = None
        self._done: torch.Tensor | None = None

    def _take(self, chosen: torch.Tensor) -> None:
        import torch

        if self._previous is None:
            return
        if self._sum is None:
            rows = chosen.shape[0]
            self._sum = torch.zeros(rows, dtype=torch.float64)
            self._count = torch.zeros(rows, dtype=torch.float64)
            self._done = torch.zeros(rows, dtype=torch.bool)
        assert self._count is not None and self._done is not None
        logp = self._previous.gather(1, chosen.view(-1, 1)).view(-1).double().cpu()
        ended = (chosen == self.eos).cpu()
        # The end token is not counted: a row the stopping criteria ended gets it as padding, not by choice.
        live = (~self._done & ~ended).double()
        self._sum += torch.where(torch.isfinite(logp), logp, torch.zeros_like(logp)) * live
        self._count += live
        self._done |= ended

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        import torch

        if self._previous is not None:
            self._take(input_ids[:, -1])
        self._previous = torch.log_softmax(scores.float(), dim=-1)
        return scores

    def finish(self, sequences: torch.Tensor) -> list[float]:
        """Mean log-probability per row, given ``generate``'s output (its last column is the last choice)."""
        self._take(sequences[:, -1])
        if self._sum is None or self._count is None:
            return [0.0] * int(sequences.shape[0])
        return (self._sum / self._count.clamp(min=1)).tolist()


def as_processors(*processors: Callable[..., Any]) -> Any:
    """A LogitsProcessorList of plain callables, in order (transformers accepts any callable there)."""
    from transformers import LogitsProcessorList

    return LogitsProcessorList(list(processors))
