"""Attention views on the real models: MiniLM over profile words, SmolLM2 over its prompt's evidence."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from genre import Pipeline, load_config
from genre.components.reasoners.prompts import prompt_with_units
from genre.components.reasoners.template import requests_from_trace
from genre.config import parse_config
from genre.data import load_profiles
from genre.data.profiles import profile_to_context
from genre.explain.attention import profile_attention
from tests.conftest import ROOT

pytestmark = pytest.mark.integration
PRODUCTS = ROOT / "configs" / "products.toml"

STOP_WORDS = {"i", "a", "an", "the", "and", "for", "that", "is", "to", "of", "with"}


@pytest.mark.parametrize(
    ("profile", "content"),
    [
        ("I love slow-burn Scandinavian crime thrillers", {"slow", "burn", "scandinavian", "crime", "thrillers"}),
        (
            "I want a light tent for alpine trips and a stove that is easy to clean.",
            {"light", "tent", "alpine", "trips", "stove", "clean"},
        ),
    ],
)
def test_embedder_attends_to_content_words_more_than_stop_words(profile, content):
    result = profile_attention(profile, "cpu")
    assert not result.truncated and result.seen_chars == len(profile)
    assert sum(t.weight for t in result.tokens) == pytest.approx(1.0, abs=1e-4)
    assert all(profile[t.start : t.end] == t.token for t in result.tokens)
    weight = {t.token.lower(): t.weight for t in result.tokens}
    assert content <= set(weight)
    stop = [w for word, w in weight.items() if word in STOP_WORDS]
    assert stop and np.mean([weight[w] for w in content]) > 1.5 * np.mean(stop)


def test_embedder_flags_a_long_profile_as_truncated():
    text = ("Quiet noise-cancelling headphones 🎧 for long flights, ثقيلة, שקטות. " * 400)[:20_000]
    result = profile_attention(text, "cpu")
    assert result.truncated and 0 < result.seen_chars < len(text)
    assert all(text[t.start : t.end] == t.token for t in result.tokens)
    assert max(t.end for t in result.tokens) == result.seen_chars
    assert sum(t.weight for t in result.tokens) == pytest.approx(1.0, abs=1e-4)


@pytest.fixture(scope="module")
def products_local_llm() -> Pipeline:
    data = load_config(PRODUCTS).model_dump(mode="json", exclude_none=True)
    data["explain"] = {"component": "local-llm"}
    return Pipeline(parse_config(data))


@pytest.mark.slow
def test_smollm2_attention_covers_every_evidence_unit_and_sums_to_one(products_local_llm):
    pipe = products_local_llm
    ctx = profile_to_context(load_profiles(pipe.config.data)["trail-runner"], pipe.catalog)
    trace = pipe.run(ctx, k=2, generator_attention=True)
    steps = {(t.stage, t.component) for t in trace.timings}
    assert {("explain", "generator-attention"), ("explain", "profile-attention")} <= steps
    assert trace.profile_attention is not None and trace.profile_attention.tokens

    requests = requests_from_trace(trace, pipe.catalog)
    generated = [
        (item, req) for item, req in zip(trace.items, requests, strict=True) if item.reason.generator == "local-llm"
    ]
    assert generated, "SmolLM2 wrote no reason at all"
    for item, req in generated:
        shares = item.generator_attention
        assert shares is not None
        units = [u.label for u in prompt_with_units(req, pipe.reasoner.config.max_evidence)[1]]
        assert list(shares) == units
        assert f"item: {item.title}" in shares and any(label.startswith("history: ") for label in shares)
        assert sum(shares.values()) == pytest.approx(1.0, abs=1e-4)
        assert all(v >= 0 for v in shares.values())


@pytest.mark.slow
def test_cli_json_carries_both_attention_views():
    proc = subprocess.run(
        [sys.executable, "-m", "genre", "recommend", "--config", str(PRODUCTS), "--user", "trail-runner",
         "--reasoner", "local-llm", "--k", "2", "--format", "json", "--generator-attention"],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    trace = json.loads(proc.stdout)
    profile = trace["user"]["profile"]
    view = trace["profile_attention"]
    assert view["truncated"] is False and view["tokens"]
    assert all(profile[t["start"] : t["end"]] == t["token"] for t in view["tokens"])
    for item in trace["items"]:
        assert "generator_attention" in item
        if item["reason"]["generator"] == "local-llm":
            assert sum(item["generator_attention"].values()) == pytest.approx(1.0, abs=1e-4)
