"""Attention views: the embedder's weights over profile words and the generator's over prompt evidence.

Models here are tiny BERT / GPT-2 configs with random weights, built in the test (no downloads);
the exact-value tests run on hand-made arrays.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import BertConfig, BertModel, GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

from genre.components.reasoners import attention as generator_attention
from genre.components.reasoners.attention import evidence_shares
from genre.components.reasoners.local import LocalLLMReasoner
from genre.components.reasoners.prompts import SYSTEM_PROMPT, build_prompt, prompt_with_units
from genre.components.reasoners.template import TemplateReasoner
from genre.config import parse_config
from genre.core.types import HistoryEvent, ReasonOut, UserContext
from genre.explain import attention
from genre.explain.attention import (
    merge_wordpieces,
    profile_attention,
    profile_token_attention,
    received_attention,
)
from genre.models import Embedder, EmbedderEncoder, Generator
from genre.pipeline import Pipeline
from tests.conftest import HashEmbedder, tiny_config_dict
from tests.explain.test_generators import ALADDIN, LION, TOY, request, three_requests

# ---- tiny models ------------------------------------------------------------------------------

WORDPIECES = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "i", "love", "slow", "-", "burn", "scan", "##din", "##avian",
    "crime", "thriller", "##s", "cafe", ".", "the", "and", "a",
]  # fmt: skip


def tiny_bert(max_length: int = 32) -> EmbedderEncoder:
    """A 2-layer BERT with random weights and a real WordPiece tokenizer (lower-casing, accent stripping)."""
    vocab = {w: i for i, w in enumerate(WORDPIECES)}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.BertProcessing(("[SEP]", vocab["[SEP]"]), ("[CLS]", vocab["[CLS]"]))
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]", pad_token="[PAD]",
        mask_token="[MASK]",
    )  # fmt: skip
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
        max_position_embeddings=64,
    )  # fmt: skip
    model = BertModel(config, add_pooling_layer=False)
    model.set_attn_implementation("eager")
    return EmbedderEncoder(model.eval(), tokenizer, "cpu", max_length, name="tiny-bert")


def tiny_gpt2() -> Generator:
    """A 2-layer GPT-2 with random weights and a byte-level BPE trained here on the prompts (no chat template)."""
    return tiny_gpt2_on([SYSTEM_PROMPT, *(build_prompt(r) for r in three_requests())] * 2)


def tiny_gpt2_on(corpus: list[str], n_positions: int = 1024) -> Generator:
    """A 2-layer GPT-2 with random weights and a byte-level BPE (vocabulary 400) trained on ``corpus``."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )  # fmt: skip
    tok.train_from_iterator(corpus, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=n_positions, n_embd=32, n_layer=2, n_head=2)
    return Generator(model=GPT2LMHeadModel(config).eval(), tokenizer=tokenizer, device="cpu", name="tiny-gpt2")


@pytest.fixture(scope="module")
def bert() -> EmbedderEncoder:
    return tiny_bert()


@pytest.fixture(scope="module")
def gpt2() -> Generator:
    return tiny_gpt2()


# ---- profile attention: exact values ---------------------------------------------------------


def test_received_attention_is_the_column_mean_over_heads_and_real_queries():
    heads = np.array(
        [
            [[0.5, 0.5, 0.0], [0.2, 0.8, 0.0], [0.3, 0.3, 0.4]],
            [[0.1, 0.9, 0.0], [0.6, 0.4, 0.0], [0.3, 0.3, 0.4]],
        ]
    )
    mask = np.array([True, True, False])  # the third token is padding: neither a query nor a key
    out = received_attention(heads, mask)
    # Head mean rows 0-1: [0.3, 0.7, 0], [0.4, 0.6, 0]; their mean: [0.35, 0.65, 0].
    np.testing.assert_allclose(out, [0.35, 0.65, 0.0])


def test_merge_wordpieces_sums_pieces_into_words_with_spans_in_the_original_text():
    text = "Slow-burn Thrillers"
    # [CLS] slow - burn thriller ##s [SEP]
    offsets = [(0, 0), (0, 4), (4, 5), (5, 9), (10, 18), (18, 19), (0, 0)]
    word_ids = [None, 0, 1, 2, 3, 3, None]
    weights = np.array([0.5, 0.1, 0.05, 0.1, 0.15, 0.1, 0.4])
    out = merge_wordpieces(text, offsets, word_ids, weights)
    assert [(w.token, w.start, w.end) for w in out] == [
        ("Slow", 0, 4), ("-", 4, 5), ("burn", 5, 9), ("Thrillers", 10, 19),
    ]  # fmt: skip
    # Specials dropped, pieces summed (0.15 + 0.1), then normalized over the 0.5 left.
    assert [w.weight for w in out] == pytest.approx([0.2, 0.1, 0.2, 0.5])


