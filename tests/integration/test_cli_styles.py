"""``recommend --style`` / ``--max-words``: sets the explain component's style, keeps its other options, and
fails cleanly on a style that does not exist or that the generator cannot write."""

from __future__ import annotations

import argparse
import json

import pytest

from genre.cli.recommend import with_style_args
from genre.config import load_config, with_generator
from genre.core.errors import ConfigError
from genre.text.verifier import points
from tests.integration.test_cli import PRODUCTS, assert_clean_error, genre

pytestmark = pytest.mark.integration


def args(style: str | None = None, max_words: int | None = None) -> argparse.Namespace:
    return argparse.Namespace(config=PRODUCTS, style=style, max_words=max_words)


def test_style_keeps_the_generators_other_options():
    config = with_generator(load_config(PRODUCTS), "local-llm", options={"max_evidence": 2, "attention": False})
    styled = with_style_args(config, args("Bullets", 50))
    assert styled.explain.component == "local-llm"
    assert styled.explain.config == {"max_evidence": 2, "attention": False, "style": "bullets", "max_words": 50}
    assert with_style_args(config, args()) is config


def test_a_style_the_generator_cannot_write_names_what_it_can():
    # Every built-in writes every style now; a custom reasoner whose config has no style option writes one-line.
    custom = "tests.test_pipeline:InventingReasoner"
    config = with_generator(load_config(PRODUCTS), custom)
    with pytest.raises(ConfigError, match=f"'{custom}' cannot write the 'compare' style; it supports: one-line"):
        with_style_args(config, args("compare"))
    # one-line is what it writes already: nothing to set.
    assert with_style_args(config, args("one-line")).explain.config == config.explain.config


def test_recommend_with_bullets_writes_verified_points():
    proc = genre("recommend", "--config", PRODUCTS, "--user", "trail-runner", "--k", "2", "--style", "bullets",
                 "--format", "json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    trace = json.loads(proc.stdout)
    for item in trace["items"]:
        reason = item["reason"]
        assert points(reason["text"]) is not None and reason["verdict"]["passed"], reason


def test_recommend_rejects_an_unknown_style_and_a_bad_bound():
    assert_clean_error(genre("recommend", "--config", PRODUCTS, "--style", "essay"), "essay",
                       "valid styles: one-line, short, bullets, compare")  # fmt: skip
    assert_clean_error(genre("recommend", "--config", PRODUCTS, "--style", "short", "--max-words", "3"), "max_words")
