"""The built-in components of each stage, and resolution of custom ones by import path."""

from __future__ import annotations

import importlib

from genre.candidates import CandidateFilter
from genre.components import Component, Scorer
from genre.context import RecencyContextEncoder
from genre.errors import ConfigError
from genre.explain.generators import HFLocalReasoner, LocalLLMReasoner, OpenAICompatibleReasoner
from genre.explain.template import TemplateReasoner
from genre.explain.tuning import TunedLocalReasoner
from genre.fusion import LearnedFusion, WeightedFusion
from genre.intent import LLMSummaryIntent, NoIntent, TrainedIntentHead, ZeroShotIntent
from genre.rerank import MMRDiversity, PopularityBiasCorrection, Reranker
from genre.scorers import (
    BprScorer,
    ContentScorer,
    EaseScorer,
    IntentMatchScorer,
    ItemKNNScorer,
    PopularityScorer,
    PreferenceScorer,
    PriceFitScorer,
    SasRecScorer,
)

STAGES: tuple[str, ...] = ("context", "intent", "candidates", "scorers", "fusion", "rerank", "explain")

BUILTINS: dict[str, dict[str, type[Component]]] = {
    "context": {"recency": RecencyContextEncoder},
    "intent": {
        "zero-shot": ZeroShotIntent,
        "llm-summary": LLMSummaryIntent,
        "trained-head": TrainedIntentHead,
        "none": NoIntent,
    },
    "candidates": {"filter": CandidateFilter},
    "scorers": {
        "popularity": PopularityScorer,
        "content": ContentScorer,
        "itemknn": ItemKNNScorer,
        "ease": EaseScorer,
        "bpr": BprScorer,
        "intent-match": IntentMatchScorer,
        "price-fit": PriceFitScorer,
        "preference": PreferenceScorer,
        "sasrec": SasRecScorer,
    },
    "fusion": {"weighted": WeightedFusion, "learned": LearnedFusion},
    "rerank": {"mmr": MMRDiversity, "popularity-bias": PopularityBiasCorrection},
    "explain": {
        "template": TemplateReasoner,
        "local-llm": LocalLLMReasoner,
        "hf-local": HFLocalReasoner,
        "openai-compatible": OpenAICompatibleReasoner,
        "tuned-local": TunedLocalReasoner,
    },
}

# Custom components must derive from these, so a typo'd import path fails at load, not mid-run.
_STAGE_BASE: dict[str, type[Component]] = {"scorers": Scorer, "rerank": Reranker}


def resolve(stage: str, name: str) -> type[Component]:
    """The component class a config names: a built-in name or ``package.module:Class``."""
    if stage not in BUILTINS:
        raise ConfigError(f"unknown stage {stage!r}; stages are {', '.join(STAGES)}")
    builtins = BUILTINS[stage]
    if name in builtins:
        return builtins[name]
    if ":" not in name:
        raise ConfigError(
            f"unknown {stage} component {name!r}; built-ins are {', '.join(sorted(builtins))} "
            "(or give a custom class as 'package.module:ClassName')"
        )
    module_name, _, class_name = name.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot import {stage} component {name!r}: {exc}") from exc
    base = _STAGE_BASE.get(stage, Component)
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ConfigError(f"{name!r} is not a {base.__name__} subclass, so it cannot be a {stage} component")
    return cls


def describe() -> dict[str, list[dict[str, object]]]:
    """Every built-in per stage with its options (type, default, doc): what `genre components` prints."""
    out: dict[str, list[dict[str, object]]] = {}
    for stage in STAGES:
        rows = []
        for name, cls in BUILTINS[stage].items():
            options = []
            for field_name, info in cls.Config.model_fields.items():
                default = None if info.is_required() else info.get_default(call_default_factory=True)
                options.append(
                    {
                        "name": field_name,
                        "type": _type_name(info.annotation),
                        "default": default,
                        "required": info.is_required(),
                        "doc": info.description or "",
                    }
                )
            rows.append(
                {
                    "name": name,
                    "class": f"{cls.__module__}:{cls.__name__}",
                    "summary": cls.summary(),
                    "options": options,
                }
            )
        out[stage] = rows
    return out


def _type_name(annotation: object) -> str:
    text = getattr(annotation, "__name__", None) if isinstance(annotation, type) else None
    return text or str(annotation).replace("typing.", "")
