"""The reasoner contract, run for every built-in reasoner.

A reasoner returns a ``ReasonBatch``: one reason per request, in request order, and the notices of
that call, never kept on the reasoner. The same seed gives the same reasons, and no call reads or
moves the process-wide random state (torch, numpy, ``random``). A new reasoner gets the whole
contract by one subclass of :class:`ReasonerContract`.

template and openai-compatible (against a tiny local HTTP stub) run in the fast suite, local-llm also
on a tiny random GPT-2; local-llm and tuned-local (grounded, shipped adapter) on the real SmolLM2 are ``slow``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np
import pytest
import torch

from genre.components.reasoners.http import OpenAICompatibleReasoner
from genre.components.reasoners.local import LocalLLMReasoner
from genre.components.reasoners.template import TemplateReasoner
from genre.components.reasoners.tuned import SHIPPED_ADAPTERS, TunedLocalReasoner
from genre.core.component import AttendsToPrompt, ReasonBatch, Reasoner, StreamsReasons
from genre.core.types import ReasonOut, ReasonRequest
from tests.explain.test_attention import tiny_gpt2
from tests.explain.test_generators import Stub, env, three_requests


def evidence_ids(req: ReasonRequest) -> set[str]:
    return {e.item_id for evs in req.evidence.values() for e in evs if e.item_id}


def belongs_to(reason: ReasonOut, req: ReasonRequest) -> bool:
    """Whether a reason names evidence of ``req`` and of no other request.

    The test requests' evidence titles differ, so a reason handed to the wrong request fails this.
    A title glued to the noise a random model writes after the prefill is still found as text.
    """
    titles = {e.label for evs in req.evidence.values() for e in evs if e.item_id}
    named = bool(reason.evidence_ids) or any(title in reason.text for title in titles)
    return named and set(reason.evidence_ids) <= evidence_ids(req)


def global_rng() -> tuple[torch.Tensor, Any, Any]:
    return torch.get_rng_state(), np.random.get_state(), random.getstate()


def same_rng(a: tuple[torch.Tensor, Any, Any], b: tuple[torch.Tensor, Any, Any]) -> bool:
    numpy_same = a[1][0] == b[1][0] and np.array_equal(a[1][1], b[1][1]) and a[1][2:] == b[1][2:]
    return torch.equal(a[0], b[0]) and numpy_same and a[2] == b[2]


class ReasonerContract:
    """What every reasoner promises; subclasses provide a prepared ``reasoner`` fixture."""

    streams: ClassVar[bool] = False
    """Whether the reasoner declares ``StreamsReasons``."""
    attends: ClassVar[bool] = False
    """Whether the reasoner declares ``AttendsToPrompt``."""

    @contextmanager
    def degraded(self, reasoner: Reasoner, monkeypatch: pytest.MonkeyPatch) -> Iterator[bool]:
        """Inside: every item falls back to the template (True), or the reasoner cannot degrade (False)."""
        yield False

    def test_is_a_reasoner_declaring_its_capabilities(self, reasoner):
        assert isinstance(reasoner, Reasoner)
        assert isinstance(reasoner, StreamsReasons) is self.streams
        assert isinstance(reasoner, AttendsToPrompt) is self.attends
        assert not hasattr(reasoner, "last_notices")

    def test_one_reason_per_request_in_request_order(self, reasoner):
        reqs = three_requests()
        batch = reasoner(reqs)
        assert isinstance(batch, ReasonBatch)
        assert len(batch.reasons) == len(reqs)
        for req, reason in zip(reqs, batch.reasons, strict=True):
            assert belongs_to(reason, req), (req.item.title, reason)
        reversed_batch = reasoner(reqs[::-1])
        for req, reason in zip(reqs[::-1], reversed_batch.reasons, strict=True):
            assert belongs_to(reason, req), (req.item.title, reason)
        empty = reasoner([])
        assert empty.reasons == [] and empty.notices == []

    def test_notices_come_back_with_their_call_and_are_not_kept(self, reasoner, monkeypatch):
        reqs = three_requests()
        with self.degraded(reasoner, monkeypatch) as degrades:
            bad = reasoner(reqs)
        good = reasoner(reqs)
        if degrades:
            assert bad.notices and all(r.generator == "template" for r in bad.reasons)
        else:
            assert bad.notices == []
        # The degraded call's notices stay with that call: none reach the next one or the reasoner.
        assert set(bad.notices).isdisjoint(good.notices)
        for value in vars(reasoner).values():
            assert value is not bad.notices and value is not good.notices
            if bad.notices:
                assert value != bad.notices

    def test_same_seed_same_reasons_and_the_global_rng_is_untouched(self, reasoner):
        reqs = three_requests()
        before = global_rng()
        first = [r.text for r in reasoner(reqs, seed=7).reasons]
        again = [r.text for r in reasoner(reqs, seed=7).reasons]
        assert first == again
        if self.streams:
            streamed = sorted(reasoner.stream(reqs[:2], seed=7))
            assert streamed == sorted(reasoner.stream(reqs[:2], seed=7))
            assert {index for index, _ in streamed} == {0, 1}
        assert same_rng(before, global_rng())


class TestTemplate(ReasonerContract):
    @pytest.fixture
    def reasoner(self):
        reasoner = TemplateReasoner()
        reasoner.prepare(env())
        return reasoner


class TestOpenAICompatible(ReasonerContract):
    streams = True

    @pytest.fixture
    def reasoner(self):
        with Stub() as stub:
            self.stub = stub  # the same instance runs the test: degraded() switches this server
            reasoner = OpenAICompatibleReasoner({"base_url": stub.base_url, "model": "stub-model", "timeout_s": 5})
            reasoner.prepare(env())
            yield reasoner

    @contextmanager
    def degraded(self, reasoner, monkeypatch):
        self.stub.mode = "empty"  # the server answers, but with no text
        try:
            yield True
        finally:
            self.stub.mode = "ok"


class LocalContract(ReasonerContract):
    """The transformers reasoners: they stream, show their attention, and here they sample."""

    streams = True
    attends = True

    @contextmanager
    def degraded(self, reasoner, monkeypatch):
        with monkeypatch.context() as patch:
            patch.setattr(reasoner, "_generate", lambda texts, prefixes, seed: [""] * len(texts))
            yield True

    def test_the_seed_reaches_sampling(self, reasoner):
        reqs = three_requests()
        written = {tuple(r.text for r in reasoner(reqs, seed=seed).reasons) for seed in (1, 2, 3)}
        assert len(written) > 1


class TestLocalLLMOnATinyModel(LocalContract):
    """local-llm's contract on a 2-layer random GPT-2: fast, and the text is noise after the prefill."""

    @pytest.fixture(scope="class")
    def reasoner(self):
        reasoner = LocalLLMReasoner({"temperature": 1.0, "max_new_tokens": 12, "attention": False})
        reasoner.generator = tiny_gpt2()
        reasoner.template.prepare(env())
        return reasoner


@pytest.mark.slow
class TestLocalLLM(LocalContract):
    @pytest.fixture(scope="class")
    def reasoner(self):
        reasoner = LocalLLMReasoner({"temperature": 0.8, "max_new_tokens": 32, "attention": False})
        reasoner.prepare(env())
        return reasoner


@pytest.mark.slow
class TestTunedLocal(ReasonerContract):
    """The shipped project-data adapter under the grounded reasoner (slots, best of N, template fallback)."""

    @pytest.fixture(scope="class")
    def reasoner(self):
        reasoner = TunedLocalReasoner({"adapter_path": str(SHIPPED_ADAPTERS / "grounded"), "candidates": 2})
        reasoner.prepare(env())
        return reasoner

    @contextmanager
    def degraded(self, reasoner, monkeypatch):
        with monkeypatch.context() as patch:
            patch.setattr(
                reasoner, "_generate", lambda plans, prefixes, seed: ([""] * len(prefixes), [0.0] * len(prefixes))
            )
            yield True
