"""The verifier's verdict on one reason: its claims, each checked against the evidence, and its errors.

Pure data (pydantic, no torch): :class:`~genre.core.types.ReasonOut` carries one, so every trace,
page and CLI output shows what was checked. :mod:`genre.text.verifier` fills it in.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = ["Claim", "ClaimKind", "Verdict", "VerdictError"]

ClaimKind = Literal["title", "number", "attribute", "target"]
VerdictError = Literal[
    "invented_title", "wrong_title", "unsupported_attribute", "unsupported_number", "wrong_target", "no_evidence",
    "contradiction", "repetition", "unfinished", "length", "markup", "language", "empty", "slot", "fluency",
]  # fmt: skip
"""Every way a reason can fail verification (:mod:`genre.text.verifier` says what each means)."""


class Claim(BaseModel):
    """One checkable statement inside a reason: a title, a number, an attribute word or the recommendation's target."""

    kind: ClaimKind
    text: str
    """The claim exactly as written: ``reason[start:end]``."""
    start: int
    end: int
    supported: bool
    evidence: str | None = None
    """What supports it (e.g. ``history: Heat (1995)``, ``item category``); None when unsupported."""
    problem: str | None = None
    """Why it is not supported, in words; None when supported."""
    error: VerdictError | None = None
    """The error type of an unsupported claim."""


class Verdict(BaseModel):
    """The verifier's judgement of one reason: its claims, each checked against the evidence, and the form checks."""

    passed: bool
    claims: list[Claim] = Field(default_factory=list)
    """Every claim found, in text order (claims may overlap: a target is also a title)."""
    errors: list[VerdictError] = Field(default_factory=list)
    """Error types, each once, in the order first found; empty when ``passed``."""
    problems: list[str] = Field(default_factory=list)
    """Readable reasons the reason failed, one per problem found."""
    fluency: float | None = None
    """The mean token log-probability the caller measured, when it measured one."""

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able dict of the verdict."""
        return self.model_dump(mode="json")