def test_merge_wordpieces_with_no_words_is_empty():
    assert merge_wordpieces("", [(0, 0), (0, 0)], [None, None], np.array([0.5, 0.5])) == []


# ---- profile attention: a tiny random BERT ---------------------------------------------------


def assert_well_formed(text: str, tokens) -> None:
    assert tokens, "expected at least one word"
    assert sum(t.weight for t in tokens) == pytest.approx(1.0, abs=1e-4)
    assert all(t.weight >= 0 for t in tokens)
    assert all(text[t.start : t.end] == t.token for t in tokens)
    assert [t.start for t in tokens] == sorted(t.start for t in tokens)
    assert all(a.end <= b.start for a, b in itertools.pairwise(tokens))  # words never overlap


def test_profile_attention_merges_wordpieces_and_keeps_original_characters(bert):
    text = "I love slow-burn Scandinavian crime thrillers. Café!"
    result = profile_attention(text, encoder=bert)
    assert not result.truncated and result.seen_chars == len(text)
    assert_well_formed(text, result.tokens)
    words = [t.token for t in result.tokens]
    # "scan ##din ##avian" and "thriller ##s" are one word each; "Café" is shown as typed, not "cafe".
    assert words == ["I", "love", "slow", "-", "burn", "Scandinavian", "crime", "thrillers", ".", "Café", "!"]
    assert profile_token_attention(text, encoder=bert) == result.tokens


@pytest.mark.parametrize(
    "text",
    [
        "Cosy 🎬🍿 nights, nothing gory 😱 please",
        "أحب أفلام الجريمة البطيئة and the slow ones",
        "מותחנים סקנדינביים, i love them",
        "  leading and trailing spaces \t\n",
        "zero\u200bwidth\u202eand control\x00chars",
    ],
)
def test_profile_attention_handles_emoji_rtl_and_odd_characters(bert, text):
    result = profile_attention(text, encoder=bert)
    assert not result.truncated
    assert_well_formed(text, result.tokens)


def test_profile_attention_on_text_without_tokens_is_empty():
    bert = tiny_bert()
    for text in ("", "   ", "\u200b\u200b"):
        result = profile_attention(text, encoder=bert)
        assert result.tokens == [] and not result.truncated


def test_long_profile_is_truncated_and_weighs_only_what_the_embedder_saw(bert):
    text = ("I love slow-burn Scandinavian crime thrillers 🎬 and the café. " * 400)[:20_000]
    assert len(text) == 20_000
    result = profile_attention(text, encoder=bert)
    assert result.truncated
    assert 0 < result.seen_chars < 200  # 32 tokens, [CLS] and [SEP] included
    assert_well_formed(text, result.tokens)
    assert len(result.tokens) <= bert.max_length - 2
    assert max(t.end for t in result.tokens) == result.seen_chars


# ---- generator attention: exact values --------------------------------------------------------


def test_evidence_shares_average_reason_rows_sum_unit_tokens_and_normalize():
    # Text "AAABBBCCC|rrsss": three prompt tokens of 3 chars, a separator, then two reason tokens.
    offsets = np.array([[0, 3], [3, 6], [6, 9], [9, 10], [10, 12], [12, 15], [0, 0]])
    valid = np.array([True, True, True, True, True, True, False])  # the last token is padding
    attn = np.zeros((7, 7))
    attn[4, :5] = [0.4, 0.2, 0.1, 0.1, 0.2]
    attn[5, :6] = [0.2, 0.2, 0.3, 0.1, 0.1, 0.1]
    units = [("a", 0, 3), ("bc", 3, 9)]
    shares = evidence_shares(attn, offsets, valid, reason_start=10, units=units)
    # Mean over the reason rows: [0.3, 0.2, 0.2, ...]; "a" gets 0.3, "bc" gets 0.4; normalized 3/7 and 4/7.
    assert shares == pytest.approx({"a": 3 / 7, "bc": 4 / 7}, abs=1e-6)


