"""How a local model decodes a reason: when to stop, and seeded sampling that leaves global RNGs alone.

transformers' own sampling draws from the process-wide torch RNG, so two browser sessions
generating at once would disturb each other's draws, and seeding it would disturb everyone
else's. :func:`seeded_sampling` instead samples inside a logits processor from a
``torch.Generator`` made for that one call and hands ``generate`` a one-hot score row, so
``generate`` runs greedy and picks exactly the sampled token. The processor applies the warpers
transformers applies when it samples (temperature, top-k 50, nucleus), so the distribution is
the same; only where the random numbers come from differs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from genre.text.hygiene import reason_is_complete

if TYPE_CHECKING:
    import torch

__all__ = ["TOP_K", "seeded_sampling", "stop_when_complete"]

TOP_K = 50
"""Candidates kept before nucleus sampling: transformers' default when a model sets none."""


def stop_when_complete(
    tokenizer: Any,
    prompt_len: int,
    prefixes: list[str],
    event: threading.Event | None,
    complete: Callable[[str], bool] = reason_is_complete,
) -> Any:
    """Stopping criteria: a row is done once its reason is complete (or, for streams, the reader left).

    Complete means :func:`~genre.text.hygiene.clean_reason` would keep no more of it
    (:func:`~genre.text.hygiene.reason_is_complete`), or whatever ``complete`` says of the row's
    prefix + generated text. Rows finish independently, so one long answer does not keep the
    others generating.
    """
    from transformers import StoppingCriteria, StoppingCriteriaList

    class _ReasonDone(StoppingCriteria):
        def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
            import torch

            if event is not None and event.is_set():
                return cast(
                    "torch.BoolTensor", torch.ones(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
                )
            new = tokenizer.batch_decode(input_ids[:, prompt_len:], skip_special_tokens=True)
            done = [complete(prefix + text) for prefix, text in zip(prefixes, new, strict=True)]
            return cast("torch.BoolTensor", torch.tensor(done, dtype=torch.bool, device=input_ids.device))

    return StoppingCriteriaList([_ReasonDone()])


def seeded_sampling(temperature: float, top_p: float, seed: int) -> Any:
    """A logits-processor list that samples each next token from a generator seeded by ``seed``.

    Pass it to a greedy ``generate`` (``do_sample=False``). The generator is made on the scores'
    device at the first step and lives for this one ``generate`` call: the same seed and inputs
    give the same tokens, and no process-wide random state is read or changed.
    """
    import torch
    from transformers import (
        LogitsProcessor,
        LogitsProcessorList,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    if temperature <= 0:
        raise ValueError(f"seeded sampling needs a temperature above 0. Got {temperature}")
    warpers: list[Any] = [TemperatureLogitsWarper(temperature), TopKLogitsWarper(top_k=TOP_K)]
    if top_p < 1.0:
        warpers.append(TopPLogitsWarper(top_p=top_p))

    class _SeededSample(LogitsProcessor):
        def __init__(self) -> None:
            self.generator: torch.Generator | None = None

        def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
            for warper in warpers:
                scores = warper(input_ids, scores)
            if self.generator is None:
                self.generator = torch.Generator(device=scores.device).manual_seed(seed)
            probs = torch.softmax(scores.float(), dim=-1)
            chosen = torch.multinomial(probs, num_samples=1, generator=self.generator)
            # Every other token at -inf: the greedy step that follows picks the sampled one.
            out = torch.full_like(scores, float("-inf"))
            return cast("torch.FloatTensor", out.scatter_(-1, chosen, 0.0))

    return LogitsProcessorList([_SeededSample()])
