"""Styles by prompting: the prompt's task line and facts per style, the prefill, the cleaning of a model's text
into the style's shape, and local-llm / openai-compatible writing each style (no real model)."""

from __future__ import annotations

import pytest

from genre.components.reasoners.local import LocalLLMReasoner
from genre.components.reasoners.prompts import build_prompt, style_prefix, system_prompt
from genre.components.reasoners.styles import STYLES
from genre.text.styled import clean_styled, style_complete
from genre.text.verifier import points
from tests.explain.test_generators import FARGO, PULP, STAR_WARS, Stub, openai, request, seen, three_requests


def casino_like():
    # Fargo recommended after Pulp Fiction (shares Crime, Drama; Fargo adds Thriller) and Star Wars.
    return request(FARGO, (PULP, STAR_WARS), {"content": [seen(PULP, 0.9)]}, {"content": 0.7}, ())


def test_one_line_prompt_is_unchanged():
    req = casino_like()
    text = build_prompt(req)
    assert text == build_prompt(req, 3, "one-line", 35)
    assert "Write ONE sentence of 12-35 words" in text and "Closest item" not in text
    assert system_prompt("one-line").endswith("never invent titles.") and "one short" in system_prompt("one-line")


@pytest.mark.parametrize(
    ("style", "asks"),
    [
        ("short", "Write 2 or 3 short sentences (at most 70 words in all)"),
        ("bullets", 'Write 2 to 4 bullet points on why the user may like "Fargo (1996)", each on its own line'),
        ("compare", 'comparing "Fargo (1996)" with "Pulp Fiction (1994)"'),
    ],
)
def test_styled_prompts_ask_for_the_shape_and_give_the_contrast(style, asks):
    text = build_prompt(casino_like(), 3, style, 70)
    assert asks in text
    assert 'Closest item the user liked: "Pulp Fiction (1994)"' in text
    assert "Both have: Crime, Drama" in text and "Only the recommended item has: Thriller" in text
    assert "one short" not in system_prompt(style)


def test_prefill_follows_the_style():
    req = casino_like()
    assert style_prefix(req, "one-line") == "Because you liked Pulp Fiction (1994)"
    assert style_prefix(req, "bullets") == "- You liked Pulp Fiction (1994)"
    assert style_prefix(req, "compare") == "Compared with Pulp Fiction (1994),"


def test_clean_styled_shapes_a_models_text():
    raw = "Sure! Here are the reasons:\n- You liked Pulp Fiction.\n* It is a Thriller too\n- It is popular.\n"
    assert clean_styled(raw, "bullets", 80) == "- You liked Pulp Fiction.\n- It is a Thriller too.\n- It is popular."
    # Points written as plain sentences become one point each; more than four are cut to four.
    prose = "One reason here. Two reasons here. Three reasons here. Four reasons here. Five reasons here."
    assert clean_styled(prose, "bullets", 80).count("\n- ") == 3
    # short keeps three finished sentences, drops the unfinished tail and respects the bound.
    short = "It is like Pulp Fiction. It adds Thriller. It is popular. It is also very"
    assert clean_styled(short, "short", 70) == "It is like Pulp Fiction. It adds Thriller. It is popular."
    assert clean_styled(short, "short", 8) == "It is like Pulp Fiction. It adds Thriller."
    assert clean_styled("   ", "compare", 60) == ""
    assert clean_styled(short, "one-line", 45) == "It is like Pulp Fiction. It adds Thriller."  # clean_reason's rule


def test_generation_stops_when_the_style_has_enough():
    assert style_complete("one-line")("Because you liked Heat, this tense crime drama with a great cast fits you.")
    assert not style_complete("short")("One. Two.")
    assert style_complete("short")("One is here. Two is here. Three is here. ")
    assert style_complete("bullets")("- a.\n- b.\n- c.\n- d.\n- e")


@pytest.mark.parametrize("style", STYLES)
def test_local_llm_writes_every_style_by_prompting(style, monkeypatch):
    reasoner = LocalLLMReasoner({"style": style, "attention": False})
    prompts: list[str] = []
    replies = {
        "one-line": ", you may enjoy this tense crime drama.",
        "short": ". Both are Crime and Drama. Unlike it, Fargo is a Thriller.",
        "bullets": " and this shares Crime with it.\n- It is a Thriller.\n- It is a Drama.",
        "compare": " it is also Crime and Drama. What sets it apart: it is a Thriller. And more",
    }

    def fake_generate(texts, prefixes, seed):
        prompts.extend(texts)
        return [replies[style]] * len(texts)

    monkeypatch.setattr(reasoner, "_input_text", lambda req, prefix: build_prompt(req, 3, style, 60) + prefix)
    monkeypatch.setattr(reasoner, "_generate", fake_generate)
    out = reasoner([casino_like()]).reasons[0]
    assert out.generator == "local-llm"
    if style == "bullets":
        lines = points(out.text)
        assert lines is not None and len(lines) == 3 and out.text.startswith("- You liked Pulp Fiction (1994)")
    elif style == "one-line":
        assert out.text == "Because you liked Pulp Fiction (1994), you may enjoy this tense crime drama."
    elif style == "short":
        assert (
            out.text
            == "Because you liked Pulp Fiction (1994). Both are Crime and Drama. Unlike it, Fargo is a Thriller."
        )
    else:  # the unfinished tail is dropped
        assert (
            out.text
            == "Compared with Pulp Fiction (1994), it is also Crime and Drama. What sets it apart: it is a Thriller."
        )
    # Enough tokens for the style: a multi-sentence style gets more than the one-line default.
    tokens = reasoner._decoding()["max_new_tokens"]
    assert tokens == 48 if style == "one-line" else tokens > 48


def test_local_llm_falls_back_to_the_template_in_the_same_style(monkeypatch):
    reasoner = LocalLLMReasoner({"style": "bullets", "attention": False})
    monkeypatch.setattr(reasoner, "_input_text", lambda req, prefix: prefix)
    monkeypatch.setattr(reasoner, "_generate", lambda texts, prefixes, seed: ["  "] * len(texts))
    out = reasoner([casino_like()]).reasons[0]
    assert out.generator == "template" and points(out.text) is not None


def test_openai_compatible_prompts_for_the_style():
    with Stub() as stub:
        reasoner = openai(stub.base_url, style="compare", max_words=40)
        outs = reasoner(three_requests()[:1]).reasons
    body = stub.bodies[0]
    assert "comparing" in body["messages"][-1]["content"] and "at most 40 words" in body["messages"][-1]["content"]
    assert body["max_tokens"] == 64  # 40 words * 1.6 = 64: the configured floor already covers it
    assert body["messages"][0]["content"] == system_prompt("compare")
    assert outs[0].text
