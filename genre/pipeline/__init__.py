"""The pipeline layer: builds components from a config, ranks, explains and assembles the RunTrace.

``build`` (specs -> prepared components), ``rank`` (the ranking path the evaluation harness shares),
``explain``, ``assemble`` (-> RunTrace), ``caches`` (locked) and ``pool`` (one build per key, shared
across threads); ``Pipeline`` is the facade over them.
"""

from genre.pipeline.pool import PipelinePool
from genre.pipeline.runner import Pipeline

__all__ = ["Pipeline", "PipelinePool"]
