"""The pipeline schema: one component per stage and each component's parameters, checked in full.

Validation resolves every component's class through :mod:`genre.registry` (which checks that it
is of its stage) and validates its parameters with the class's own ``Config``. It never builds a
component: no constructor runs, nothing is prepared, no model is loaded. The fusion says which
scorers it refers to through its config (:class:`~genre.core.component.FusionConfig`), so even
that check needs no fusion object.
"""

from __future__ import annotations

from typing import Any, Literal, cast

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from genre.config.data import DataConfig
from genre.core.component import Component, ComponentConfig, FusionConfig
from genre.core.errors import ConfigError
from genre.registry import resolve

PRECISIONS: dict[str, tuple[str, ...]] = {"cpu": ("fp32", "int8"), "cuda": ("fp32", "bf16", "fp16")}
"""The generator precisions each device can run (besides ``auto``)."""


class StageSpec(BaseModel):
    """One component: a built-in name (see `python -m genre components`) or 'module:Class'."""

    model_config = ConfigDict(extra="forbid")

    component: str
    config: dict[str, Any] = Field(default_factory=dict)


class AttributionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    enabled: bool = True
    """Compute leave-one-out attributions over history items and profile sentences."""
    max_history: int = Field(default=50, ge=1, le=500)
    """Only the most recent history items are left out in turn."""
    profile_attention: bool = True
    """Record the sentence embedder's attention over the profile text's words (RunTrace.profile_attention).

    The generator's attention over its prompt is the reasoner's own `attention` option."""


class FeedbackConfig(BaseModel):
    """How feedback events change the next run (see ``genre.feedback.apply``)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    like_weight: float = Field(default=2.0, gt=0, le=100)
    """A liked or highly rated (4-5) item joins the history with this weight; a plain history event weighs 1."""
    click_weight: float = Field(default=1.0, gt=0, le=100)
    """A clicked item joins the history with this weight."""
    dislike_push: float = Field(default=0.3, ge=0, le=1)
    """β in u ← u − β·mean(embeddings of disliked items), renormalized; 0 only excludes them."""
    prefer_reviewed: bool = False
    """Let reason reviews pick the generator: when two or more generators (e.g. template, local-llm) each have
    at least `min_reviews` reviews for this config in the feedback store, the pipeline uses the one with the
    best review score (mean of its faithful rate and its mean rating scaled to 0-1) instead of [explain]'s,
    and says so in every run's notices. Off by default: [explain] alone decides."""
    min_reviews: int = Field(default=20, ge=1, le=100_000)
    """With `prefer_reviewed`: reason feedback events a generator needs before its reviews count."""
    reviews_from: str | None = Field(default=None, min_length=1)
    """With `prefer_reviewed`: read the reviews stored under this config name instead of this config's own, so
    a saved copy of a config (the Review page saves one) decides from the reviews made with the original."""


class PipelineConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    name: str = Field(min_length=1)
    """Short name shown in traces and the explorer."""
    description: str = ""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Where models and tensors live; `auto` picks cuda when available."""
    precision: Literal["auto", "fp32", "int8", "bf16", "fp16"] = "auto"
    """The local generator's weights: `int8` (CPU only: int8 weights, bf16 matrix products; about 1.5x fp32's
    decoding speed on 2 shared cores, same reasons on most requests), `bf16` or `fp16` (CUDA only), `fp32`.
    `auto` is int8 on CPU and bf16 on CUDA (fp16 where the GPU lacks bf16). With device = "auto" the pairing
    is checked when the pipeline is built."""
    k: int = Field(default=10, ge=1)
    """Default number of recommendations."""
    data: DataConfig
    context: StageSpec = StageSpec(component="recency")
    intent: StageSpec = StageSpec(component="none")
    candidates: StageSpec = StageSpec(component="filter")
    scorers: dict[str, StageSpec] = Field(min_length=1)
    """Named scorers; the name is how fusion weights refer to each."""
    fusion: StageSpec = StageSpec(component="weighted")
    rerank: list[StageSpec] = Field(default_factory=list)
    """Re-rankers applied in order after fusion (e.g. mmr, popularity-bias)."""
    explain: StageSpec = StageSpec(component="template")
    attribution: AttributionConfig = AttributionConfig()
    feedback: FeedbackConfig = FeedbackConfig()

    @model_validator(mode="after")
    def _precision_fits_device(self) -> PipelineConfig:
        allowed = PRECISIONS.get(self.device)
        if allowed is not None and self.precision != "auto" and self.precision not in allowed:
            raise ConfigError(
                f"precision = {self.precision!r} cannot run on device = {self.device!r}; "
                f"valid precisions there: auto, {', '.join(allowed)}"
            )
        return self

    @model_validator(mode="after")
    def _components_valid(self) -> PipelineConfig:
        configs = {where: validate_component(where.split(".")[0], spec, where) for where, spec in self.stage_specs()}
        # The registry only resolves a fusion whose Config derives FusionConfig.
        fusion = cast(FusionConfig, configs["fusion"])
        unknown = sorted(fusion.referenced_scorers() - set(self.scorers))
        if unknown:
            raise ConfigError(
                f"[fusion.config] refers to scorers not in this pipeline: {', '.join(unknown)}; "
                f"the pipeline's scorers are {', '.join(self.scorers)}"
            )
        return self

    def stage_specs(self) -> list[tuple[str, StageSpec]]:
        """(location, spec) for every component, scorers as ``scorers.<name>``."""
        out = [("context", self.context), ("intent", self.intent), ("candidates", self.candidates)]
        out += [(f"scorers.{name}", spec) for name, spec in self.scorers.items()]
        out.append(("fusion", self.fusion))
        out += [(f"rerank.{n}", spec) for n, spec in enumerate(self.rerank)]
        out.append(("explain", self.explain))
        return out

    def to_toml(self) -> str:
        return tomli_w.dumps(self.model_dump(mode="json", exclude_none=True))


def validate_component(stage: str, spec: StageSpec, where: str | None = None) -> ComponentConfig:
    """A component's validated ``Config``, without building the component.

    The class comes from the registry, which checks that it is of ``stage``; a parameter error
    becomes a ConfigError naming its place (``where``, e.g. ``scorers.pop``).
    """
    cls = resolve(stage, spec.component)
    try:
        return cls.Config.model_validate(spec.config)
    except ValidationError as exc:
        raise _component_error(exc, cls, where or stage) from None


def build_component(stage: str, spec: StageSpec, where: str | None = None) -> Component:
    """Instantiate a component, turning a parameter error into a ConfigError naming its place.

    The pipeline's call, not validation's: kept importable from ``genre.config`` until the pipeline's
    own build step takes it over.
    """
    cls = resolve(stage, spec.component)
    try:
        return cls(spec.config)
    except ValidationError as exc:
        raise _component_error(exc, cls, where or stage) from None


def _component_error(exc: ValidationError, cls: type[Component], where: str) -> ConfigError:
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"]]
    return ConfigError(_describe(err, f"[{where}.config]", ".".join(loc), list(cls.Config.model_fields)))


def _describe(err: Any, section: str, key: str, fields: list[str] | None) -> str:
    """One line naming the section, the key, what is wrong and (for typos) the valid keys."""
    if err["type"] == "extra_forbidden":
        valid = f"; valid keys: {', '.join(fields)}" if fields else ""
        return f"{section} unknown key {key!r}{valid}"
    if err["type"] == "missing":
        return f"{section} missing required key {key!r}"
    msg = str(err["msg"]).removeprefix("Value error, ")
    value = "" if isinstance(err.get("input"), dict) or "input" not in err else f" (got {err['input']!r})"
    return f"{section} {key!r}: {msg}{value}" if key else f"{section}: {msg}"


def _fields_at(path: list[str]) -> list[str] | None:
    """Valid keys of the config section at ``path`` (for 'unknown key' messages)."""
    model: Any = PipelineConfig
    for depth, part in enumerate(path):
        if depth == 1 and path[0] in ("scorers", "rerank"):
            model = StageSpec  # path[1] is a scorer name or a re-ranker's position
            continue
        info = getattr(model, "model_fields", {}).get(part)
        if info is None:
            return None
        model = StageSpec if part in ("scorers", "rerank") else info.annotation
    return list(model.model_fields) if hasattr(model, "model_fields") else None


def pipeline_error(exc: ValidationError) -> str:
    """One line for the first error of a PipelineConfig validation: section, key, what is wrong."""
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"]]
    section = "[" + ".".join(loc[:-1]) + "]" if len(loc) > 1 else "top level"
    if err["type"] not in ("extra_forbidden", "missing") and len(loc) == 1 and isinstance(err.get("input"), dict):
        section, loc = f"[{loc[0]}]", [""]  # a whole-section check such as [data]'s
    return _describe(err, section, loc[-1] if loc else "", _fields_at(loc[:-1]))
