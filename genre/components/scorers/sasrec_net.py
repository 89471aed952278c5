"""The SASRec network and its training data: a causal self-attention encoder over item sequences.

Shared by the sequential scorers (:mod:`.sasrec` and its variants), which differ in how an item is
represented and in what they predict from the encoder's hidden states.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from genre.core.types import Interactions

PAD = 0
"""Token 0 is padding; catalog index i is token i + 1."""


class Attention(nn.Module):
    """Multi-head self-attention that can hand back its weights (for the explorer's heatmaps)."""

    def __init__(self, hidden: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.out = nn.Linear(hidden, hidden)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, t, h = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, h // self.heads).permute(2, 0, 3, 1, 4)
        logits = (q @ k.transpose(-2, -1)) / math.sqrt(h // self.heads)
        weights = logits.masked_fill(~allowed[:, None], float("-inf")).softmax(dim=-1)
        y = (weights @ v).transpose(1, 2).reshape(b, t, h)
        return self.out(y), weights.mean(dim=1)


class Block(nn.Module):
    """Pre-LayerNorm transformer block: x + attn(LN(x)), then x + ffn(LN(x))."""

    def __init__(self, hidden: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(hidden)
        self.attn = Attention(hidden, heads)
        self.ln2 = nn.LayerNorm(hidden)
        self.ffn = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, hidden))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, weights = self.attn(self.ln1(x), allowed)
        x = x + self.drop(a)
        x = x + self.drop(self.ffn(self.ln2(x)))
        return x, weights


class SasRecNet(nn.Module):
    """The causal encoder: item and position embeddings, pre-LN blocks, a final LayerNorm.

    ``input_vectors`` and ``item_vectors`` are the two places a variant changes how an item is
    represented (e.g. fused with its text); the blocks stay the same.
    """

    def __init__(self, n_items: int, hidden: int, max_len: int, layers: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.hidden = hidden
        self.items = nn.Embedding(n_items + 1, hidden, padding_idx=PAD)
        self.positions = nn.Embedding(max_len, hidden)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(hidden, heads, dropout) for _ in range(layers))
        self.ln = nn.LayerNorm(hidden)
        # Small init: the item table is also the output layer, and N(0, 1) logits start far from uniform.
        nn.init.normal_(self.items.weight, std=0.02)
        nn.init.normal_(self.positions.weight, std=0.02)
        with torch.no_grad():
            self.items.weight[PAD].zero_()

    def item_vectors(self) -> torch.Tensor:
        """Output embeddings of the catalog items, row i for catalog index i."""
        return self.items.weight[1:]

    def input_vectors(self, tokens: torch.Tensor) -> torch.Tensor:
        """Input embeddings of tokens (catalog index + 1; PAD is a zero vector)."""
        return self.items(tokens)

    def training_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Next-item logits over the catalog that the training loss sees, for hidden states (n, hidden).

        Inference scores are ``hidden @ item_vectors().T``; a variant may train against adjusted logits.
        """
        return hidden @ self.item_vectors().T

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Hidden states (batch, max_len, hidden) of left-padded sequences, and each layer's head-mean weights."""
        t = tokens.shape[1]
        real = tokens != PAD
        causal = torch.ones(t, t, dtype=torch.bool, device=tokens.device).tril()
        # Real queries see real keys up to themselves; padding queries see only themselves, so no row is
        # all -inf (NaN) and padding never leaks into real positions.
        allowed = (causal & real[:, None, :]) | torch.eye(t, dtype=torch.bool, device=tokens.device)
        pos = torch.arange(t, device=tokens.device)
        x = self.input_vectors(tokens) * math.sqrt(self.hidden) + self.positions(pos)
        x = self.drop(x) * real[..., None]
        weights = []
        for block in self.blocks:
            x, w = block(x, allowed)
            x = x * real[..., None]
            weights.append(w)
        return self.ln(x), weights


def user_item_sequences(inter: Interactions) -> list[np.ndarray]:
    """Each user's item indices, oldest first (ties keep file order)."""
    _, codes = np.unique(inter.user_ids, return_inverse=True)
    order = np.lexsort((inter.timestamps, codes))
    items = inter.item_index[order].astype(np.int64)
    cuts = np.flatnonzero(np.diff(codes[order])) + 1
    return np.split(items, cuts)


def training_windows(seqs: list[np.ndarray], max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Left-padded (inputs, targets) tokens: long histories cut into windows so every event is a target once."""
    inputs: list[np.ndarray] = []
    targets: list[np.ndarray] = []
    for s in seqs:
        for end in range(s.size, 1, -max_len):
            w = s[max(0, end - max_len - 1) : end]
            inp = np.zeros(max_len, dtype=np.int64)
            tgt = np.full(max_len, -100, dtype=np.int64)  # -100: cross_entropy's ignore_index
            inp[max_len - w.size + 1 :] = w[:-1] + 1
            tgt[max_len - w.size + 1 :] = w[1:]
            inputs.append(inp)
            targets.append(tgt)
    if not inputs:
        return np.zeros((0, max_len), dtype=np.int64), np.zeros((0, max_len), dtype=np.int64)
    return np.stack(inputs), np.stack(targets)