def test_evidence_shares_give_a_token_spanning_two_units_to_the_larger_overlap():
    offsets = np.array([[0, 4], [4, 8], [8, 9]])
    attn = np.array([[1.0, 0, 0], [0.5, 0.5, 0], [0.25, 0.75, 0.0]])
    # Token 1 covers chars 4-8: one char of unit "x" (0-5), three of unit "y" (5-9).
    shares = evidence_shares(attn, offsets, np.ones(3, bool), reason_start=8, units=[("x", 0, 5), ("y", 5, 9)])
    assert shares == pytest.approx({"x": 0.25, "y": 0.75})


def test_evidence_shares_without_reason_tokens_or_units_is_none():
    offsets = np.array([[0, 3], [3, 6]])
    attn = np.eye(2)
    assert evidence_shares(attn, offsets, np.ones(2, bool), reason_start=6, units=[("a", 0, 3)]) is None
    assert evidence_shares(attn, offsets, np.ones(2, bool), reason_start=3, units=[]) is None


# ---- the prompt's evidence units ------------------------------------------------------------


def test_prompt_units_point_at_the_titles_and_lines_of_the_prompt():
    req = request()
    prompt, units = prompt_with_units(req)
    assert prompt == build_prompt(req)
    text = {u.label: prompt[u.start : u.end] for u in units}
    assert list(text) == [
        "item: Toy Story (1995)", "history: Aladdin (1992)", "history: Lion King, The (1994)",
        "shared categories", "intent", "main reason",
    ]  # fmt: skip
    assert text["item: Toy Story (1995)"] == TOY.title
    assert text["history: Aladdin (1992)"] == ALADDIN.title
    assert text["history: Lion King, The (1994)"] == LION.title
    lines = prompt.splitlines()
    assert text["shared categories"] == lines[2] and lines[2].startswith("Shared categories: ")
    assert text["intent"] == lines[3] and "family" in lines[3]
    assert text["main reason"] == lines[4] and lines[4].startswith("Main reason")


def test_prompt_units_without_history_have_no_history_or_shared_lines():
    req = request(history=(), evidence={}, contributions={"popularity": 1.0}, labels=())
    _, units = prompt_with_units(req)
    assert [u.label for u in units] == ["item: Toy Story (1995)", "main reason"]


# ---- generator attention: a tiny random GPT-2 ------------------------------------------------


def reasoner_with(gen: Generator, **config) -> LocalLLMReasoner:
    reasoner = LocalLLMReasoner(config)
    reasoner.generator = gen
    return reasoner


def test_generator_attention_has_one_share_per_unit_summing_to_one(gpt2):
    reasoner = reasoner_with(gpt2)
    reqs = three_requests()
    reasons = [
        ReasonOut(
            text=reasoner.prefix(reqs[0]) + " and Lion King (1994), you may enjoy Toy Story.", generator="local-llm"
        ),
        TemplateReasoner()([reqs[1]]).reasons[0],  # a template fallback: the model wrote nothing to weigh
        ReasonOut(text="A light tent to go with your sleeping bag on alpine trips.", generator="local-llm"),
    ]
    before = gpt2.model.config._attn_implementation
    out = reasoner.generator_attention(reqs, reasons)
    assert gpt2.model.config._attn_implementation == before  # generation keeps its own kernel
    assert out[1] is None
    for req, shares in ((reqs[0], out[0]), (reqs[2], out[2])):
        assert shares is not None
        assert list(shares) == [u.label for u in prompt_with_units(req)[1]]
        assert sum(shares.values()) == pytest.approx(1.0, abs=1e-4)
        assert all(v >= 0 for v in shares.values())
    # Batched rows (left-padded) give the same shares as each row alone.
    alone = reasoner_with(gpt2).generator_attention([reqs[2]], [reasons[2]])
    assert alone[0] == pytest.approx(out[2], abs=1e-4)


def test_generator_attention_is_off_when_configured_or_when_only_the_prefill_is_there(gpt2):
    reqs = three_requests()[:1]
    reasoner = reasoner_with(gpt2)
    prefix_only = [ReasonOut(text=reasoner.prefix(reqs[0]), generator="local-llm")]
    assert reasoner.generator_attention(reqs, prefix_only) == [None]
    reason = [ReasonOut(text="Because you liked Aladdin (1992), try this.", generator="local-llm")]
    assert reasoner_with(gpt2, attention=False).generator_attention(reqs, reason) == [None]


