"""How fluent a reason reads to the base model: its mean token log-probability.

The verifier's fluency floor (:attr:`genre.text.verifier.VerifierConfig.min_fluency`) compares this
figure with a threshold calibrated on the dev part of the labelled reasons
(``bench/verifier_labels.py``). It is measured by the *base* SmolLM2, never an adapter, and without
any prompt, so the same text gets the same figure whichever generator wrote it.
"""

from __future__ import annotations

from collections.abc import Sequence

from genre.models import Generator

__all__ = ["mean_logprobs"]


def mean_logprobs(texts: Sequence[str], generator: Generator, batch_size: int = 16) -> list[float]:
    """The mean log-probability per token of each text under ``generator`` (0.0 for an empty text).

    Each text is read after the tokenizer's start token (its end token when it has none), so the
    first word is scored too. Texts are batched; padding is never scored.
    """
    import torch

    tok = generator.tokenizer
    start = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
    pad = tok.pad_token_id if tok.pad_token_id is not None else start
    out: list[float] = []
    for lo in range(0, len(texts), batch_size):
        chunk = texts[lo : lo + batch_size]
        ids = [[start, *tok(t, add_special_tokens=False)["input_ids"][:256]] for t in chunk]
        width = max(len(x) for x in ids)
        batch = torch.full((len(ids), width), pad, dtype=torch.long)
        mask = torch.zeros((len(ids), width), dtype=torch.long)
        for row, x in enumerate(ids):
            batch[row, : len(x)] = torch.tensor(x)
            mask[row, : len(x)] = 1
        with torch.inference_mode():
            logits = generator.model(input_ids=batch.to(generator.device), attention_mask=mask.to(generator.device))
            logp = torch.log_softmax(logits.logits[:, :-1].float(), dim=-1)
        target = batch[:, 1:].to(logp.device)
        picked = logp.gather(2, target.unsqueeze(-1)).squeeze(-1)
        live = mask[:, 1:].to(logp.device).float()
        sums = (picked * live).sum(dim=1)
        counts = live.sum(dim=1)
        out += [float(s / c) if c > 0 else 0.0 for s, c in zip(sums.tolist(), counts.tolist(), strict=True)]
    return out
