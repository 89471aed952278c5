"""SASRec: a causal self-attention transformer that predicts the next item from the user's history.

Trained once per catalog, interaction set and config on the catalog's timestamped
interactions (next-item objective, full softmax over the catalog) and kept in the
artifact store (``env.artifact``) as safetensors weights plus a JSON meta file, so later
runs reload instead of retraining. Weights are never pickled.

A model update (:mod:`genre.training.feedback_update`) sets ``env.warm_start``: the model then continues
from the earlier version's weights for a few epochs on the interactions with feedback folded in.
Explicit negatives (``env.negatives``) are not used: the next-item objective has no place for them.
"""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from pydantic import Field, ValidationInfo, field_validator
from torch.nn import functional as F

from genre.components.env import Env
from genre.components.scorers.sasrec_net import SasRecNet, training_windows, user_item_sequences
from genre.core.artifacts import Artifact, ArtifactFiles
from genre.core.component import ComponentConfig, Scorer
from genre.core.errors import ConfigError, CorruptArtifactError
from genre.core.types import Catalog, Evidence, Intent, Interactions, ScoreList, UserState

_NAME = "sasrec"
_MODEL_FILE = "model.safetensors"
_META_FILE = "meta.json"


class SasRecConfig(ComponentConfig):
    max_len: int = Field(default=50, ge=1, le=1000)
    """How many of the user's most recent items the model reads (older ones are ignored)."""
    hidden: int = Field(default=64, ge=4, le=1024)
    """Width of item embeddings and transformer layers; must be divisible by heads."""
    layers: int = Field(default=2, ge=1, le=12)
    """Number of transformer blocks."""
    heads: int = Field(default=2, ge=1, le=16)
    """Attention heads per block."""
    dropout: float = Field(default=0.2, ge=0.0, le=0.9)
    """Dropout rate on the input embeddings and on each block's attention and feed-forward outputs while training."""
    epochs: int = Field(default=15, ge=1, le=1000)
    """Passes over all training sequences (15 train MovieLens-100K in under a minute on 2 CPU cores)."""
    batch_size: int = Field(default=128, ge=1, le=8192)
    """Training sequences per optimizer step."""
    lr: float = Field(default=4e-3, gt=0.0, le=1.0)
    """Adam learning rate."""
    seed: int = Field(default=42, ge=0)
    """Seed for weight initialization, dropout and batch order: same seed and data, same model."""
    evidence_items: int = Field(default=3, ge=1, le=20)
    """How many history items to report as evidence: those the model attends to most for the item."""

    @field_validator("heads")
    @classmethod
    def _heads_divide_hidden(cls, heads: int, info: ValidationInfo) -> int:
        hidden = info.data.get("hidden")
        if hidden is not None and hidden % heads:
            fits = ", ".join(str(h) for h in range(1, 17) if hidden % h == 0)
            raise ValueError(f"heads ({heads}) must divide hidden ({hidden}) evenly; heads that fit: {fits}")
        return heads


