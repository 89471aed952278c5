"""Item-based collaborative scorers: item-kNN and EASE.

Both learn an item x item weight matrix S from the (binary) interaction matrix and
score a user as x_u @ S, where x_u marks the user's history. That makes them work
for any user, including profiles built in the explorer, and makes their evidence
exact: item j's score is the sum of S[h, j] over history items h.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from genre.components.env import Env
from genre.core.artifacts import ArtifactFiles
from genre.core.component import ComponentConfig, Scorer
from genre.core.errors import CorruptArtifactError
from genre.core.types import Evidence, Intent, ScoreList, UserState


class ItemItemScorer(Scorer):
    """Shared scoring, caching and evidence for scorers defined by an item x item matrix."""

    kind: ClassVar[str]
    ARTIFACT_VERSION: ClassVar[int]
    """Version of ``fit`` and the saved weights; bump it when either changes (older state is then a miss)."""
    config: ItemItemConfig
    _columns: Any = None
    """The training users x items matrix in column form, for co-occurrence counts (built when first needed)."""

    def prepare(self, env: Env) -> None:
        super().prepare(env)
        self.catalog = env.catalog
        self._columns = None  # counts come from this env's interactions
        artifact = env.artifact(self.kind, self.config.model_dump(), self.ARTIFACT_VERSION)
        weights = artifact.load(self._read_weights)
        if weights is not None:
            self.weights = weights
            return
        matrix, _ = env.user_item_matrix(self.kind)
        started = time.perf_counter()
        self.weights = self.fit(matrix).astype(np.float32)
        meta = {"config": self.config.model_dump(), "seconds": round(time.perf_counter() - started, 2)}
        artifact.save({"weights.npz": {"weights": self.weights}, "meta.json": meta})

    def _read_weights(self, files: ArtifactFiles) -> np.ndarray:
        weights = files.arrays("weights.npz")["weights"]
        n = len(self.catalog)
        if weights.shape != (n, n):
            raise CorruptArtifactError(f"weights of shape {weights.shape} for {n} items")
        return weights

    @abstractmethod
    def fit(self, matrix: object) -> np.ndarray:
        """The item x item weights, learned from a users x items binary sparse matrix."""

    def _history(self, state: UserState) -> tuple[np.ndarray, np.ndarray]:
        """Distinct history items and their weights: 1 each, or decaying with how many events ago."""
        seq = state.seen_index
        half_life = self.config.recency_half_life
        if seq.size == 0:
            return seq, np.zeros(0)
        age = np.arange(seq.size - 1, -1, -1, dtype=np.float64)
        w = np.ones(seq.size) if half_life is None else 0.5 ** (age / half_life)
        items, first = np.unique(seq[::-1], return_index=True)  # the latest occurrence of each item wins
        return items, w[::-1][first]

    def __call__(self, state: UserState, intent: Intent, candidates: np.ndarray) -> ScoreList:
        hist, w = self._history(state)
        if hist.size == 0:
            return ScoreList(self.kind, np.full(candidates.shape[0], np.nan), note="no history to compare with")
        return ScoreList(self.kind, (w @ self.weights[np.ix_(hist, candidates)]).astype(np.float64))

    def score_users(
        self, states: list[UserState], intents: list[Intent], items: np.ndarray | None = None
    ) -> np.ndarray:
        x = np.zeros((len(states), len(self.catalog)), dtype=np.float32)
        for row, state in enumerate(states):
            hist, w = self._history(state)
            x[row, hist] = w
        weights = self.weights if items is None else self.weights[:, items]
        out = (x @ weights).astype(np.float64)
        out[x.sum(axis=1) == 0] = np.nan
        return out

    def explain(self, state: UserState, items: np.ndarray) -> dict[int, list[Evidence]]:
        hist, w = self._history(state)
        out: dict[int, list[Evidence]] = {}
        for i in items:
            i = int(i)
            if hist.size == 0:
                out[i] = []
                continue
            contrib = w * self.weights[hist, i]
            order = [
                int(j) for j in np.argsort(-contrib, kind="stable")[: self.config.evidence_items] if contrib[j] > 0
            ]
            counts = self.co_counts(hist[order], i) if order else []
            out[i] = [
                Evidence("history_item", self.catalog.items[int(hist[j])].title, float(contrib[j]),
                         item_id=self.catalog.items[int(hist[j])].item_id, count=n)
                for j, n in zip(order, counts, strict=True)
            ]  # fmt: skip
        return out

    def co_counts(self, history: np.ndarray, item: int) -> list[int]:
        """How many training users interacted with both ``item`` and each of ``history`` (catalog indices).

        The weights alone cannot say this (they are normalized or regressed), and a reason saying
        "120 people who rated Fargo also rated this" needs the plain count.
        """
        columns = self._columns
        if columns is None:
            matrix, _ = self.env.user_item_matrix(self.kind)
            # Column slices of the users x items matrix; built once, on the first explained run.
            columns = self._columns = matrix.tocsc()
        target = columns[:, item]
        return [int(columns[:, int(h)].multiply(target).sum()) for h in history]


class ItemItemConfig(ComponentConfig):
    """Options every item x item scorer shares."""

    recency_half_life: float | None = Field(default=None, gt=0)
    """Weigh each history item by 0.5^(events ago / this); unset weighs all history equally."""
    evidence_items: int = Field(default=3, ge=1, le=20)
    """How many history items to report as evidence."""


class ItemKNNConfig(ItemItemConfig):
    neighbors: int = Field(default=100, ge=1)
    """How many most similar items each item keeps (the neighbourhood size)."""
    shrinkage: float = Field(default=10.0, ge=0)
    """Added to the cosine denominator so items with few co-interactions look less similar."""


class ItemKNNScorer(ItemItemScorer):
    """Item-kNN: shrunk cosine similarity between items' interaction vectors, top neighbours kept."""

    Config = ItemKNNConfig
    config: ItemKNNConfig
    kind = "itemknn"
    ARTIFACT_VERSION = 1

    def fit(self, matrix: object) -> np.ndarray:
        from scipy import sparse

        x = sparse.csr_matrix(matrix)
        co = (x.T @ x).toarray().astype(np.float64)
        norms = np.sqrt(np.diag(co))
        sim = co / (np.outer(norms, norms) + self.config.shrinkage + 1e-12)
        np.fill_diagonal(sim, 0.0)
        k = min(self.config.neighbors, sim.shape[0] - 1)
        if k < sim.shape[0] - 1:
            # Keep, for each target item (column), only its k most similar source items.
            cut = np.partition(sim, -k, axis=0)[-k]
            sim[sim < cut[None, :]] = 0.0
        return sim


class EaseConfig(ItemItemConfig):
    l2: float = Field(default=250.0, gt=0)
    """Ridge penalty λ of EASE; larger values smooth more (ML-100K works well around 200-500)."""


class EaseScorer(ItemItemScorer):
    """EASE (Steck 2019): closed-form linear item-item model with a zero diagonal."""

    Config = EaseConfig
    config: EaseConfig
    kind = "ease"
    ARTIFACT_VERSION = 1

    def fit(self, matrix: object) -> np.ndarray:
        from scipy import sparse

        x = sparse.csr_matrix(matrix)
        gram = (x.T @ x).toarray().astype(np.float64)
        gram[np.diag_indices_from(gram)] += self.config.l2
        p = np.linalg.inv(gram)
        b = -p / np.diag(p)[None, :]
        np.fill_diagonal(b, 0.0)
        return b
