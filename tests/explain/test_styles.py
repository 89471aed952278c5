"""The styles API: every style named, a per-style length bound, unsupported styles failing at load."""

from __future__ import annotations

from typing import ClassVar

import pytest
from pydantic import ValidationError

from genre.components.reasoners.http import OpenAICompatibleConfig
from genre.components.reasoners.local import HFLocalConfig, LocalLLMConfig
from genre.components.reasoners.styles import (
    STYLE_HELP,
    STYLE_WORDS,
    STYLES,
    Style,
    StyleOptions,
    check_style,
    parse_style,
)
from genre.components.reasoners.template import TemplateConfig
from genre.core.errors import ConfigError


def test_every_style_has_help_and_bounds() -> None:
    assert STYLES == ("one-line", "short", "bullets", "compare")
    for style in STYLES:
        low, high = STYLE_WORDS[style]
        assert 0 < low < high
        assert STYLE_HELP[style]


@pytest.mark.parametrize("cls", [TemplateConfig, LocalLLMConfig, OpenAICompatibleConfig, HFLocalConfig])
def test_generator_configs_take_a_style_and_bound(cls: type[StyleOptions]) -> None:
    extra = {"model": "m"} if cls is OpenAICompatibleConfig else {"model_path": "x"} if cls is HFLocalConfig else {}
    assert cls(**extra).style == "one-line"
    config = cls(style="bullets", **extra)
    assert config.word_bound == STYLE_WORDS["bullets"][1]
    assert cls(style="short", max_words=20, **extra).word_bound == 20
    with pytest.raises(ValidationError, match="one-line"):
        cls(style="essay", **extra)
    with pytest.raises(ValidationError, match="max_words"):
        cls(max_words=2, **extra)


def test_narrowed_generator_fails_at_load_naming_what_it_supports() -> None:
    class OneLineOnly(StyleOptions):
        SUPPORTED_STYLES: ClassVar[tuple[Style, ...]] = ("one-line",)
        GENERATOR: ClassVar[str] = "narrow"

    with pytest.raises(ValidationError, match="narrow cannot write the 'bullets' style; it supports: one-line"):
        OneLineOnly(style="bullets")


def test_check_style_names_the_valid_choices() -> None:
    assert parse_style(" Short ") == "short"
    with pytest.raises(ConfigError, match="valid styles: one-line, short, bullets, compare"):
        parse_style("essay")
    with pytest.raises(ConfigError, match="'tuned-local' cannot write the 'compare' style; it supports: one-line"):
        check_style("tuned-local", "compare", ("one-line",))
