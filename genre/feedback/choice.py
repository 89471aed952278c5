"""Reason feedback → generator choice: which reason generator reviewers judged best (``[feedback] prefer_reviewed``).

A generator's review score is the mean of what its reviews measured: the share of
``reason_faithful`` verdicts that said faithful, and the mean ``reason_rating`` scaled from 1-5
to 0-1. Only generators with at least ``min_reviews`` reason events count, and a choice is made
only between two or more of them; ties keep the config's own generator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from genre.core.errors import GenreError

if TYPE_CHECKING:
    from genre.config import PipelineConfig, StageSpec
    from genre.feedback.store import GeneratorAcceptance


def review_score(acc: GeneratorAcceptance) -> float | None:
    """Mean of the faithful rate and the mean rating scaled to 0-1 (whichever exist); None without either."""
    parts = []
    if acc.faithful_rate is not None:
        parts.append(acc.faithful_rate)
    if acc.mean_rating is not None:
        parts.append((acc.mean_rating - 1.0) / 4.0)
    return sum(parts) / len(parts) if parts else None


@dataclass
class GeneratorChoice:
    """The generator to use and why."""

    chosen: str
    current: str
    """The config's own generator."""
    scores: dict[str, float] = field(default_factory=dict)
    """Review score of each generator with enough reviews."""
    notice: str = ""

    @property
    def changed(self) -> bool:
        return self.chosen != self.current


def _describe(name: str, acc: GeneratorAcceptance) -> str:
    parts = []
    if acc.faithful_rate is not None:
        parts.append(f"faithful {acc.faithful_rate:.0%}")
    if acc.mean_rating is not None:
        parts.append(f"rating {acc.mean_rating:.1f}/5")
    return f"{name} ({', '.join(parts) or 'no scores'}, {acc.n} reviews)"


def choose_generator(current: str, reviews: Mapping[str, GeneratorAcceptance], min_reviews: int) -> GeneratorChoice:
    """The best-reviewed generator among those with ``min_reviews`` reviews, when there are two or more."""
    scores = {}
    for name, acc in reviews.items():
        score = review_score(acc)
        if acc.n >= min_reviews and score is not None:
            scores[name] = score
    if len(scores) < 2:
        counts = ", ".join(f"{n} {a.n}" for n, a in sorted(reviews.items())) or "none"
        return GeneratorChoice(
            current,
            current,
            scores,
            f"Reason generator: {current} from [explain]; preferring the best-reviewed one needs two or more "
            f"generators with at least {min_reviews} reviews each (reviews so far: {counts}).",
        )
    best = max(scores, key=lambda n: (round(scores[n], 9), n == current, n))
    others = [n for n in sorted(scores, key=lambda n: -scores[n]) if n != best]
    verb = "kept" if best == current else "chosen"
    notice = (
        f"Reason generator {verb} by reviews: {_describe(best, reviews[best])} scores {scores[best]:.2f}, over "
        + "; ".join(f"{_describe(n, reviews[n])} {scores[n]:.2f}" for n in others)
        + "."
    )
    return GeneratorChoice(best, current, scores, notice)


def reviewed_explain(
    config: PipelineConfig, reviews: Mapping[str, GeneratorAcceptance] | None
) -> tuple[StageSpec, GeneratorChoice]:
    """The [explain] spec a pipeline should build under ``prefer_reviewed``, and the choice behind it.

    ``reviews`` default to the feedback store's for this config (or for ``[feedback] reviews_from``);
    a store that cannot be read keeps [explain] and says so. A chosen generator other than the
    config's runs with its default options.
    """
    from genre.config import StageSpec

    current = config.explain.component
    if reviews is None:
        try:
            from genre.feedback.store import FeedbackStore

            with FeedbackStore() as store:
                reviews = store.generator_acceptance(config.feedback.reviews_from or config.name)
        except GenreError as exc:
            return config.explain, GeneratorChoice(
                current, current, notice=f"Reason generator: {current} from [explain]; reviews unavailable ({exc})."
            )
    choice = choose_generator(current, reviews, config.feedback.min_reviews)
    if not choice.changed:
        return config.explain, choice
    return StageSpec(component=choice.chosen), choice
