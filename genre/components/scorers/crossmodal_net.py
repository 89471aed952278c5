"""The cross-modal SASRec network: each item is its learned ID embedding fused by a gate with its projected text.

The fused table is the items' only representation: the encoder reads it as input and scores against
it as output (tied), so an item the training data barely knows still has a vector, carried by its text.

Gate ``g`` (per item, per dimension, in [0, 1]) weighs the two: ``v = g * id + (1 - g) * P(text)``.

- ``learned``: ``g = sigmoid(W [id; P(text)] + a * log(1 + n) + b)``, with ``n`` the item's training count.
  The model decides per item, and the count lets it learn that an ID seen a few times is noise.
- ``count``: ``g = n / (n + shrinkage)``, no parameters: an item with no training events is pure text, and
  the ID earns weight as events accumulate (the shrinkage of a Bayesian mean towards its prior).
- ``hybrid``: the product of the two: the learned gate, capped by the count prior.

ID dropout: while training, each step drops the ID of a random share of items (``g = 0`` for them, in
the inputs and the outputs alike), so the text path must learn to carry an item on its own, as it does
at inference for items with no events. Without it the text path only learns the residual the IDs leave.

Fusion ``residual`` keeps the whole text vector and adds ``g * id`` to it, so the text path is trained
by every item at every step, not only by the dropped and the rare ones.

Logit adjustment (Menon et al., "Long-tail learning via logit adjustment", ICLR 2021): the loss sees
``logit_i + tau * log(1 + min(n_i, cap))`` and scoring uses the plain logit, so the vectors need not
encode how often an item was seen. A text vector alone cannot say how popular a film is, so without it
an item known only by its text keeps ranking low whatever it shares with the history; with the cap,
items seen more than ``cap`` times are all shifted alike and the head keeps its popularity order.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from genre.components.scorers.sasrec_net import PAD, SasRecNet

Gate = Literal["learned", "count", "hybrid"]
Projection = Literal["linear", "mlp"]
Fusion = Literal["gated", "residual"]


class CrossModalNet(SasRecNet):
    """SASRec whose item vectors are a gated fusion of a learned ID embedding and the item's projected text."""

    text: torch.Tensor
    """The items' text embeddings (row 0, padding, zero): a buffer."""
    count: torch.Tensor
    """The items' training interactions (row 0, padding, zero): a buffer."""

    def __init__(
        self,
        n_items: int,
        hidden: int,
        max_len: int,
        layers: int,
        heads: int,
        dropout: float,
        *,
        text: torch.Tensor,
        counts: torch.Tensor,
        gate: Gate,
        projection: Projection,
        id_dropout: float,
        shrinkage: float,
        fusion: Fusion = "gated",
        logit_adjustment: float = 0.0,
        adjustment_cap: float = float("inf"),
    ) -> None:
        super().__init__(n_items, hidden, max_len, layers, heads, dropout)
        if text.shape[0] != n_items or counts.shape != (n_items,):
            raise ValueError(
                f"text vectors {tuple(text.shape)} and counts {tuple(counts.shape)} "
                f"must have one row per item ({n_items})"
            )
        self.gate_kind = gate
        self.id_dropout = id_dropout
        self.shrinkage = shrinkage
        self.fusion = fusion
        self.logit_adjustment = logit_adjustment
        self.adjustment_cap = adjustment_cap
        pad = torch.zeros(1, text.shape[1], dtype=torch.float32)
        # Not saved with the weights: both come from the catalog and the interactions the artifact is keyed by.
        self.register_buffer("text", torch.cat([pad, text.float()]), persistent=False)
        self.register_buffer("count", torch.cat([torch.zeros(1), counts.float()]), persistent=False)
        dim = text.shape[1]
        self.project: nn.Module = (
            nn.Linear(dim, hidden)
            if projection == "linear"
            else nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, hidden))
        )
        if gate != "count":
            self.gate = nn.Linear(2 * hidden, hidden)
            self.count_weight = nn.Parameter(torch.zeros(hidden))
            # Start at g = 1/2: neither path is preferred before the data says which one predicts.
            nn.init.zeros_(self.gate.bias)
        self._keep: torch.Tensor | None = None

    def gates(self) -> torch.Tensor:
        """Gate values of every token (row 0 is padding), shape (n_items + 1, hidden) or (n_items + 1, 1)."""
        ids = self.items.weight
        prior = (self.count / (self.count + self.shrinkage))[:, None]
        if self.gate_kind == "count":
            return prior
        learned = torch.sigmoid(
            self.gate(torch.cat([ids, self.project(self.text)], dim=1))
            + torch.log1p(self.count)[:, None] * self.count_weight
        )
        return learned if self.gate_kind == "learned" else learned * prior

    def table(self) -> torch.Tensor:
        """The fused vector of every token, row 0 (padding) zero."""
        ids = self.items.weight
        text = self.project(self.text)
        g = self.gates()
        if self.training and self._keep is not None:
            g = g * self._keep[:, None]
        fused = g * ids + (text if self.fusion == "residual" else (1 - g) * text)
        real = torch.ones(fused.shape[0], 1, device=fused.device)
        real[PAD] = 0.0
        return fused * real

    def item_vectors(self) -> torch.Tensor:
        return self.table()[1:]

    def input_vectors(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.table()[tokens]

    def training_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        logits = super().training_logits(hidden)
        if self.logit_adjustment == 0:
            return logits
        # Logit adjustment (Menon et al., ICLR 2021): train against logits + tau * log prior, score without
        # it, so the vectors learn preference beyond popularity and rare items are not ranked down for it.
        # Capped, the prior is flat above the cap: the head keeps its popularity and only the tail is lifted.
        return logits + self.logit_adjustment * torch.log1p(self.count[1:].clamp(max=self.adjustment_cap))

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        # A training step is one forward and then item_vectors() for the logits: drawing the dropped IDs
        # here keeps them the same on the input and the output side of that step.
        if self.training and self.id_dropout > 0:
            self._keep = (torch.rand(self.count.shape[0], device=self.count.device) >= self.id_dropout).float()
        else:
            self._keep = None
        return super().forward(tokens)
