"""Explanations: reasons for each recommended item, grounded in scorer evidence."""

from genre.components.reasoners.template import TemplateReasoner
from genre.core.types import ReasonRequest

__all__ = ["ReasonRequest", "TemplateReasoner"]
