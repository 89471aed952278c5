"""Names of the built-in components of each stage, resolved to classes only when asked for.

The table holds ``module:Class`` strings, so importing the registry (and the config schema above
it) imports no component module and no torch; a name is imported when a config names it.
"""

from __future__ import annotations

import importlib

from genre.core.component import Component, Reranker, Scorer
from genre.core.errors import ConfigError

STAGES: tuple[str, ...] = ("context", "intent", "candidates", "scorers", "fusion", "rerank", "explain")

BUILTINS: dict[str, dict[str, str]] = {
    "context": {"recency": "genre.components.context:RecencyContextEncoder"},
    "intent": {
        "zero-shot": "genre.components.intent.zero_shot:ZeroShotIntent",
        "llm-summary": "genre.components.intent.llm_summary:LLMSummaryIntent",
        "trained-head": "genre.components.intent.head:TrainedIntentHead",
        "none": "genre.components.intent.none:NoIntent",
    },
    "candidates": {"filter": "genre.components.candidates:CandidateFilter"},
    "scorers": {
        "popularity": "genre.components.scorers.popularity:PopularityScorer",
        "content": "genre.components.scorers.content:ContentScorer",
        "itemknn": "genre.components.scorers.collaborative:ItemKNNScorer",
        "ease": "genre.components.scorers.collaborative:EaseScorer",
        "bpr": "genre.components.scorers.bpr:BprScorer",
        "intent-match": "genre.components.scorers.intent_match:IntentMatchScorer",
        "price-fit": "genre.components.scorers.attributes:PriceFitScorer",
        "preference": "genre.components.scorers.attributes:PreferenceScorer",
        "sasrec": "genre.components.scorers.sasrec:SasRecScorer",
    },
    "fusion": {
        "weighted": "genre.components.fusion:WeightedFusion",
        "learned": "genre.components.fusion:LearnedFusion",
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
        return _import(stage, builtins[name])
    if ":" not in name:
        raise ConfigError(
            f"unknown {stage} component {name!r}; built-ins are {', '.join(sorted(builtins))} "
            "(or give a custom class as 'package.module:ClassName')"
        )
    return _import(stage, name)


def _import(stage: str, name: str) -> type[Component]:
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
