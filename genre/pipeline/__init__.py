"""The pipeline layer: builds components from a config, ranks, explains and assembles the RunTrace."""

from genre.pipeline.runner import Pipeline

__all__ = ["Pipeline"]
