"""The option widgets a component gets from its Config: one per field, of the kind its type calls for."""

from __future__ import annotations

import types
import typing

import pytest
from streamlit.testing.v1 import AppTest

from genre.registry import BUILTINS, resolve
from pages.common.params import _base_type

pytestmark = pytest.mark.integration


def _render(component: str) -> None:
    from pages.common.params import edit_params

    edit_params("explain", component, {}, "w")


def _expected_kind(annotation: typing.Any) -> str:
    base, _ = _base_type(annotation)
    if base is bool:
        return "checkbox"
    if typing.get_origin(base) is typing.Literal:
        return "selectbox"
    if base in (int, float):
        return "number_input"
    assert base is str or typing.get_origin(base) in (list, dict, types.UnionType, typing.Union), base
    return "text_input"


@pytest.mark.parametrize("component", sorted(BUILTINS["explain"]))
def test_every_generator_option_gets_the_widget_its_type_calls_for(component):
    """Styles (a Literal), length bounds (bounded ints), adapters and endpoints (strings) all follow from here."""
    at = AppTest.from_function(_render, args=(component,), default_timeout=60)
    at.run()
    assert not at.exception
    fields = resolve("explain", component).Config.model_fields
    for name, info in fields.items():
        kind = _expected_kind(info.annotation)
        widget = at.get(kind)
        keys = {w.key for w in widget}
        assert f"w_{name}" in keys, (component, name, kind)
    if any(typing.get_origin(_base_type(i.annotation)[0]) is typing.Literal for i in fields.values()):
        box = next(b for b in at.selectbox if b.key.startswith("w_"))
        literal = _base_type(fields[box.key[2:]].annotation)[0]
        assert box.options == [str(c) for c in typing.get_args(literal)]


def _render_scorer(component: str) -> None:
    from pages.common.params import edit_params

    edit_params("scorers", component, {}, "w")


@pytest.mark.parametrize("component", ["pda", "bpr"])
def test_debiasing_and_imbalance_knobs_get_widgets(component):
    """PDA's gamma and mode and the trainable scorers' sampling and batching options show up in Tune by themselves."""
    at = AppTest.from_function(_render_scorer, args=(component,), default_timeout=60)
    at.run()
    assert not at.exception
    boxes = {b.key: b.options for b in at.selectbox}
    assert boxes["w_negative_sampling"] == ["uniform", "popularity", "popularity-stratified"]
    assert boxes["w_batching"] == ["interactions", "user-balanced"]
    if component == "pda":
        assert boxes["w_mode"] == ["pd", "pda"]
        assert {"w_gamma", "w_gamma_adjust", "w_trend"} <= {n.key for n in at.number_input}
