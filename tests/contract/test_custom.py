"""Custom components named by 'module:Class': a class that is not of its stage fails when the config loads.

The classes below are named by their import path (``tests.contract.test_custom:<Class>``), the
way a user's config names a component of their own.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from pydantic import Field

from genre.components.fusion import WeightedConfig, WeightedFusion
from genre.config import load_config, parse_config
from genre.core.component import Component, ComponentConfig, Fusion, Scorer
from genre.core.errors import ConfigError
from genre.core.types import Fused, Intent, ScoreList, UserState
from tests.conftest import tiny_config_dict

HERE = "tests.contract.test_custom"


class FusionWithoutRescore(Fusion):
    """Blends, but cannot re-score items for attribution."""

    Config = WeightedConfig

    def __call__(self, lists: list[ScoreList]) -> Fused:
        return WeightedFusion()(lists)


class DuckFusion(Component):
    """Has both fusion calls, but does not derive Fusion."""

    def __call__(self, lists: list[ScoreList]) -> Fused:
        return WeightedFusion()(lists)

    def rescore(self, values: dict, reference: dict) -> tuple[np.ndarray, dict]:
        return WeightedFusion().rescore(values, reference)


class PlainConfig(ComponentConfig):
    weights: dict[str, float] = Field(default_factory=dict)
    """Weights that the pipeline could not check against its scorers."""


class FusionWithPlainConfig(WeightedFusion):
    """A fusion whose Config cannot say which scorers it names."""

    Config = PlainConfig


class DuckReranker(Component):
    """Re-ranks, but does not derive Reranker."""

    def __call__(self, candidates: np.ndarray, fused: Fused, k: int) -> Fused:
        return fused


class ScorerWithoutCall(Scorer):
    """Derives Scorer but never scores."""


class ConstantScorer(Scorer):
    """A well-formed custom scorer: the same score for every candidate."""

    built: ClassVar[int] = 0

    def __init__(self, config: ComponentConfig | dict | None = None) -> None:
        super().__init__(config)
        ConstantScorer.built += 1

    def __call__(self, state: UserState, intent: Intent, candidates: np.ndarray) -> ScoreList:
        return ScoreList("constant", np.ones(candidates.shape[0]))


def not_a_class() -> None:
    """A function where a class is expected."""


def _with(catalog_file: Path, **stages: object) -> dict:
    return tiny_config_dict(catalog_file, **stages)


def test_a_fusion_without_rescore_fails_at_load_naming_it(tiny_catalog_file, tmp_path):
    data = _with(tiny_catalog_file, fusion={"component": f"{HERE}:FusionWithoutRescore"})
    with pytest.raises(ConfigError) as exc:
        parse_config(data)
    message = str(exc.value)
    assert f"fusion component '{HERE}:FusionWithoutRescore'" in message
    assert "does not implement rescore, which every Fusion must" in message
    # From a file too: the error carries the file's name.
    path = tmp_path / "custom.toml"
    path.write_text(
        'name = "x"\n[data]\nloader = "movielens-100k"\n[scorers.pop]\ncomponent = "popularity"\n'
        f'[fusion]\ncomponent = "{HERE}:FusionWithoutRescore"\n'
    )
    with pytest.raises(ConfigError, match=f"^{path}: .*does not implement rescore"):
        load_config(path)


@pytest.mark.parametrize(
    ("stage", "name", "base"),
    [
        ("fusion", "DuckFusion", "Fusion"),
        ("rerank", "DuckReranker", "Reranker"),
        ("context", "ConstantScorer", "ContextEncoder"),
        ("candidates", "ConstantScorer", "CandidateGenerator"),
        ("intent", "ConstantScorer", "IntentModel"),
        ("explain", "ConstantScorer", "Reasoner"),
        ("scorers", "not_a_class", "Scorer"),
    ],
)
def test_a_class_not_of_its_stage_fails_at_load_naming_the_base(tiny_catalog_file, stage, name, base):
    spec = {"component": f"{HERE}:{name}"}
    if stage == "scorers":
        data = _with(tiny_catalog_file)
        data["scorers"]["custom"] = spec
    else:
        data = _with(tiny_catalog_file, **{stage: [spec] if stage == "rerank" else spec})
    with pytest.raises(ConfigError) as exc:
        parse_config(data)
    message = str(exc.value)
    assert f"{stage} component '{HERE}:{name}' is not a {base} subclass" in message
    assert f"derives genre.core.component.{base}" in message


def test_a_scorer_without_call_fails_at_load(tiny_catalog_file):
    data = _with(tiny_catalog_file)
    data["scorers"]["custom"] = {"component": f"{HERE}:ScorerWithoutCall"}
    with pytest.raises(ConfigError, match="does not implement __call__, which every Scorer must"):
        parse_config(data)


def test_a_fusion_config_must_say_which_scorers_it_names(tiny_catalog_file):
    data = _with(tiny_catalog_file, fusion={"component": f"{HERE}:FusionWithPlainConfig"})
    with pytest.raises(ConfigError, match="has a Config that is not a FusionConfig subclass"):
        parse_config(data)


def test_custom_fusion_scorer_names_are_checked_from_its_config_alone(tiny_catalog_file, monkeypatch):
    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError("validation built the fusion")

    monkeypatch.setattr(WeightedFusion, "__init__", refuse)
    data = _with(tiny_catalog_file, fusion={"component": "weighted", "config": {"weights": {"sasrec": 1.0}}})
    with pytest.raises(ConfigError, match="refers to scorers not in this pipeline: sasrec; the pipeline's scorers"):
        parse_config(data)


def test_a_well_formed_custom_scorer_loads_without_being_built(tiny_catalog_file):
    ConstantScorer.built = 0
    data = _with(tiny_catalog_file)
    data["scorers"]["constant"] = {"component": f"{HERE}:ConstantScorer"}
    cfg = parse_config(data)
    assert cfg.scorers["constant"].component == f"{HERE}:ConstantScorer"
    assert ConstantScorer.built == 0
