"""Reference reasons: hand-written "evidence → reason" pairs for scoring and fine-tuning generators.

Each line of ``sample_data/reasons/{domain}.jsonl`` pairs one recommended item with the history
items and the scorer that recommended it, plus one or two reasons a careful editor wrote from that
evidence alone. The same rows serve two purposes:

* **reference metrics** (BLEU-4, ROUGE-L): a generated reason for the same evidence is compared with
  the hand-written ones, so the evidence a generator sees must be exactly what the writer saw;
  :func:`to_request` rebuilds that evidence as a :class:`~genre.components.reasoners.template.ReasonRequest`;
* **fine-tuning** a small model to write faithful reasons: a reference that names an item outside its
  evidence would teach the model to hallucinate, so the loader rejects rows whose ids do not resolve
  and the tests run every reason through the claim-level verifier (:mod:`genre.text.verifier`).

A row may carry a ``style`` (``short``, ``bullets``, ``compare``; one-line when absent): the same evidence
written in another reason style, for training the local generators to write each style. Loaders return
one-line rows unless asked for others, so metrics compare like with like.

Rows are validated when loaded (not when a metric or a training run first trips over them), and a bad
row is reported with its file and 1-based line number, because the files are edited by hand.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from genre.core.errors import DataError
from genre.core.paths import PROJECT_ROOT
from genre.core.types import Catalog, Evidence, Intent, Item, ReasonRequest

__all__ = [
    "REFERENCE_STYLES",
    "ReferencePair",
    "ReferenceStyle",
    "load_references",
    "reference_path",
    "split_by_item",
    "to_request",
]

ReferenceStyle = Literal["one-line", "short", "bullets", "compare"]
"""The reason styles a reference row may be written in: the generators' styles
(``genre.components.reasoners.styles.STYLES``, which this data layer may not import; a test keeps them equal)."""
REFERENCE_STYLES: tuple[ReferenceStyle, ...] = ("one-line", "short", "bullets", "compare")

_WORD_BOUNDS: dict[str, tuple[int, int]] = {
    "one-line": (8, 45),
    "short": (15, 70),
    "bullets": (10, 70),
    "compare": (10, 60),
}
"""Words a reason of each style may have: a one-line reason is one sentence; ``short`` is 2–3 sentences,
``bullets`` 2–4 points and ``compare`` one or two sentences, so they may run longer."""
_MAX_REASONS = 3
_MAX_HISTORY = 3


class ReferencePair(BaseModel):
    """One recommended item, the evidence behind it, and the reasons written from that evidence."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    """Unique within its file (e.g. ``products-0001``), so a metric can report per-row scores."""
    domain: str = Field(min_length=1)
    """The catalog the ids refer to (``products``, ``news``)."""
    item_id: str = Field(min_length=1)
    """The recommended item."""
    history: list[str] = Field(min_length=1, max_length=_MAX_HISTORY)
    """The history items the scorer cited, most influential first (1–3: what a reason can name)."""
    shared: list[str] = Field(default_factory=list, max_length=4)
    """Categories, tags or attribute values (e.g. brand) the item shares with at least one history item."""
    intent: str = Field(min_length=1)
    """One sentence on what the user wants now; becomes the request's intent summary."""
    component: str = Field(min_length=1)
    """The scorer that drove the recommendation (``content``, ``price-fit``, ...); keys the evidence."""
    style: ReferenceStyle = "one-line"
    """How the reasons are written: ``one-line`` (one sentence), ``short`` (2–3 sentences: the evidence and what
    is new about the item), ``bullets`` (2–4 lines starting "- ", each tied to one piece of evidence) or
    ``compare`` (how the item differs from the first history item). Rows without the field are one-line."""
    reasons: list[str] = Field(min_length=1, max_length=_MAX_REASONS)
    """One to three hand-written reasons in ``style`` (a one-line reason has 8–45 words), using only the evidence
    above."""

    @field_validator("reasons")
    @classmethod
    def _reasons_fit_style(cls, reasons: list[str], info: ValidationInfo) -> list[str]:
        # Too short and BLEU-4 has no 4-grams to match; too long and it is no longer one reason of its style.
        style = info.data.get("style", "one-line")  # absent only when the style itself failed validation
        low, high = _WORD_BOUNDS[style]
        for i, text in enumerate(reasons, start=1):
            n = len(text.split())
            if not low <= n <= high:
                raise ValueError(f"reason {i} has {n} words, expected {low}-{high} for style {style!r}")
            if problem := _form_problem(text, style):
                raise ValueError(f"reason {i}: {problem}")
        return reasons

    @field_validator("history")
    @classmethod
    def _distinct_history(cls, history: list[str]) -> list[str]:
        if len(set(history)) != len(history):
            raise ValueError(f"history lists an item twice: {history}")
        return history


def _form_problem(text: str, style: str) -> str | None:
    """How ``text`` breaks the shape of its style (bullet lines, sentence count), or None."""
    lines = text.split("\n")
    if style == "bullets":
        if not 2 <= len(lines) <= 4 or not all(line.startswith("- ") and line[2:].strip() for line in lines):
            return 'a bullets reason is 2-4 lines, each starting with "- "'
        return None
    if len(lines) > 1:
        return f"a {style} reason is one paragraph (no line breaks)"
    if style == "short" and not 2 <= len(re.findall(r"[.!?](?:\s|$)", text)) <= 3:
        return "a short reason is 2-3 sentences"
    return None


