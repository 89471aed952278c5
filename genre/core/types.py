"""Data shapes shared by every stage.

Internal, array-heavy shapes (``Catalog``, ``Interactions``, ``UserState``,
``ScoreList``) are dataclasses over numpy arrays; everything that crosses the
library boundary (``UserContext`` in, ``RunTrace`` out) is a pydantic model so
it validates on the way in and serializes to JSON on the way out.

Longer than 420 lines because every shape a stage hands to the next, and the RunTrace that
records them, is one contract: a reader finds all of it here.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from genre.core.verdict import Verdict


@dataclass(frozen=True)
class Item:
    item_id: str
    title: str
    categories: tuple[str, ...] = ()
    description: str = ""
    tags: tuple[str, ...] = ()
    attributes: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        """The text the embedder sees: title, categories, tags and description."""
        parts = [self.title]
        if self.categories:
            parts.append("Categories: " + ", ".join(self.categories))
        if self.tags:
            parts.append("Tags: " + ", ".join(self.tags))
        if self.description:
            parts.append(self.description)
        return ". ".join(parts)

    @property
    def price(self) -> float | None:
        value = self.attributes.get("price")
        return float(value) if isinstance(value, int | float) else None


@dataclass
class Interactions:
    """Timestamped user-item events; ``item_index`` points into the catalog."""

    user_ids: np.ndarray  # str, shape (n,)
    item_index: np.ndarray  # int64, shape (n,)
    timestamps: np.ndarray  # float64 seconds since epoch, shape (n,)
    ratings: np.ndarray  # float64, NaN where unrated, shape (n,)

    def __len__(self) -> int:
        return int(self.item_index.shape[0])

    @property
    def fingerprint(self) -> str:
        """Hash of every event: trained state is keyed by it, so a new split never reuses old weights."""
        h = hashlib.sha256()
        for arr in (self.user_ids.astype(str), self.item_index, self.timestamps, self.ratings):
            h.update(np.ascontiguousarray(arr).tobytes())
            h.update(b"|")
        return h.hexdigest()[:16]

    def subset(self, mask: np.ndarray) -> Interactions:
        return Interactions(self.user_ids[mask], self.item_index[mask], self.timestamps[mask], self.ratings[mask])

    def users(self) -> np.ndarray:
        return np.unique(self.user_ids)

    def for_user(self, user_id: str) -> Interactions:
        mask = self.user_ids == user_id
        order = np.argsort(self.timestamps[mask], kind="stable")
        return Interactions(
            self.user_ids[mask][order],
            self.item_index[mask][order],
            self.timestamps[mask][order],
            self.ratings[mask][order],
        )


@dataclass
class Catalog:
    """Items of one domain, plus their interactions when the domain has any."""

    name: str
    items: list[Item]
    interactions: Interactions | None = None
    popularity_field: str | None = None
    """Attribute that stands in for popularity when there are no interactions."""
    _index: dict[str, int] = field(default_factory=dict, repr=False)
    _fingerprint: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._index = {item.item_id: i for i, item in enumerate(self.items)}
        if len(self._index) != len(self.items):
            counts = Counter(item.item_id for item in self.items)
            dups = sorted(i for i, n in counts.items() if n > 1)
            raise ValueError(f"catalog {self.name!r} has duplicate item ids: {', '.join(dups[:5])}")

    def __len__(self) -> int:
        return len(self.items)

    def index_of(self, item_id: str) -> int | None:
        return self._index.get(item_id)

    @property
    def fingerprint(self) -> str:
        """Hash of every item's text: the key for cached embeddings and trained state."""
        if self._fingerprint is None:
            h = hashlib.sha256()
            for item in self.items:
                h.update(item.item_id.encode())
                h.update(b"\0")
                h.update(item.text().encode())
                h.update(b"\1")
            self._fingerprint = h.hexdigest()[:16]
        return self._fingerprint

    def with_interactions(self, interactions: Interactions | None) -> Catalog:
        """The same items with other interactions (e.g. a training split); item caches stay valid."""
        return Catalog(self.name, self.items, interactions, self.popularity_field)

    def category_names(self) -> list[str]:
        return sorted({c for item in self.items for c in item.categories})


class HistoryEvent(BaseModel):
    """One item the user interacted with."""

    model_config = ConfigDict(extra="forbid")

    item_id: str
    timestamp: datetime | None = None
    rating: float | None = None
    weight: float = Field(default=1.0, gt=0)
    """Relative importance in the user vector, multiplying the recency weight (a liked item counts more)."""


class Constraints(BaseModel):
    """Hard filters on candidates."""

    model_config = ConfigDict(extra="forbid")

    price_min: float | None = Field(default=None, ge=0)
    price_max: float | None = Field(default=None, ge=0)
    categories: list[str] = Field(default_factory=list)
    """Keep only items in at least one of these categories (empty = any)."""

    @model_validator(mode="after")
    def _range(self) -> Constraints:
        if self.price_min is not None and self.price_max is not None and self.price_min > self.price_max:
            raise ValueError(f"price_min ({self.price_min}) is greater than price_max ({self.price_max})")
        return self

    def is_empty(self) -> bool:
        return self.price_min is None and self.price_max is None and not self.categories


