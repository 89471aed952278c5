"""What every model-written reason goes through, whichever model wrote it.

A model's raw text is cleaned to its style's shape (:func:`~genre.text.styled.clean_styled`) and matched back to the
history titles of its prompt (``evidence_ids``). An item whose text comes back empty gets the
deterministic template reason instead, and the call's notices say how many did, so a generating
reasoner never fails a run.
"""

from __future__ import annotations

from typing import Any, ClassVar

from genre.components.env import Env
from genre.components.reasoners.prompts import mentioned_evidence
from genre.components.reasoners.styles import DEFAULT_STYLE, STYLE_WORDS, Style, StyleOptions
from genre.components.reasoners.template import TemplateReasoner
from genre.core.component import ComponentConfig, Reasoner
from genre.core.types import ReasonOut, ReasonRequest
from genre.text.styled import clean_styled

__all__ = ["GeneratedReasoner"]


class GeneratedReasoner(Reasoner):
    """Base of the generating reasoners: cleaning, evidence ids, and the template fallback with its notice."""

    name: ClassVar[str] = "llm"

    def __init__(self, config: ComponentConfig | dict[str, Any] | None = None) -> None:
        super().__init__(config)
        style, _ = self._style()
        options: dict[str, Any] = {"max_evidence": self._max_evidence(), "style": style}
        if isinstance(self.config, StyleOptions) and self.config.max_words is not None:
            options["max_words"] = self.config.max_words
        # The fallback is written in the same style, so a list never mixes shapes.
        self.template = TemplateReasoner(options)

    def _style(self) -> tuple[Style, int]:
        """The style this reasoner writes and its length bound (one-line when its config has no style)."""
        if isinstance(self.config, StyleOptions):
            return self.config.style, self.config.word_bound
        return DEFAULT_STYLE, STYLE_WORDS[DEFAULT_STYLE][1]

    def _max_evidence(self) -> int:
        return int(getattr(self.config, "max_evidence", 3))

    def prepare(self, env: Env) -> None:
        super().prepare(env)
        self.template.prepare(env)

    def _finish(self, req: ReasonRequest, generated: str | None, prefix: str = "") -> ReasonOut:
        """A cleaned reason from ``prefix`` + the model's text, or the template reason when the model wrote nothing.

        ``generated`` alone decides emptiness: a prefix the reasoner wrote itself is not a reason.
        """
        style, bound = self._style()
        if not clean_styled(generated or "", style, bound):
            return self.template.write(req)
        text = clean_styled(prefix + (generated or ""), style, bound)
        return ReasonOut(
            text=text, generator=self.name, evidence_ids=mentioned_evidence(req, text, self._max_evidence())
        )

    def _empty_notice(self, empty: int, total: int) -> list[str]:
        """The notice for ``empty`` of ``total`` items that fell back to the template (none when 0)."""
        if not empty:
            return []
        return [f"{self.name} wrote no usable text for {empty} of {total} items; showing template reasons for them"]
