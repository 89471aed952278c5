"""Explanations: reasons for each recommended item, grounded in scorer evidence."""

from genre.explain.template import ReasonRequest, TemplateReasoner

__all__ = ["ReasonRequest", "TemplateReasoner"]