class UserContext(BaseModel):
    """Everything known about the user for one run."""

    model_config = ConfigDict(extra="forbid")

    user_id: str | None = None
    profile: str = ""
    history: list[HistoryEvent] = Field(default_factory=list)
    constraints: Constraints = Field(default_factory=Constraints)
    exclude: list[str] = Field(default_factory=list)
    """Item ids never to recommend (besides the history)."""
    push_away: list[str] = Field(default_factory=list)
    """Item ids the user disliked: the context stage moves u away from their mean embedding."""
    push_strength: float = Field(default=0.0, ge=0)
    """β in u ← u − β·mean(embeddings of ``push_away``), renormalized (set from the [feedback] config)."""

    @field_validator("profile")
    @classmethod
    def _strip(cls, v: str) -> str:
        return v.strip()

    def is_cold(self) -> bool:
        return not self.history and not self.profile


@dataclass
class UserState:
    """Output of the context stage: the encoded user."""

    context: UserContext
    history_index: np.ndarray  # int64 catalog indices, oldest first
    history_weights: np.ndarray  # float64 recency weights, sum 1 (empty if no history)
    vector: np.ndarray | None  # unit vector u, None when nothing to encode
    profile_vector: np.ndarray | None = None
    profile_weight: float = 0.0
    seen_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Every history item, oldest first, before rating and length filters (what CF scorers use)."""
    intent: Intent | None = None
    """Set by the pipeline after the intent stage, so evidence can name the intent."""


class IntentLabel(BaseModel):
    label: str
    probability: float


class Intent(BaseModel):
    """Output of the intent stage."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    labels: list[IntentLabel] = Field(default_factory=list)
    summary: str | None = None
    source: str = "none"
    vector: list[float] | None = Field(default=None, exclude=True)


@dataclass
class CandidateSet:
    """Output of the candidate stage: catalog indices to score, and why others were dropped."""

    index: np.ndarray  # int64 catalog indices
    excluded: dict[str, int]
    retrieval: dict[str, Any] = field(default_factory=dict)
    """How a retrieval stage cut the candidates (index kind, how many asked for, how it searched); empty for a
    filter alone. The trace shows it beside the count."""


@dataclass
class Evidence:
    """Why a scorer scored an item as it did."""

    kind: Literal["history_item", "attribute", "popularity", "profile", "intent"]
    label: str
    weight: float
    item_id: str | None = None
    count: int | None = None
    """For a history item of a collaborative scorer: how many users interacted with both it and the
    scored item in the training data (None where the scorer does not count)."""

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "label": self.label, "weight": round(float(self.weight), 6)}
        if self.item_id is not None:
            d["item_id"] = self.item_id
        if self.count is not None:
            d["count"] = int(self.count)
        return d


@dataclass
class ScoreList:
    """One scorer's output: a score for every candidate, NaN where it cannot score."""

    name: str
    scores: np.ndarray  # float64, aligned with CandidateSet.index
    note: str | None = None


@dataclass
class Fused:
    """Fusion output: a blended score and each component's additive contribution."""

    scores: np.ndarray  # float64, aligned with candidates
    contributions: dict[str, np.ndarray]  # name -> aligned array; sums to scores
    normalized: dict[str, np.ndarray]
    order: np.ndarray | None = None
    """Positions into the candidates, best first, when a re-ranker overrides score order."""


@dataclass
class ReasonRequest:
    """What a reasoner may use for one item: only evidence the pipeline computed."""

    item: Item
    contributions: dict[str, float]
    evidence: dict[str, list[Evidence]]
    history: list[Item]
    intent: Intent
    cold_start: bool = False


# ---- The trace: what every page and the CLI's JSON show -----------------------------------


class EvidenceOut(BaseModel):
    kind: str
    label: str
    weight: float
    item_id: str | None = None
    count: int | None = None
    """Users who interacted with both this history item and the recommended item (collaborative scorers)."""


class RejectedCandidate(BaseModel):
    """A text a generator wrote for an item and did not show, with why it was rejected."""

    text: str
    """The candidate as written (slots filled where they could be)."""
    problems: list[str]
    """Why it was rejected, one readable line each."""


class ReasonOut(BaseModel):
    text: str
    generator: str
    evidence_ids: list[str] = Field(default_factory=list)
    faithful: bool | None = None
    """Whether the reason passed verification (``verdict.passed``); None until it has been verified."""
    verdict: Verdict | None = None
    """The verifier's verdict on ``text``, with its claims; None until verified."""
    fallback: bool = False
    """True when ``text`` is the template reason shown because no generated candidate passed the check."""
    rejected: list[RejectedCandidate] = Field(default_factory=list)
    """The generated candidates that were not shown and why (for anyone who asks what the model wrote)."""


class AttributionOut(BaseModel):
    """What removing one history item (or profile sentence) does to this item."""

    label: str
    item_id: str | None = None
    score_delta: float
    """Fused score without the element minus with it (negative: the element supported the item)."""
    rank_delta: int
    """New rank minus old rank (positive: the item falls without the element)."""


