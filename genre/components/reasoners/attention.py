"""Where a local generator looked, among the evidence units of its prompt, while writing a reason.

:func:`reason_evidence_attention` reads one forward pass over prompt + reason with eager attention
(the fused kernels return no attention weights) and gives each evidence unit of the prompt
(:class:`~genre.components.reasoners.prompts.PromptUnit`) its share of the attention the reason's
own tokens paid to the prompt (``RankedItem.generator_attention``). Attention is a view of what a
model mixed, not a proof of what caused an output; the leave-one-out attributions beside it are
the causal check. (The embedder's attention over profile words is :mod:`genre.explain.attention`.)
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from genre.models import Generator

__all__ = ["ATTENTION_BUDGET_BYTES", "evidence_shares", "reason_evidence_attention"]

# Attention tensors of one forward pass are layers x heads x n x n per row; rows are sent in
# chunks that keep those tensors under this many bytes.
ATTENTION_BUDGET_BYTES = 512 * 1024 * 1024

_eager_lock = threading.Lock()


@contextmanager
def _eager_attention(model: Any) -> Iterator[None]:
    """Run ``model`` with eager attention for the duration, then restore its implementation.

    Generation keeps its fast kernel; only this pass, which needs attention weights, switches.
    Other threads generating meanwhile just run eager too (same numbers, a little slower).
    """
    with _eager_lock:
        current = getattr(model.config, "_attn_implementation", None)
        switch = current is not None and current != "eager"
        if switch:
            model.set_attn_implementation("eager")
        try:
            yield
        finally:
            if switch:
                model.set_attn_implementation(current)


def evidence_shares(
    attention: np.ndarray,
    offsets: np.ndarray,
    valid: np.ndarray,
    reason_start: int,
    units: Sequence[tuple[str, int, int]],
) -> dict[str, float] | None:
    """Each evidence unit's share of the reason tokens' attention, for one sequence.

    ``attention`` (n, n) is already averaged over layers and heads (rows attend to columns);
    ``offsets`` (n, 2) are the tokens' character spans in the sequence's text, ``valid`` (n,)
    marks real tokens. Reason tokens are the real tokens ending after ``reason_start``. A
    unit ``(label, start, end)`` owns the prompt tokens that overlap its characters (a token
    touching two units goes to the one it overlaps most). A unit's mass is the attention the
    reason tokens give its tokens, averaged over reason tokens and summed over the unit's
    tokens; the shares are those masses normalized over the units, so they sum to 1.
    Returns None when there is no reason token or the units receive no attention.
    """
    offsets = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    starts, ends = offsets[:, 0], offsets[:, 1]
    real = np.asarray(valid, dtype=bool) & (ends > starts)
    rows = real & (ends > reason_start)
    if not rows.any() or not units:
        return None
    received = np.asarray(attention, dtype=np.float64)[rows].mean(axis=0)
    prompt = real & (ends <= reason_start)
    overlap = np.stack(
        [np.clip(np.minimum(ends, e) - np.maximum(starts, s), 0, None) for _, s, e in units]
    )  # (units, n)
    owner = np.where(prompt & (overlap.max(axis=0) > 0), overlap.argmax(axis=0), -1)
    mass = np.array([received[owner == u].sum() for u in range(len(units))])
    total = float(mass.sum())
    if total <= 0 or not np.isfinite(total):
        return None
    return {label: round(float(m / total), 6) for (label, _, _), m in zip(units, mass, strict=True)}


def reason_evidence_attention(
    generator: Generator,
    texts: Sequence[str],
    reason_starts: Sequence[int],
    units: Sequence[Sequence[tuple[str, int, int]]],
    add_special_tokens: bool = False,
) -> list[dict[str, float] | None]:
    """Evidence shares (:func:`evidence_shares`) for several prompt+reason texts, from batched forward passes.

    Each ``texts[i]`` is the exact text the model continued (chat prompt, then the reason);
    ``reason_starts[i]`` is the character where the reason tokens to weigh begin and
    ``units[i]`` the evidence spans in that text. One forward pass per chunk of rows (chunks
    keep the layers x heads x n x n attention tensors under :data:`ATTENTION_BUDGET_BYTES`)
    with eager attention; attention is averaged over every layer and head. Needs a fast
    tokenizer for character offsets; without one every entry is None.
    """
    import torch

    tokenizer, model = generator.tokenizer, generator.model
    if not texts:
        return []
    if not getattr(tokenizer, "is_fast", False):
        return [None] * len(texts)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    lengths = [len(ids) for ids in tokenizer(list(texts), add_special_tokens=add_special_tokens)["input_ids"]]
    layers = int(getattr(model.config, "num_hidden_layers", 1))
    heads = int(getattr(model.config, "num_attention_heads", 1))
    per_row = layers * heads * max(lengths) ** 2 * next(model.parameters()).element_size()
    chunk = max(1, ATTENTION_BUDGET_BYTES // max(per_row, 1))

    out: list[dict[str, float] | None] = []
    with _eager_attention(model), torch.inference_mode():
        for lo in range(0, len(texts), chunk):
            part = list(texts[lo : lo + chunk])
            batch = tokenizer(
                part,
                return_tensors="pt",
                padding=True,
                add_special_tokens=add_special_tokens,
                return_offsets_mapping=True,
            )
            offsets = batch.pop("offset_mapping").numpy()
            mask = batch["attention_mask"]
            position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
            result = model(
                input_ids=batch["input_ids"].to(generator.device),
                attention_mask=mask.to(generator.device),
                position_ids=position_ids.to(generator.device),
                output_attentions=True,
                use_cache=False,
            )
            if not result.attentions or any(a is None for a in result.attentions):
                out.extend([None] * len(part))
                continue
            mean = torch.stack([a.float().mean(dim=1) for a in result.attentions]).mean(dim=0).cpu().numpy()
            valid = mask.numpy().astype(bool)
            for row in range(len(part)):
                index = lo + row
                out.append(evidence_shares(mean[row], offsets[row], valid[row], reason_starts[index], units[index]))
    return out