def reference_path(domain: str) -> Path:
    """The reference file of one domain: ``sample_data/reasons/{domain}.jsonl`` under the project root."""
    return PROJECT_ROOT / "sample_data" / "reasons" / f"{domain}.jsonl"


def _display(path: Path) -> str:
    """The path as a user would type it: relative to the project root when it lies inside it."""
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def _describe(exc: ValidationError) -> str:
    """The first validation problem in words that name the field, e.g. ``missing field 'intent'``."""
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or "record"
    if err["type"] == "missing":
        return f"missing field {field!r}"
    if err["type"] == "extra_forbidden":
        return f"unknown field {field!r}"
    msg = str(err["msg"]).removeprefix("Value error, ")
    return f"field {field!r}: {msg}"


def _shareable(item: Item) -> set[str]:
    """What a ``shared`` entry may name: the item's categories, tags and string attribute values."""
    values = {v for v in item.attributes.values() if isinstance(v, str)}
    return set(item.categories) | set(item.tags) | values


def _check_ids(pair: ReferencePair, catalog: Catalog) -> str | None:
    """The first way the pair disagrees with the catalog, or None when its ids and shared values hold."""
    for item_id in (pair.item_id, *pair.history):
        if catalog.index_of(item_id) is None:
            return f"unknown item id {item_id!r} (not in catalog {catalog.name!r})"
    if pair.item_id in pair.history:
        return f"item {pair.item_id!r} is in its own history"
    item = _item(catalog, pair.item_id)
    history_values = set().union(*(_shareable(_item(catalog, h)) for h in pair.history))
    for value in pair.shared:
        if value not in _shareable(item) or value not in history_values:
            return f"shared value {value!r} is not a category, tag or attribute of both the item and its history"
    return None


def load_references(
    path: Path, catalog: Catalog, styles: Collection[str] | None = ("one-line",)
) -> list[ReferencePair]:
    """Read and validate a reference file against ``catalog``; the first bad row raises :class:`DataError`.

    The message names the file, the 1-based line and the problem, e.g.
    ``sample_data/reasons/products.jsonl line 17: missing field 'intent'``. Blank lines are skipped.
    Every row is validated, but only rows of ``styles`` are returned: by default the one-line rows,
    because reference metrics compare a one-line reason with one-line references (like with like);
    ``styles=None`` returns every row (training uses them all, each tagged with its style).
    """
    unknown = sorted(set(styles or ()) - set(REFERENCE_STYLES))
    if unknown:
        raise ValueError(f"`styles` must be among {list(REFERENCE_STYLES)}. Got {unknown}.")
    shown = _display(path)
    if not path.is_file():
        raise DataError(f"reference file {shown} does not exist")
    pairs: list[ReferencePair] = []
    seen: dict[str, int] = {}
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{shown} line {lineno}"
            try:
                raw: Any = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{where}: not valid JSON ({exc.msg})") from exc
            if not isinstance(raw, dict):
                raise DataError(f"{where}: expected a JSON object, got {type(raw).__name__}")
            try:
                pair = ReferencePair.model_validate(raw)
            except ValidationError as exc:
                raise DataError(f"{where}: {_describe(exc)}") from exc
            if pair.id in seen:
                raise DataError(f"{where}: duplicate id {pair.id!r} (first on line {seen[pair.id]})")
            if problem := _check_ids(pair, catalog):
                raise DataError(f"{where}: {problem}")
            seen[pair.id] = lineno
            if styles is None or pair.style in styles:
                pairs.append(pair)
    if not pairs:
        wanted = "" if styles is None else " of style " + ", ".join(sorted(styles))
        raise DataError(f"reference file {shown} holds no rows{wanted}")
    return pairs


def _item(catalog: Catalog, item_id: str) -> Item:
    index = catalog.index_of(item_id)
    if index is None:
        raise DataError(f"unknown item id {item_id!r} (not in catalog {catalog.name!r})")
    return catalog.items[index]


def to_request(pair: ReferencePair, catalog: Catalog) -> ReasonRequest:
    """The reason request a generator sees for this pair: the same evidence the writer used.

    Every history item is cited by ``pair.component`` with weights falling in listed order (the
    writer's order of importance), and that scorer gets the whole contribution, so generators that
    rank evidence by weight and contribution pick what the writer picked.
    """
    history = [_item(catalog, h) for h in pair.history]
    n = len(history)
    evidence = [
        Evidence(kind="history_item", label=h.title, weight=(n - i) / n, item_id=h.item_id)
        for i, h in enumerate(history)
    ]
    return ReasonRequest(
        item=_item(catalog, pair.item_id),
        contributions={pair.component: 1.0},
        evidence={pair.component: evidence},
        history=history,
        intent=Intent(summary=pair.intent, source="reference"),
    )


def split_by_item(
    pairs: Sequence[ReferencePair], holdout: float = 0.2, seed: int = 0
) -> tuple[list[ReferencePair], list[ReferencePair]]:
    """(kept, held out): ``holdout`` of the distinct recommended items, with every pair of each, held out.

    Splitting by item rather than by row keeps a fine-tuned model from being scored on an item it
    has already seen reasons for. The split depends only on the item ids and ``seed``, not on row
    order; both sides keep the input order.
    """
    if not 0.0 <= holdout < 1.0:
        raise ValueError(f"`holdout` must be in [0, 1). Got {holdout}.")
    items = sorted({p.item_id for p in pairs})
    random.Random(seed).shuffle(items)
    held = set(items[: round(holdout * len(items))])
    kept = [p for p in pairs if p.item_id not in held]
    return kept, [p for p in pairs if p.item_id in held]