def test_generator_attention_splits_rows_into_chunks_under_the_memory_budget(gpt2, monkeypatch):
    reqs = three_requests()
    reasons = [ReasonOut(text="You may enjoy this pick for your trips.", generator="local-llm") for _ in reqs]
    whole = reasoner_with(gpt2).generator_attention(reqs, reasons)
    monkeypatch.setattr(generator_attention, "ATTENTION_BUDGET_BYTES", 1)  # one row per forward pass
    chunked = reasoner_with(gpt2).generator_attention(reqs, reasons)
    for a, b in zip(whole, chunked, strict=True):
        assert a is not None and b == pytest.approx(a, abs=1e-4)


# ---- in the pipeline and its JSON -------------------------------------------------------------


HASH_SENTENCE_MODEL = "hash-sentence-test"
"""Its own embedder name: item embeddings are memoized per process by embedder name, and a fake under the real
embedder's name would hand its vectors to later tests that load the real one."""


class _HashSentenceModel:
    """Stands in for a SentenceTransformer inside a real ``Embedder``."""

    def __init__(self) -> None:
        self.inner = HashEmbedder()

    def encode(self, texts, **kwargs) -> np.ndarray:
        return self.inner.encode(texts)

    def get_embedding_dimension(self) -> int:
        return self.inner.dim


def test_pipeline_records_both_views_times_them_and_serializes_them(tiny_catalog_file, cache, monkeypatch, bert, gpt2):
    monkeypatch.setattr(attention, "load_embedder_encoder", lambda device: bert)
    monkeypatch.setattr(
        "genre.components.reasoners.local.load_generator", lambda device, path=None, precision="auto": gpt2
    )
    # Random weights write noise; the reasons themselves are not under test here.
    monkeypatch.setattr(
        LocalLLMReasoner,
        "_generate",
        lambda self, texts, prefixes, seed: [", a fine pick for your trips."] * len(texts),
    )
    cfg = parse_config(tiny_config_dict(tiny_catalog_file, explain={"component": "local-llm"}))
    pipe = Pipeline(
        cfg,
        embedder_factory=lambda device: Embedder(model=_HashSentenceModel(), device="cpu", name=HASH_SENTENCE_MODEL),
    )
    ctx = UserContext(history=[HistoryEvent(item_id="a")], profile="I love slow-burn crime thrillers and cafe")
    trace = pipe.run(ctx, k=2, generator_attention=True)  # asked for: off by default (tests/pipeline)

    assert trace.profile_attention is not None and not trace.profile_attention.truncated
    assert_well_formed(ctx.profile, trace.profile_attention.tokens)
    steps = {(t.stage, t.component) for t in trace.timings}
    assert {("explain", "generator-attention"), ("explain", "profile-attention")} <= steps
    for item in trace.items:
        assert item.reason is not None and item.reason.generator == "local-llm"
        assert item.generator_attention is not None
        assert sum(item.generator_attention.values()) == pytest.approx(1.0, abs=1e-4)
        assert any(label.startswith("item: ") for label in item.generator_attention)

    data = json.loads(trace.to_json())
    assert [w["token"] for w in data["profile_attention"]["tokens"]][:3] == ["I", "love", "slow"]
    assert data["profile_attention"]["truncated"] is False
    assert data["items"][0]["generator_attention"] == trace.items[0].generator_attention

    # Both views off: the options are honoured and nothing is timed.
    off = tiny_config_dict(
        tiny_catalog_file,
        explain={"component": "local-llm", "config": {"attention": False}},
        attribution={"profile_attention": False},
    )
    pipe_off = Pipeline(
        parse_config(off),
        embedder_factory=lambda device: Embedder(model=_HashSentenceModel(), device="cpu", name=HASH_SENTENCE_MODEL),
    )
    trace_off = pipe_off.run(ctx, k=2, generator_attention=True)
    assert trace_off.profile_attention is None
    assert all(item.generator_attention is None for item in trace_off.items)
    assert not {("explain", "generator-attention"), ("explain", "profile-attention")} & {
        (t.stage, t.component) for t in trace_off.timings
    }


def test_template_pipeline_with_a_stand_in_embedder_has_neither_view(tiny_pipeline):
    trace = tiny_pipeline.run(UserContext(history=[HistoryEvent(item_id="a")], profile="camping"), k=2)
    assert trace.profile_attention is None  # the hash embedder has no attention to show
    assert all(item.generator_attention is None for item in trace.items)
    data = json.loads(trace.to_json())
    assert data["profile_attention"] is None and data["items"][0]["generator_attention"] is None
