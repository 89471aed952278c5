"""How well a trained label head predicts the category of the user's next item.

For every test user the head reads the training history only and predicts the labels of the
first test item (by time); a prediction is a hit when it is among that item's labels (an item
may have several). A head's top 3 are its own ``top_labels`` (most probable first for
``trained-head``; coverage order for ``multitask-head``). The baseline always predicts the most
frequent labels of training next-items.

Macro accuracy is the mean over labels of each label's top-1 recall: among users whose target has
the label, how often the head's first label is that label. It weighs rare genres like common ones,
so always guessing the most common label scores 1 / (number of labels that occur as targets).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from genre.components.intent import item_labels, next_item_label_counts
from genre.core.types import Catalog, UserState
from genre.data.splits import Split


@runtime_checkable
class LabelHead(Protocol):
    """An intent stage that gives label probabilities for many users (``trained-head``, ``multitask-head``)."""

    labels: list[str]

    @property
    def label_field(self) -> str: ...

    def predict_proba(self, states: list[UserState]) -> np.ndarray: ...

    def top_labels(self, states: list[UserState], k: int) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass
class IntentAccuracy:
    config: str
    """The evaluated config whose intent head (or the default head, with --intent-accuracy) was measured."""
    label_field: str
    users: int
    """Test users whose first test item has at least one label (the denominator)."""
    top1: float
    top3: float
    majority_top1: float
    majority_top3: float
    majority_labels: list[str]
    """The baseline's three most frequent labels among training next-items, most frequent first."""
    macro: float = float("nan")
    """Mean over target labels of each label's top-1 recall (see the module docstring)."""
    majority_macro: float = float("nan")
    """The same for always guessing the most frequent label."""
    head: str = ""
    """Class name of the label head measured (``TrainedIntentHead``, ``MultiTaskIntentHead``)."""

    def summary(self) -> str:
        return (
            f"intent head top-1 accuracy {self.top1:.3f} (majority-class baseline {self.majority_top1:.3f}, "
            f"{self.users} users); top-3 {self.top3:.3f} (baseline {self.majority_top3:.3f}); "
            f"macro {self.macro:.3f} (baseline {self.majority_macro:.3f}); "
            f"target: {self.label_field} of each user's first test item; baseline predicts "
            f"{', '.join(self.majority_labels)}"
        )


def intent_accuracy(
    config_name: str,
    head: LabelHead,
    catalog: Catalog,
    split: Split,
    states: list[UserState],
    first_test_items: list[int],
) -> IntentAccuracy:
    """Top-1 and top-3 accuracy of ``head`` and of the majority baseline, over users whose target has labels.

    ``states`` hold each user's training history only; ``first_test_items`` the catalog index of
    each user's first test item. The baseline's counts come from ``split.train`` only.
    """
    field = head.label_field
    column = {label: j for j, label in enumerate(head.labels)}
    counts = next_item_label_counts(catalog, split.train, field)
    majority = list(counts)[:3]
    probs = head.predict_proba(states)
    top, _ = head.top_labels(states, 3)
    hits = {"top1": 0, "top3": 0, "majority_top1": 0, "majority_top3": 0}
    # Per label: users whose target has it, and those among them whose first prediction is it.
    has_label = np.zeros(len(head.labels))
    first_is = np.zeros(len(head.labels))
    majority_first = np.zeros(len(head.labels))
    n = 0
    for row, item in enumerate(first_test_items):
        target = {column[lab] for lab in item_labels(catalog.items[item], field) if lab in column}
        if not target:
            continue
        n += 1
        has_label[list(target)] += 1
        if not np.isnan(probs[row]).any():
            ranked = top[row].tolist()
            hits["top1"] += ranked[0] in target
            hits["top3"] += bool(target & set(ranked))
            if ranked[0] in target:
                first_is[ranked[0]] += 1
        predicted = {column[lab] for lab in majority if lab in column}
        hits["majority_top1"] += bool(majority) and column.get(majority[0]) in target
        hits["majority_top3"] += bool(target & predicted)
        if majority and column.get(majority[0]) in target:
            majority_first[column[majority[0]]] += 1
    rate = {k: round(v / n, 4) if n else float("nan") for k, v in hits.items()}
    occurs = has_label > 0
    macro = round(float((first_is[occurs] / has_label[occurs]).mean()), 4) if occurs.any() else float("nan")
    majority_macro = (
        round(float((majority_first[occurs] / has_label[occurs]).mean()), 4) if occurs.any() else float("nan")
    )
    return IntentAccuracy(
        config_name,
        field,
        n,
        majority_labels=majority,
        macro=macro,
        majority_macro=majority_macro,
        head=type(head).__name__,
        **rate,
    )
