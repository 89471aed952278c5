"""Names of the built-in components of each stage, resolved to classes only when asked for.

The table holds ``module:Class`` strings, so importing the registry (and the config schema above
it) imports no component module and no torch; a name is imported when a config names it.
"""

from __future__ import annotations

import importlib
import inspect

from genre.core.component import STAGE_BASES, Component, ComponentConfig, FusionConfig
from genre.core.errors import ConfigError

STAGES: tuple[str, ...] = ("context", "intent", "candidates", "scorers", "fusion", "rerank", "explain")

BUILTINS: dict[str, dict[str, str]] = {
    "context": {"recency": "genre.components.context:RecencyContextEncoder"},
    "intent": {
        "zero-shot": "genre.components.intent.zero_shot:ZeroShotIntent",
        "llm-summary": "genre.components.intent.llm_summary:LLMSummaryIntent",
        "trained-head": "genre.components.intent.head:TrainedIntentHead",
        "multitask-head": "genre.components.intent.multitask:MultiTaskIntentHead",
        "none": "genre.components.intent.none:NoIntent",
    },
    "candidates": {
        "filter": "genre.components.candidates:CandidateFilter",
        "ann": "genre.components.candidates_ann:AnnCandidates",
    },
    "scorers": {
        "popularity": "genre.components.scorers.popularity:PopularityScorer",
        "content": "genre.components.scorers.content:ContentScorer",
        "itemknn": "genre.components.scorers.collaborative:ItemKNNScorer",
        "ease": "genre.components.scorers.collaborative:EaseScorer",
        "bpr": "genre.components.scorers.bpr:BprScorer",
        "pda": "genre.components.scorers.pda:PdaScorer",
        "intent-match": "genre.components.scorers.intent_match:IntentMatchScorer",
        "price-fit": "genre.components.scorers.attributes:PriceFitScorer",
        "preference": "genre.components.scorers.attributes:PreferenceScorer",
        "sasrec": "genre.components.scorers.sasrec:SasRecScorer",
        "sasrec-multitask": "genre.components.scorers.multitask:MultiTaskSasRecScorer",
        "sasrec-crossmodal": "genre.components.scorers.crossmodal:CrossModalScorer",
    },
    "fusion": {
        "weighted": "genre.components.fusion:WeightedFusion",
        "learned": "genre.components.fusion:LearnedFusion",
        "ltr": "genre.components.fusion_ltr:LtrFusion",
    },
    "rerank": {
        "mmr": "genre.components.rerank:MMRDiversity",
        "popularity-bias": "genre.components.rerank:PopularityBiasCorrection",
    },
    "explain": {
        "template": "genre.components.reasoners.template:TemplateReasoner",
        "local-llm": "genre.components.reasoners.local:LocalLLMReasoner",
        "hf-local": "genre.components.reasoners.local:HFLocalReasoner",
        "openai-compatible": "genre.components.reasoners.http:OpenAICompatibleReasoner",
        "tuned-local": "genre.components.reasoners.tuned:TunedLocalReasoner",
        "grounded": "genre.components.reasoners.grounded:GroundedReasoner",
    },
}


def resolve(stage: str, name: str) -> type[Component]:
    """The component class a config names: a built-in name or ``package.module:Class``.

    A custom class must derive its stage's base (``STAGE_BASES``) and implement every call the base
    declares, so a wrong import path or a half-written component fails when the config loads, not
    mid-run. Nothing is instantiated here.
    """
    if stage not in BUILTINS:
        raise ConfigError(f"unknown stage {stage!r}; stages are {', '.join(STAGES)}")
    builtins = BUILTINS[stage]
    if name in builtins:
        return _checked(stage, name, _import(stage, builtins[name]), custom=False)
    if ":" not in name:
        raise ConfigError(
            f"unknown {stage} component {name!r}; built-ins are {', '.join(sorted(builtins))} "
            "(or give a custom class as 'package.module:ClassName')"
        )
    return _checked(stage, name, _import(stage, name), custom=True)


def _import(stage: str, name: str) -> object:
    module_name, _, class_name = name.partition(":")
    try:
        return getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot import {stage} component {name!r}: {exc}") from exc


def _checked(stage: str, name: str, cls: object, custom: bool) -> type[Component]:
    """``cls`` when it can be a component of ``stage``; else a ConfigError naming what it lacks."""
    # Built-ins are held to their stage base by the contract tests (tests/contract), so a stage's
    # built-ins can move onto its base in a change of their own; custom classes are checked here.
    stage_base = STAGE_BASES[stage]
    base = stage_base if custom else Component
    where = f"{stage} component {name!r}"
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ConfigError(
            f"{where} is not a {base.__name__} subclass; a {stage} component derives "
            f"genre.core.component.{base.__name__}"
        )
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(getattr(cls, "__abstractmethods__", ())))
        raise ConfigError(
            f"{where} ({cls.__name__}) does not implement {missing}, which every {stage_base.__name__} must"
        )
    config_base = FusionConfig if stage == "fusion" else ComponentConfig
    if not (isinstance(cls.Config, type) and issubclass(cls.Config, config_base)):
        raise ConfigError(
            f"{where} ({cls.__name__}) has a Config that is not a {config_base.__name__} subclass; "
            f"a {stage} component's Config derives genre.core.component.{config_base.__name__}"
        )
    return cls


def describe() -> dict[str, list[dict[str, object]]]:
    """Every built-in per stage with its options (type, default, doc): what `genre components` prints."""
    out: dict[str, list[dict[str, object]]] = {}
    for stage in STAGES:
        rows: list[dict[str, object]] = []
        for name in BUILTINS[stage]:
            cls = resolve(stage, name)
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
