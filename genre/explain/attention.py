"""The explain stage's two token-level attention views.

* :func:`profile_attention` — which words of the profile text the sentence embedder weighed
  when it embedded the profile (``RunTrace.profile_attention``).
* :func:`reason_evidence_attention` — where a local generator looked, among the evidence
  units of its prompt, while writing a reason (``RankedItem.generator_attention``).

Attention is a view of what a model mixed, not a proof of what caused an output; the
leave-one-out attributions beside it are the causal check. Both views are pure reads of one
forward pass with eager attention (the fused kernels return no attention weights).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from genre.core.types import ProfileAttention, TokenWeight
from genre.models import EmbedderEncoder, Generator, load_embedder_encoder

__all__ = [
    "evidence_shares",
    "merge_wordpieces",
    "profile_attention",
    "profile_token_attention",
    "reason_evidence_attention",
    "received_attention",
]

# Attention tensors of one forward pass are layers x heads x n x n per row; rows are sent in
# chunks that keep those tensors under this many bytes.
ATTENTION_BUDGET_BYTES = 512 * 1024 * 1024

# ---- the embedder's attention over the profile text --------------------------------------


def received_attention(last_layer: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Attention each token receives in one layer: mean over heads and over the real query tokens.

    ``last_layer`` is one text's attention, shape (heads, n, n), rows = queries; ``mask`` (n,)
    marks real tokens (not padding). Returns shape (n,), zero at padding; it sums to 1 over
    the real tokens because every real query row does.
    """
    mask = np.asarray(mask, dtype=bool)
    weights = np.asarray(last_layer, dtype=np.float64).mean(axis=0)  # (n, n) averaged over heads
    received = weights[mask].mean(axis=0) if mask.any() else np.zeros(weights.shape[1])
    return np.where(mask, received, 0.0)


def merge_wordpieces(
    text: str,
    offsets: Sequence[tuple[int, int]],
    word_ids: Sequence[int | None],
    weights: np.ndarray,
) -> list[TokenWeight]:
    """Per-token weights summed into words, with character spans in ``text``, normalized to sum 1.

    Tokens whose ``word_ids`` entry is None ([CLS], [SEP], padding) are dropped. A word is what
    the tokenizer's pre-tokenizer split off (a BERT "word" ends at whitespace or punctuation);
    its WordPieces ("thriller", "##s") share a word id, so the word's weight is their sum and
    its span runs from the first piece's start to the last piece's end. Each returned
    ``token`` is ``text[start:end]``: the original characters, not the lower-cased,
    accent-stripped pieces the model saw.
    """
    spans: dict[int, list[float]] = {}
    for (start, end), word, weight in zip(offsets, word_ids, np.asarray(weights, dtype=np.float64), strict=True):
        if word is None or end <= start:
            continue
        if word in spans:
            span = spans[word]
            span[0], span[1], span[2] = min(span[0], start), max(span[1], end), span[2] + weight
        else:
            spans[word] = [start, end, weight]
    total = sum(span[2] for span in spans.values())
    if not spans or total <= 0 or not np.isfinite(total):
        return []
    ordered = sorted(spans.values(), key=lambda span: span[0])
    return [
        TokenWeight(token=text[int(s) : int(e)], weight=round(w / total, 6), start=int(s), end=int(e))
        for s, e, w in ordered
    ]


def profile_attention(text: str, device: str = "auto", encoder: EmbedderEncoder | None = None) -> ProfileAttention:
    """The sentence embedder's attention over the words of ``text``.

    **Aggregate: attention received in the last layer, averaged over all real query tokens
    and all heads.** The sentence embedding is the mean of the last layer's token states
    (mean pooling over every token, [CLS] and [SEP] included). In the last layer, token
    ``i``'s state is a residual plus ``sum_j A[i, j] V[j]``, so after mean pooling the value
    of token ``j`` enters the sentence vector with weight ``mean_i A[i, j]``: that column mean,
    averaged over heads, is exactly how much token ``j`` is mixed into the embedding at the
    last step, while the residual part gives every token the same ``1/n``. Attention
    rollout over all layers was the alternative; with the residual folded in it comes out
    near-uniform on this 6-layer model (stop words about level with content words) and adds
    the assumption that residual and attention paths weigh the same, so it shows less.

    [CLS], [SEP] and padding are then dropped (they soak up attention as sinks but carry no
    word), WordPieces are merged back into words with spans in the original ``text`` and the
    weights renormalized to sum 1 (:func:`merge_wordpieces`).

    The embedder reads at most ``encoder.max_length`` tokens: for a longer text only the part
    it saw is weighed, ``truncated`` is set and ``seen_chars`` says where it stopped.
    """
    import torch

    enc = encoder if encoder is not None else load_embedder_encoder(device)
    tokenizer = enc.tokenizer
    batch = tokenizer(
        text, truncation=True, max_length=enc.max_length, return_offsets_mapping=True, return_tensors="pt"
    )
    offsets = [(int(s), int(e)) for s, e in batch.pop("offset_mapping")[0].tolist()]
    word_ids = batch.word_ids(0)
    # The untruncated length decides `truncated`; a fast tokenizer counts 20,000 characters in ms.
    full_length = len(tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])
    truncated = full_length > enc.max_length
    real_ends = [e for (s, e), w in zip(offsets, word_ids, strict=True) if w is not None and e > s]
    seen_chars = (max(real_ends) if real_ends else 0) if truncated else len(text)
    if not real_ends:
        return ProfileAttention(tokens=[], truncated=truncated, seen_chars=seen_chars)

    inputs = {k: v.to(enc.device) for k, v in batch.items()}
    with torch.inference_mode():
        out = enc.model(**inputs, output_attentions=True)
    last = out.attentions[-1][0].float().cpu().numpy()  # (heads, n, n)
    mask = inputs["attention_mask"][0].cpu().numpy().astype(bool)
    tokens = merge_wordpieces(text, offsets, word_ids, received_attention(last, mask))
    return ProfileAttention(tokens=tokens, truncated=truncated, seen_chars=seen_chars)


def profile_token_attention(
    text: str, device: str = "auto", encoder: EmbedderEncoder | None = None
) -> list[TokenWeight]:
    """The words of :func:`profile_attention` alone (its ``truncated`` flag is on that result)."""
    return profile_attention(text, device, encoder).tokens


# ---- the generator's attention from its reason back to the prompt's evidence ----------------

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
