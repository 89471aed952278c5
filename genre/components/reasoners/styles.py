"""Reason styles: the shape a generator writes a reason in, and its length bound.

Every generator config that can write more than one shape mixes in :class:`StyleOptions`, which adds
``style`` and ``max_words`` (the length bound of the whole shown reason). A generator that can only
write some styles narrows ``SUPPORTED_STYLES`` on its config class; a config asking for another one
fails at load, naming the styles that generator supports.

This module imports nothing heavy: the CLI and the pages read :data:`STYLES` and
:data:`STYLE_HELP` to build their choices without loading a model.
"""

from __future__ import annotations

from typing import ClassVar, Literal, get_args

from pydantic import Field, model_validator

from genre.core.component import ComponentConfig
from genre.core.errors import ConfigError

__all__ = [
    "DEFAULT_STYLE",
    "STYLES",
    "STYLE_HELP",
    "STYLE_WORDS",
    "Style",
    "StyleOptions",
    "check_style",
    "parse_style",
]

Style = Literal["one-line", "short", "bullets", "compare"]
"""The shapes a reason can take."""

STYLES: tuple[Style, ...] = get_args(Style)
"""Every style, in the order the CLI and the pages list them."""

DEFAULT_STYLE: Style = "one-line"
"""The style of a config that names none: today's one sentence."""

STYLE_HELP: dict[Style, str] = {
    "one-line": "One sentence: the history behind the pick and what the item shares with it.",
    "short": "Two or three sentences: the evidence, then what is new about the item.",
    "bullets": 'Two to four "why" points, one line each ("- ..."), each tied to one piece of evidence.',
    "compare": "How the item differs from the closest item in your history: what they share, what it adds.",
}
"""One line per style, for the CLI's --help and the pages' help text."""

STYLE_WORDS: dict[Style, tuple[int, int]] = {
    "one-line": (5, 45),
    "short": (12, 70),
    "bullets": (8, 80),
    "compare": (8, 60),
}
"""Default (fewest, most) words of a whole reason per style; ``max_words`` overrides the upper bound."""

ONE_LINE_PROMPT_WORDS = 35
"""The one-line prompt asks for 12-35 words; the bound of 45 leaves room for long titles."""
MIN_MAX_WORDS = 8
"""The smallest length bound a config may set: fewer words cannot name a title and a reason."""
MAX_MAX_WORDS = 200
"""The largest length bound a config may set: a reason is read at a glance beside its item."""


def check_style(generator: str, style: str, supported: tuple[str, ...] = STYLES) -> Style:
    """``style`` if ``generator`` can write it; otherwise a :class:`ConfigError` naming the styles it can write.

    Used where a combination is found out after load (an adapter trained without the style) and by
    :func:`parse_style` for any string from a user.
    """
    if style not in STYLES:
        raise ConfigError(f"unknown reason style {style!r}; valid styles: {', '.join(STYLES)}")
    if style not in supported:
        raise ConfigError(
            f"generator {generator!r} cannot write the {style!r} style; it supports: {', '.join(supported)}"
        )
    return style


def parse_style(value: str) -> Style:
    """A style name from user input (CLI, page, TOML), or a :class:`ConfigError` listing the valid ones."""
    return check_style("any", value.strip().lower())


class StyleOptions(ComponentConfig):
    """Config mixin: the style a generator writes in and the length bound of the shown reason."""

    SUPPORTED_STYLES: ClassVar[tuple[Style, ...]] = STYLES
    """Styles this generator can write; a subclass narrows it when it cannot write some."""
    GENERATOR: ClassVar[str] = "this generator"
    """The generator's registered name, for error messages."""

    style: Style = DEFAULT_STYLE
    """Shape of the reason: "one-line" (one sentence), "short" (2-3 sentences: the evidence and what is new
    about the item), "bullets" (2-4 "- " points, each tied to one piece of evidence), "compare" (how the item
    differs from the closest history item)."""
    max_words: int | None = Field(default=None, ge=MIN_MAX_WORDS, le=MAX_MAX_WORDS)
    """Length bound of the whole shown reason, in words. Unset: the style's default (one-line 45, short 70,
    bullets 80, compare 60; news headlines and product names are long). A template drops its least important
    sentence or point first to fit."""

    @model_validator(mode="after")
    def _style_supported(self) -> StyleOptions:
        if self.style not in self.SUPPORTED_STYLES:
            raise ValueError(
                f"{self.GENERATOR} cannot write the {self.style!r} style; it supports: "
                f"{', '.join(self.SUPPORTED_STYLES)}"
            )
        return self

    @property
    def word_bound(self) -> int:
        """The length bound in force: ``max_words``, or the style's default."""
        return self.max_words if self.max_words is not None else STYLE_WORDS[self.style][1]

    @property
    def prompt_words(self) -> int:
        """Words a prompt asks a model for: ``max_words``, else 35 for one-line (the prompt of old), else the
        style's bound."""
        if self.max_words is not None:
            return self.max_words
        return ONE_LINE_PROMPT_WORDS if self.style == "one-line" else STYLE_WORDS[self.style][1]

    @property
    def min_words_bound(self) -> int:
        """Fewest words a reason of this style should have (never above the length bound)."""
        return min(STYLE_WORDS[self.style][0], self.word_bound)
