"""``train-reasoner --from-reviews``: train with the reviewed reasons, and measure the change on held-out requests.

The change is measured on the **held-out labelled requests** of the config (``sample_data/reasons/labelled``,
split ``heldout``; none of them is ever trained on, :func:`genre.training.review_data.heldout_keys`):
the adapter tuned-local used before (the one in ``--out``, else the default adapter, else the base
model alone as ``grounded``) and the new one each write a reason for the same requests, and the claim verifier
checks what each shows. A person's "acceptable" needs a person: relabel the new reasons with
``bench/make_label_pool.py`` for that.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genre.components.reasoners.grounded import GroundedReasoner
from genre.components.reasoners.tuned import DEFAULT_ADAPTER, TunedLocalReasoner, adapter_dir, resolve_adapter
from genre.core.errors import InputError, ModelUnavailableError
from genre.core.types import ReasonRequest
from genre.text.verifier import Verifier
from genre.training.card import write_card
from genre.training.reasoner import TrainResult, train_reasoner
from genre.training.review_data import ReviewPairs, dpo_status, heldout_keys, review_pairs, slot_review_pairs

if TYPE_CHECKING:
    from genre.config import PipelineConfig
    from genre.data.labelled import LabelledReason
    from genre.feedback.store import FeedbackStore
    from genre.pipeline import Pipeline
    from genre.training.lora import TuneSettings

__all__ = ["HeldoutScore", "ReviewTraining", "heldout_requests", "score_on", "train_from_reviews"]

BATCH = 4
"""Held-out requests per generate call."""


@dataclass
class HeldoutScore:
    """What one generator showed for the held-out labelled requests, as the verifier sees it."""

    label: str
    reasons: int
    passed: float
    """Share of shown reasons the verifier passes (template fallbacks included)."""
    model_written: float
    """Share of shown reasons the model wrote (not the template fallback)."""
    model_passed: float
    """Share that the model wrote and that pass."""
    invented: float
    """Share naming a title that is no catalog title."""
    wrong_title: float
    """Share naming a catalog title that is neither the item nor in the evidence."""
    texts: list[str] = field(default_factory=list)
    """The shown reasons, in request order (kept in the card, for a person to read and label)."""

    def line(self) -> str:
        return (
            f"{self.label}: verified {self.passed:.0%}, model-written {self.model_written:.0%} "
            f"(verified {self.model_passed:.0%}), invented titles {self.invented:.0%}, "
            f"wrong titles {self.wrong_title:.0%} ({self.reasons} reasons)"
        )


@dataclass
class ReviewTraining:
    """A review-driven training run: the adapter, what the reviews gave, and the held-out change."""

    result: TrainResult
    reviews: ReviewPairs
    survival: dict[str, dict[str, int]]
    """Per review source, how many pairs survived delexicalisation and why the others did not."""
    before: HeldoutScore | None
    after: HeldoutScore | None
    notes: list[str] = field(default_factory=list)
    """What the reviews gave, whether a DPO step could run, what could not be measured (the training's own
    notes are on ``result``)."""


def heldout_requests(labelled: Sequence[LabelledReason], config_name: str, limit: int) -> list[ReasonRequest]:
    """Up to ``limit`` distinct held-out labelled requests of ``config_name``, in id order (reproducible)."""
    seen: set[tuple[str, tuple[str, ...]]] = set()
    out = []
    for r in sorted((r for r in labelled if r.split == "heldout" and r.config == config_name), key=lambda r: r.id):
        key = (r.item_id, r.history_ids)
        if key not in seen:
            seen.add(key)
            out.append(r.request())
    return out[:limit]


def score_on(
    reasoner: GroundedReasoner, label: str, requests: Sequence[ReasonRequest], verifier: Verifier
) -> HeldoutScore:
    """Let a prepared reasoner write a reason per request (in batches) and check each shown one."""
    rows: list[tuple[bool, bool, list[str]]] = []
    texts: list[str] = []
    for start in range(0, len(requests), BATCH):
        batch = list(requests[start : start + BATCH])
        for reason, req in zip(reasoner(batch).reasons, batch, strict=True):
            verdict = verifier.verify(reason.text, req)
            rows.append((verdict.passed, not reason.fallback, list(verdict.errors)))
            texts.append(reason.text)
    n = max(len(rows), 1)
    return HeldoutScore(
        label=label,
        reasons=len(rows),
        passed=sum(p for p, _, _ in rows) / n,
        model_written=sum(m for _, m, _ in rows) / n,
        model_passed=sum(p and m for p, m, _ in rows) / n,
        invented=sum("invented_title" in e for _, _, e in rows) / n,
        wrong_title=sum("wrong_title" in e for _, _, e in rows) / n,
        texts=texts,
    )


def has_adapter(path: Path | None) -> bool:
    return path is not None and (path / "adapter_config.json").is_file()


def default_before(out: Path) -> Path | None:
    """What tuned-local used before this training: the adapter in ``out``, else the default one
    (trained into the cache or shipped); None when neither exists (the base model writes alone)."""
    if has_adapter(out):
        return out
    default = resolve_adapter(DEFAULT_ADAPTER)
    return default if has_adapter(default) else None


def _score_adapter(
    adapter: Path | None, requests: Sequence[ReasonRequest], pipeline: Pipeline, label: str | None = None
) -> HeldoutScore:
    reasoner: GroundedReasoner
    if adapter is not None and has_adapter(adapter):
        reasoner = TunedLocalReasoner({"adapter_path": str(adapter)})
    else:
        reasoner, adapter = GroundedReasoner({}), None
    reasoner.prepare(pipeline.env)
    name = label or (f"tuned-local ({adapter})" if adapter is not None else "grounded (no adapter yet)")
    try:
        return score_on(reasoner, name, requests, Verifier(pipeline.catalog))
    finally:
        del reasoner
        gc.collect()


def train_from_reviews(
    config: PipelineConfig,
    store: FeedbackStore,
    settings: TuneSettings | None = None,
    *,
    out: Path | None = None,
    heldout_limit: int = 12,
    repeat: int = 4,
    progress: bool = False,
    pipeline: Pipeline | None = None,
    labelled: Sequence[LabelledReason] | None = None,
    before: Path | None = None,
    **train_args: Any,
) -> ReviewTraining:
    """Train ``config``'s adapter with its reviewed reasons added, and score before and after on held-out requests.

    ``before`` is the adapter to compare with (default :func:`default_before`). ``labelled`` defaults
    to the shipped labelled set (its held-out part is excluded from training and scores the change;
    ``heldout_limit=0`` skips the scoring). InputError when the store holds no review usable for
    training, saying what it holds and what to do.
    """
    advice = (
        "on the Review page, rate reasons 4 or 5 and mark them faithful, or judge two arms side by side and "
        "mark the better reason faithful"
    )
    if not store.judgements(config_name=config.name) and not store.reviewed_reasons(config_name=config.name):
        # Said before the pipeline is built: that can take minutes.
        raise InputError(
            f"the feedback store {store.where} holds no reviews of config {config.name!r} (no pairwise judgements, "
            f"no rated reasons with their text); {advice}"
        )
    if pipeline is None:
        from genre.pipeline import Pipeline

        pipeline = Pipeline(config, progress=progress)
    if labelled is None:
        from genre.data.labelled import load_labelled

        labelled = load_labelled(require_labels=False)
    catalog = pipeline.catalog
    reviews = review_pairs(store, config.name, catalog, heldout=heldout_keys(labelled))
    if not reviews.pairs:
        raise InputError(
            f"no usable reviews of config {config.name!r} in the feedback store {store.where}: "
            f"{reviews.describe()}; {advice}"
        )
    kept, survival = slot_review_pairs(reviews.pairs, catalog)
    if not kept:
        dropped = "; ".join(
            f"{src}: " + ", ".join(f"{n} {why}" for why, n in outcomes.items()) for src, outcomes in survival.items()
        )
        raise InputError(
            f"none of the {len(reviews.pairs)} reviewed reasons of config {config.name!r} can be trained on: "
            f"each must turn into a slotted sentence that the verifier passes ({dropped})"
        )
    out = (out or adapter_dir(config.name)).expanduser()
    requests = heldout_requests(labelled, config.name, heldout_limit) if heldout_limit > 0 else []
    notes = [reviews.describe(), dpo_status(len(reviews.preferences))]
    if heldout_limit > 0 and not requests:
        notes.append(f"no held-out labelled requests for config {config.name!r}: before/after not measured")
    before_score = None
    if requests:
        try:
            before_score = _score_adapter(before or default_before(out), requests, pipeline)
        except ModelUnavailableError as exc:
            notes.append(f"the adapter in {out} could not be scored before training ({exc}); no before figures")
    result = train_reasoner(
        config, settings, out=out, progress=progress, pipeline=pipeline,
        extra=kept, extra_survival=survival, extra_repeat=repeat, **train_args,
    )  # fmt: skip
    after = _score_adapter(out, requests, pipeline, f"tuned-local retrained with reviews ({out})") if requests else None
    result.card["review_training"] = {
        "reviews": reviews.describe(),
        "pairs": len(reviews.pairs),
        "slotted": len(kept),
        "repeat": repeat,
        "preference_pairs": len(reviews.preferences),
        "heldout_requests": len(requests),
        "before": None if before_score is None else asdict(before_score),
        "after": None if after is None else asdict(after),
    }
    write_card(out, result.card)
    return ReviewTraining(result, reviews, survival, before_score, after, notes)