class SasRecScorer(Scorer):
    """SASRec: a causal transformer over the user's recent items predicts what comes next.

    Besides scoring, ``attention`` and ``self_attention`` give the per-position weights the
    explorer draws as heatmaps, and ``explain`` names the most-attended history items.
    """

    Config = SasRecConfig
    config: SasRecConfig

    ARTIFACT_VERSION: ClassVar[int] = 1
    """Version of the model, its training and the saved weights; bump it when any changes (older state is a miss)."""
    NAME: ClassVar[str] = _NAME
    """The artifact name and the name in messages and score lists (variants set their own)."""

    def _artifact_params(self) -> dict[str, Any]:
        """What the saved state is keyed by besides the data (variants add what else they are built from)."""
        return self.config.model_dump()

    def _new_model(self) -> SasRecNet:
        """A freshly initialized network for this catalog and config (variants return their own)."""
        c = self.config
        return SasRecNet(self.n_items, c.hidden, c.max_len, c.layers, c.heads, c.dropout)

    def prepare(self, env: Env) -> None:
        super().prepare(env)
        inter = env.interactions(self.NAME)
        self.catalog: Catalog = env.catalog
        self.n_items = len(env.catalog)
        self.device = torch.device(env.device)
        self.model = self._new_model().to(self.device)
        artifact = env.artifact(self.NAME, self._artifact_params(), self.ARTIFACT_VERSION)
        self.meta: dict[str, Any] | None = artifact.load(self._load)
        if self.meta is None:
            warm = self._warm_state(env)
            if warm is not None and env.warm_start is not None:
                self.meta = self._train(inter, env.progress, init=warm[0], epochs=env.warm_start.epochs)
                self.meta["warm_start"] = {"from": str(warm[1]), "epochs": env.warm_start.epochs}
            else:
                self.meta = self._train(inter, env.progress)
            self._save(artifact, self.meta)
        self.model.eval()

    def _warm_state(self, env: Env) -> tuple[dict[str, torch.Tensor], Path] | None:
        """The saved weights of ``env.warm_start`` (same catalog and config) and their folder, or None."""
        artifact = env.warm_artifact(self.NAME, self._artifact_params(), self.ARTIFACT_VERSION)
        if artifact is None:
            return None
        state = artifact.load(
            lambda files: self._read(files)[1], what=f"Warm-start state of {self.NAME}", fallback="trained from scratch"
        )
        return (state, artifact.folder) if state is not None else None

    # ---- training and the saved state ---------------------------------------------------------

    def _train(
        self,
        inter: Interactions,
        progress: bool,
        init: dict[str, torch.Tensor] | None = None,
        epochs: int | None = None,
    ) -> dict[str, Any]:
        """Fit the model on ``inter``; ``init`` (a saved state dict) continues from earlier weights
        for ``epochs`` epochs (default: the config's) instead of a fresh start."""
        cfg = self.config
        n_epochs = cfg.epochs if epochs is None else epochs
        torch.manual_seed(cfg.seed)
        # Re-initialize under the seed so a fresh model is identical however many models were built before.
        self.model = self._new_model().to(self.device)
        if init is not None:
            self.model.load_state_dict(init)
        inputs, targets = training_windows(user_item_sequences(inter), cfg.max_len)
        if inputs.shape[0] == 0:
            raise ConfigError(
                f"scorer {self.NAME!r} learns from item sequences, but no user in the {self.catalog.name} "
                "interactions has two or more events"
            )
        x = torch.from_numpy(inputs).to(self.device)
        y = torch.from_numpy(targets).to(self.device)
        opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        gen = torch.Generator().manual_seed(cfg.seed)
        losses: list[float] = []
        start = time.perf_counter()
        epochs_iter: Any = range(n_epochs)
        if progress:
            from tqdm.auto import tqdm

            desc = f"training {self.NAME}" + (" (warm start)" if init is not None else "")
            epochs_iter = tqdm(epochs_iter, desc=desc, unit="epoch")
        self.model.train()
        for epoch in epochs_iter:
            self.env.checkpoint(f"training {self.NAME}", epoch / n_epochs)
            total, count = 0.0, 0
            for batch in torch.randperm(x.shape[0], generator=gen).split(cfg.batch_size):
                batch = batch.to(self.device)
                bx, by = x[batch], y[batch]
                hidden, _ = self.model(bx)
                mask = by >= 0
                # Score only real positions: padding would cost a full catalog softmax for nothing.
                logits = self.model.training_logits(hidden[mask])
                loss = F.cross_entropy(logits, by[mask])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                n = int(mask.sum())
                total += float(loss.detach()) * n
                count += n
            losses.append(total / max(count, 1))
            if progress:
                epochs_iter.set_postfix(loss=f"{losses[-1]:.3f}")
        return {
            "config": cfg.model_dump(),
            "n_items": self.n_items,
            "epochs": n_epochs,
            "loss": losses,
            "train_seconds": round(time.perf_counter() - start, 3),
            "train_sequences": int(inputs.shape[0]),
        }

    def _read(self, files: ArtifactFiles) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """The saved meta and weights, when they are for this catalog's size."""
        meta = files.json(_META_FILE)
        if not isinstance(meta, dict) or meta.get("n_items") != self.n_items:
            found = meta.get("n_items") if isinstance(meta, dict) else meta
            raise CorruptArtifactError(f"{_META_FILE} is for {found!r} items, not {self.n_items}")
        return meta, files.tensors(_MODEL_FILE, device=str(self.device))

    def _load(self, files: ArtifactFiles) -> dict[str, Any]:
        """The saved meta, after loading the saved weights into the model."""
        meta, state = self._read(files)
        self.model.load_state_dict(state)
        return meta

    def _save(self, artifact: Artifact, meta: dict[str, Any]) -> None:
        artifact.save({_MODEL_FILE: dict(self.model.state_dict()), _META_FILE: meta})

    # ---- inference ------------------------------------------------------------------------------

    def _tokens(self, seen: list[np.ndarray]) -> torch.Tensor:
        max_len = self.config.max_len
        tokens = np.zeros((len(seen), max_len), dtype=np.int64)
        for row, s in enumerate(seen):
            s = np.asarray(s, dtype=np.int64)[-max_len:]
            if s.size:
                tokens[row, max_len - s.size :] = s + 1
        return torch.from_numpy(tokens).to(self.device)

    def _encode(self, seen: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        # Scoring, evidence and attention for one run all encode the same history: encode it once.
        key = np.asarray(seen[-self.config.max_len :], dtype=np.int64).tobytes()
        # Runs of one shared pipeline call this from several threads; the lock keeps the memo whole.
        cache = self.__dict__.setdefault("_encoded", {})
        lock = self.__dict__.setdefault("_encoded_lock", threading.Lock())
        with lock:
            hit = cache.get(key)
        if hit is None:
            hit = self._encode_uncached(seen)
            with lock:
                if key not in cache and len(cache) >= 16:
                    cache.pop(next(iter(cache)))
                cache[key] = hit
        return hit

    @torch.inference_mode()
    def _encode_uncached(self, seen: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """One user's last-layer hidden states over their history positions, and each layer's weights."""
        n = min(seen.size, self.config.max_len)
        hidden, weights = self.model(self._tokens([seen]))
        return hidden[0, -n:].double().cpu().numpy(), [w[0, -n:, -n:].double().cpu().numpy() for w in weights]

    @torch.inference_mode()
    def _item_vectors(self, items: np.ndarray) -> np.ndarray:
        # np.array copies: torch cannot wrap the negative strides of a reversed view.
        index = torch.from_numpy(np.array(items, dtype=np.int64)).to(self.device)
        return self.model.item_vectors()[index].double().cpu().numpy()

    def __call__(self, state: UserState, intent: Intent, candidates: np.ndarray) -> ScoreList:
        if state.seen_index.size == 0:
            return ScoreList(self.NAME, np.full(candidates.shape[0], np.nan), note="no history to continue")
        hidden, _ = self._encode(state.seen_index)
        return ScoreList(self.NAME, self._item_vectors(candidates) @ hidden[-1])

    def score_users(
        self, states: list[UserState], intents: list[Intent], items: np.ndarray | None = None
    ) -> np.ndarray:
        """Scores for many users, shape (n_users, len(items) or n_items): batched forward passes."""
        return self.score_sequences([state.seen_index for state in states], items)

    @torch.inference_mode()
    def score_sequences(self, seen: list[np.ndarray], items: np.ndarray | None = None) -> np.ndarray:
        """Scores of every catalog item after each history (catalog indices, oldest first); NaN rows where empty."""
        vectors = self.model.item_vectors()
        if items is not None:
            vectors = vectors[torch.from_numpy(np.asarray(items, dtype=np.int64)).to(self.device)]
        out = np.full((len(seen), vectors.shape[0]), np.nan)
        step = max(self.config.batch_size, 256)
        for lo in range(0, len(seen), step):
            chunk = seen[lo : lo + step]
            hidden, _ = self.model(self._tokens(chunk))
            scores = (hidden[:, -1] @ vectors.T).double().cpu().numpy()
            has = np.array([np.asarray(s).size > 0 for s in chunk])
            out[lo : lo + len(chunk)][has] = scores[has]
        return out

    def attention(self, state: UserState, items: np.ndarray) -> dict[int, np.ndarray]:
        """Per item: weights over the last min(len(history), max_len) history positions, oldest first, sum 1.

        Target-aware: softmax over positions of (last-layer hidden state · item embedding) / sqrt(hidden),
        i.e. which moments of the history point most towards the item. Empty arrays without history.
        """
        if state.seen_index.size == 0:
            return {int(i): np.zeros(0) for i in items}
        hidden, _ = self._encode(state.seen_index)
        logits = self._item_vectors(items) @ hidden.T / math.sqrt(self.config.hidden)
        logits -= logits.max(axis=1, keepdims=True)
        weights = np.exp(logits)
        weights /= weights.sum(axis=1, keepdims=True)
        return {int(i): weights[row] for row, i in enumerate(items)}

    def self_attention(self, state: UserState) -> np.ndarray:
        """The model's own attention of the last position over the history, shape (layers, positions), head mean."""
        if state.seen_index.size == 0:
            return np.zeros((self.config.layers, 0))
        _, weights = self._encode(state.seen_index)
        return np.stack([w[-1] for w in weights])

    def explain(self, state: UserState, items: np.ndarray) -> dict[int, list[Evidence]]:
        attention = self.attention(state, items)
        window = state.seen_index[-self.config.max_len :]
        out: dict[int, list[Evidence]] = {}
        for i, weights in attention.items():
            # A re-watched item appears at several positions; it is one piece of evidence.
            per_item: dict[int, float] = {}
            for j, w in zip(window.tolist(), weights.tolist(), strict=True):
                per_item[j] = per_item.get(j, 0.0) + w
            top = sorted(per_item.items(), key=lambda kv: -kv[1])[: self.config.evidence_items]
            out[i] = [
                Evidence("history_item", self.catalog.items[j].title, w, item_id=self.catalog.items[j].item_id)
                for j, w in top
            ]
        return out
