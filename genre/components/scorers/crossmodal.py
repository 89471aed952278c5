"""Cross-modal SASRec: the sequential model with items represented by their ID and their text together.

Each item's vector is its learned ID embedding fused by a gate with its projected MiniLM text embedding
(the catalog's item embeddings, ``env.item_vectors``; see :mod:`.crossmodal_net` for the gate and ID
dropout). The fused vector is both what the encoder reads and what it scores against, so an item with
few or no training interactions is still ranked, by what its text shares with the items a user's
history points to. Training, saved state, attention and evidence are SASRec's (:mod:`.sasrec`).
"""

from __future__ import annotations

from typing import Any, ClassVar, cast

import numpy as np
import torch
from pydantic import Field

from genre.components.env import Env
from genre.components.scorers.crossmodal_net import CrossModalNet, Fusion, Gate, Projection
from genre.components.scorers.sasrec import SasRecConfig, SasRecScorer


class CrossModalConfig(SasRecConfig):
    gate: Gate = "hybrid"
    """How an item's ID and text vectors are weighed: ``learned`` (a gate from both vectors and the item's
    log training count), ``count`` (the ID's weight is n / (n + shrinkage) for n training events, no
    parameters) or ``hybrid`` (the learned gate capped by the count prior)."""
    projection: Projection = "linear"
    """How the text embedding is mapped to the model's width: ``linear`` or ``mlp`` (two layers with GELU)."""
    id_dropout: float = Field(default=0.2, ge=0.0, le=0.9)
    """Share of items whose ID is hidden at each training step, so the text path learns to carry an item alone."""
    shrinkage: float = Field(default=5.0, gt=0.0, le=10000.0)
    """Training events at which the count prior gives the ID half the weight (``count`` and ``hybrid`` gates)."""
    fusion: Fusion = "gated"
    """``gated``: g * id + (1 - g) * text, the gate splits the vector between the two; ``residual``:
    g * id + text, the text is always whole and the gate adds as much ID as the item has earned."""
    logit_adjustment: float = Field(default=1.0, ge=0.0, le=2.0)
    """Train against logits + this x log(1 + training count) and score without it (logit adjustment):
    0 learns popularity into the vectors as SASRec does; higher values rank rarely seen items less far down."""
    adjustment_cap: float = Field(default=20.0, ge=1.0, le=10000.0)
    """Training count above which the logit adjustment stops growing: items seen more often are all
    adjusted alike (so their order keeps its popularity) and only the rarer ones are lifted."""


class CrossModalScorer(SasRecScorer):
    """SASRec over gated ID + text item vectors: items with few or no interactions still rank by their text.

    ``gate_values`` gives each item's ID share (1 = all ID, 0 = all text): how much of an item's vector
    its text carries. Training with logit adjustment (on by default, capped) keeps rarely seen items from
    ranking low for their rarity alone.
    """

    Config = CrossModalConfig
    config: CrossModalConfig

    ARTIFACT_VERSION: ClassVar[int] = 1
    NAME: ClassVar[str] = "sasrec-crossmodal"

    def prepare(self, env: Env) -> None:
        inter = env.interactions(self.NAME)
        # The text and the counts must exist before SASRec's prepare builds (or reloads) the network.
        self.text_vectors = np.asarray(env.item_vectors, dtype=np.float32)
        self.counts = np.bincount(inter.item_index, minlength=len(env.catalog)).astype(np.float32)
        self.embedder_name = env.embedder.name
        super().prepare(env)

    def _artifact_params(self) -> dict[str, Any]:
        # Weights trained on one embedder's text vectors mean nothing on another's.
        return {**self.config.model_dump(), "text_embedder": self.embedder_name}

    def _new_model(self) -> CrossModalNet:
        c = self.config
        return CrossModalNet(
            self.n_items,
            c.hidden,
            c.max_len,
            c.layers,
            c.heads,
            c.dropout,
            text=torch.from_numpy(self.text_vectors),
            counts=torch.from_numpy(self.counts),
            gate=c.gate,
            projection=c.projection,
            id_dropout=c.id_dropout,
            shrinkage=c.shrinkage,
            fusion=c.fusion,
            logit_adjustment=c.logit_adjustment,
            adjustment_cap=c.adjustment_cap,
        )

    @torch.inference_mode()
    def gate_values(self, items: np.ndarray) -> np.ndarray:
        """Each item's ID share of its vector (mean over dimensions): 1 all ID, 0 all text."""
        model = cast(CrossModalNet, self.model)
        index = torch.from_numpy(np.asarray(items, dtype=np.int64) + 1).to(self.device)
        return model.gates()[index].mean(dim=1).double().cpu().numpy()
