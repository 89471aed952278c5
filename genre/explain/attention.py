"""Which words of the profile text the sentence embedder weighed (``RunTrace.profile_attention``).

Attention is a view of what a model mixed, not a proof of what caused an output; the
leave-one-out attributions beside it are the causal check. The generator's attention over its
prompt's evidence belongs to the reasoners that have it: :mod:`genre.components.reasoners.attention`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from genre.core.types import ProfileAttention, TokenWeight
from genre.models import EmbedderEncoder, load_embedder_encoder

__all__ = ["merge_wordpieces", "profile_attention", "profile_token_attention", "received_attention"]


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
