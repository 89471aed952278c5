"""Seeded sampling: drawn from a generator per call, never the process-wide RNG (tiny random GPT-2)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from genre.components.reasoners.decoding import seeded_sampling
from genre.components.reasoners.local import LocalLLMReasoner
from genre.models import Generator
from tests.explain.test_attention import tiny_gpt2
from tests.explain.test_generators import three_requests


@pytest.fixture(scope="module")
def gpt2() -> Generator:
    return tiny_gpt2()


def written(gen: Generator, seed: int, **config) -> list[str]:
    """The raw continuations the reasoner's one batched generate writes for the three test requests."""
    reasoner = LocalLLMReasoner({"max_new_tokens": 10, "attention": False, **config})
    reasoner.generator = gen
    reqs = three_requests()
    prefixes = [reasoner.prefix(r) for r in reqs]
    return reasoner._generate([reasoner._input_text(r, p) for r, p in zip(reqs, prefixes, strict=True)], prefixes, seed)


def test_the_processor_picks_one_token_per_row_from_its_own_generator():
    scores = torch.tensor([[0.0, 0.0, 0.0, 10.0], [0.0, 0.0, 0.0, 0.0]])
    state = torch.get_rng_state()
    picks = [seeded_sampling(1.0, 0.9, seed=5)[0](torch.zeros(2, 1, dtype=torch.long), scores) for _ in range(2)]
    assert torch.equal(torch.get_rng_state(), state)
    for out in picks:
        assert (torch.isfinite(out).sum(dim=1) == 1).all()  # one token left per row, at score 0
        assert out[0, 3] == 0.0  # 10 logits ahead: the 0.9 nucleus holds only that token
    assert torch.equal(picks[0], picks[1])  # a fresh processor with the same seed draws the same
    with pytest.raises(ValueError, match="temperature above 0"):
        seeded_sampling(0.0, 0.9, seed=1)


def test_a_tiny_nucleus_samples_exactly_the_greedy_tokens(gpt2):
    # Nucleus mass 1e-6 keeps only the most likely token, so sampling must reproduce greedy decoding.
    assert written(gpt2, 3, temperature=1.0, top_p=1e-6) == written(gpt2, 3, temperature=0.0)


def test_seeds_decide_the_sample_and_concurrent_calls_do_not_disturb_each_other(gpt2):
    alone = {seed: written(gpt2, seed, temperature=1.0) for seed in (1, 2)}
    assert alone[1] != alone[2]
    assert written(gpt2, 1, temperature=1.0) == alone[1]
    # Two sessions sampling at once: each call draws only from its own generator.
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {seed: [pool.submit(written, gpt2, seed, temperature=1.0) for _ in range(3)] for seed in (1, 2)}
        together = {seed: [f.result() for f in fs] for seed, fs in futures.items()}
    assert all(out == alone[seed] for seed, outs in together.items() for out in outs)


def test_the_config_seed_applies_when_the_caller_gives_none(gpt2):
    reasoner = LocalLLMReasoner({"temperature": 1.0, "seed": 4, "max_new_tokens": 10, "attention": False})
    reasoner.generator = gpt2
    reqs = three_requests()
    assert [r.text for r in reasoner(reqs).reasons] == [r.text for r in reasoner(reqs, seed=4).reasons]
