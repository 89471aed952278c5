"""Widgets for a component's parameters, generated from its pydantic Config (so new options appear by themselves)."""

from __future__ import annotations

import json
import types
import typing
from typing import Any

import streamlit as st
from pydantic import ValidationError
from pydantic.fields import FieldInfo

from genre.config import PipelineConfig
from genre.registry import resolve

_SKIP = {"weights"}  # fusion weights get their own sliders


_BOUNDS = (
    ("ge", lambda v, b: v >= b, "at least"),
    ("gt", lambda v, b: v > b, "greater than"),
    ("le", lambda v, b: v <= b, "at most"),
    ("lt", lambda v, b: v < b, "less than"),
)


def _range_problem(value: float | None, info: FieldInfo) -> str | None:
    """What is wrong with a typed number, in the option's own bounds ("must be greater than 0"), or None."""
    if value is None:
        return None
    rules = []
    for meta in info.metadata:
        for attr, ok, words in _BOUNDS:
            bound = getattr(meta, attr, None)
            if bound is not None:
                rules.append((ok(value, bound), f"{words} {bound:g}"))
    if all(passed for passed, _ in rules):
        return None
    return "must be " + " and ".join(words for _, words in rules)


def _base_type(annotation: Any) -> tuple[Any, bool]:
    """The annotation without ``| None``, and whether None is allowed."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else annotation), True
    return annotation, False


def _validation_problems(
    stage: str, component: str, cls: type[Any], out: dict[str, Any], current: dict[str, Any]
) -> list[str]:
    """Check the options against the component's own Config (URL schemes, lengths, cross-field rules).

    A field that fails is put back to its previous value in ``out``, like an out-of-range number, so
    nothing half-valid travels on; each problem names the option, the rule and what was typed.
    """
    try:
        cls.Config.model_validate(out)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = f"{stage} {component}"
            message = str(error["msg"]).removeprefix("Value error, ")
            if not error["loc"]:
                problems.append(f"{where}: {message}")
                continue
            name = str(error["loc"][0])
            if error["type"] == "missing":
                problems.append(f"{where}: option {name!r} is required")
                continue
            typed = repr(error["input"])
            # A validator that quotes the value already says what was typed.
            problems.append(
                f"{where}: option {name!r}: {message}" + ("" if typed in message else f"; you entered {typed}")
            )
            if name in current:
                out[name] = current[name]
            else:
                out.pop(name, None)
        return problems
    return []


def edit_params(stage: str, component: str, current: dict[str, Any], key: str) -> tuple[dict[str, Any], list[str]]:
    """Widgets for every option of ``component``; returns (options that differ from defaults, problems).

    Literal options get a selectbox, booleans a checkbox, numbers a number input checked against the
    field's bounds, strings a text input checked by the Config's own validators, anything else JSON.
    Every value with a problem is named and replaced by the one it had before.
    """
    cls = resolve(stage, component)
    fields: dict[str, FieldInfo] = cls.Config.model_fields
    out: dict[str, Any] = {}
    problems: list[str] = []
    for name, info in fields.items():
        if name in _SKIP:
            if name in current:
                out[name] = current[name]
            continue
        required = info.is_required()
        # A required option has no default to fall back to (pydantic's "undefined" is no value to show).
        default = None if required else info.get_default(call_default_factory=True)
        value = current.get(name, default)
        help_text = info.description
        wkey = f"{key}_{name}"
        annotation, optional = _base_type(info.annotation)
        label = name.replace("_", " ")
        if annotation is bool:
            new: Any = st.checkbox(label, value=bool(value), key=wkey, help=help_text)
        elif typing.get_origin(annotation) is typing.Literal:
            choices = list(typing.get_args(annotation))
            new = st.selectbox(
                label, choices, index=choices.index(value) if value in choices else 0, key=wkey, help=help_text
            )
        elif annotation in (int, float) and not required:
            cast = int if annotation is int else float
            # No min/max on the widget: a bounded number input keeps its old value while showing
            # the typed one. The typed value is taken, and an out-of-range one is named here.
            new = st.number_input(
                label,
                value=cast(value) if value is not None else None,
                step=1 if annotation is int else None,
                key=wkey,
                help=help_text,
                placeholder="unset" if optional else None,
            )
            problem = _range_problem(new, info)
            if problem is not None:
                problems.append(f"{stage} {component}: option {name!r} {problem}; you entered {new:g}")
                new = value
        elif annotation is str:
            text = st.text_input(
                label,
                value="" if value is None else str(value),
                key=wkey,
                help=help_text,
                placeholder="required" if required else ("unset" if optional else None),
            )
            if text.strip():
                new = text
            elif required:
                continue  # reported as missing by the Config check below
            else:
                # An emptied optional option is unset; an emptied one with a default takes it back.
                new = None if optional else default
        else:
            text = st.text_input(label, value=json.dumps(value), key=wkey, help=(help_text or "") + " (JSON)")
            try:
                new = json.loads(text) if text.strip() else None
            except json.JSONDecodeError as exc:
                problems.append(f"{stage} {component}: option {name!r} is not valid JSON ({exc.msg})")
                new = value
        if new is None and default is None:
            continue  # unset stays out of the config (TOML has no null)
        if new != default or name in current:
            out[name] = new
    if not problems:
        problems = _validation_problems(stage, component, cls, out, current)
    return out, problems


def kept_generator_options(
    config_name: str, base: PipelineConfig, generator: str, page: str
) -> tuple[dict[str, Any], list[str]]:
    """Widgets for ``generator``'s options on ``page`` (a key prefix), whose values outlive a generator switch.

    Streamlit drops the widgets of a generator that is not shown, so each generator's options are kept
    in the session state per config and page, and its widgets start from them when it is picked again.
    The config's own generator starts from the config's options, any other from its defaults. Returns
    (options for ``with_generator``, problems); a bad value is named and the one before it is kept.
    """
    kept: dict[str, dict[str, Any]] = st.session_state.setdefault(f"{page}_explain_options", {})
    slot = f"{config_name}/{generator}"
    if slot not in kept:
        kept[slot] = dict(base.explain.config) if generator == base.explain.component else {}
    options, problems = edit_params("explain", generator, kept[slot], f"{page}_explain_{config_name}_{generator}")
    kept[slot] = options
    return options, problems