class TokenWeight(BaseModel):
    """One word of a text with its attention weight and where it sits in the original text."""

    token: str
    """The word exactly as written: ``text[start:end]``."""
    weight: float
    start: int
    """Character offset of the word's first character in the original text."""
    end: int
    """Character offset just past the word's last character."""


class ProfileAttention(BaseModel):
    """Which words of the profile text the sentence embedder attended to."""

    tokens: list[TokenWeight]
    """Words in text order, weights summing to 1 (empty when the text has no tokens)."""
    truncated: bool = False
    """The text is longer than the embedder's input limit: only ``text[:seen_chars]`` was embedded and weighed."""
    seen_chars: int = 0
    """Characters of the profile the embedder saw (its whole length unless ``truncated``)."""


class AttentionOut(BaseModel):
    """Attention weights over history positions (oldest first) for one item."""

    item_ids: list[str]
    weights: list[float]


class RankedItem(BaseModel):
    rank: int
    item_id: str
    title: str
    categories: list[str]
    score: float
    scores: dict[str, float | None]
    """Raw score per scorer (None where the scorer could not score)."""
    normalized: dict[str, float | None]
    contributions: dict[str, float]
    """Per-scorer additive share of ``score``."""
    evidence: dict[str, list[EvidenceOut]]
    reason: ReasonOut | None = None
    template_reason: ReasonOut | None = None
    """The deterministic template reason, kept beside a generated one for comparison and fallback."""
    attribution: list[AttributionOut] = Field(default_factory=list)
    """Leave-one-out over history items, most supportive first."""
    profile_attribution: list[AttributionOut] = Field(default_factory=list)
    """Leave-one-out over profile sentences."""
    attention: dict[str, AttentionOut] = Field(default_factory=dict)
    """Per sequential scorer, its attention over the history for this item."""
    generator_attention: dict[str, float] | None = None
    """Where the local generator looked while writing ``reason``: evidence unit label ->
    share of the reason tokens' attention to the prompt (mean over layers and heads), over the
    units its prompt listed (``item: <title>``, ``history: <title>``, ``shared categories``,
    ``intent``, ``main reason``); sums to 1. None for template and HTTP reasoners, and where
    the reason is the template fallback."""
    attributes: dict[str, Any] = Field(default_factory=dict)


class HistoryOut(BaseModel):
    item_id: str
    title: str
    weight: float
    timestamp: datetime | None = None


class StageTiming(BaseModel):
    stage: str
    component: str
    ms: float


class FeedbackApplied(BaseModel):
    """What feedback changed for a run: see ``genre.feedback.apply`` for the rules."""

    liked: list[str] = Field(default_factory=list)
    """Items that joined (or were reinforced in) the history: liked, rated 4-5 or clicked."""
    weights: dict[str, float] = Field(default_factory=dict)
    """The history weight each liked item got."""
    excluded: list[str] = Field(default_factory=list)
    """Items removed from the candidates: disliked, not interested, or rated 1-2."""
    pushed_away: list[str] = Field(default_factory=list)
    """Items whose mean embedding was subtracted from the user vector (empty when the push is 0)."""
    ignored: list[str] = Field(default_factory=list)
    """Items the feedback named that are not in this catalog."""
    n_events: int = 0
    """Feedback events considered (the latest per item wins)."""


class RunTrace(BaseModel):
    """Everything one run produced. Serializes to JSON; pages render only this."""

    run_id: str
    created_at: datetime
    config_name: str
    config: dict[str, Any]
    device: str
    precision: str | None = None
    """The local generator's precision in this run (fp32, int8, bf16, fp16); None when no local model wrote
    anything (template or HTTP reasons, no LLM intent summary) and in traces from before it was recorded."""
    user: UserContext
    history: list[HistoryOut]
    intent: Intent
    candidates: dict[str, Any]
    scorers: list[str]
    items: list[RankedItem]
    timings: list[StageTiming]
    notices: list[str] = Field(default_factory=list)
    cold_start: bool = False
    feedback: FeedbackApplied | None = None
    """The feedback applied before this run; None when the run was given none."""
    profile_attention: ProfileAttention | None = None
    """The sentence embedder's attention over the profile text's words; None without profile text."""
    pending_reasons: list[int] = Field(default_factory=list)
    """Ranks still showing their template reason because generation was deferred (see Pipeline.explain_items)."""
    model_version: str | None = None
    """The model version (``python -m genre update``) whose trained state ranked the items; None: the base training."""

    def to_json(self, indent: int | None = 2) -> str:
        return self.model_dump_json(indent=indent)

    def total_ms(self) -> float:
        return float(sum(t.ms for t in self.timings))

    def device_label(self) -> str:
        """The device with the generator's precision when a local model wrote (``cpu · int8``), else the device."""
        return f"{self.device} · {self.precision}" if self.precision else self.device


def stable_hash(obj: Any) -> str:
    """Short, order-independent hash of a JSON-able object (config dicts, parameters)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]
