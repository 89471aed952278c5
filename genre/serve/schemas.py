"""Request bodies of the API (pydantic, unknown keys refused); responses are RunTrace JSON or small dicts."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from genre.data.users import MAX_PROFILE_NAME_CHARS


class Who(BaseModel):
    """Whose request it is: a dataset user or example profile id, or a profile the caller names."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    config: str = Field(min_length=1, max_length=200)
    """Config name, as listed by ``GET /v1/configs``."""
    user: str | None = Field(default=None, min_length=1, max_length=200)
    """A dataset user id (MovieLens) or an example profile id of the config; feedback is kept under it."""
    profile_name: str | None = Field(default=None, min_length=1, max_length=MAX_PROFILE_NAME_CHARS)
    """A name for a profile built in the request (history, free text): its feedback is kept under this name.
    Without ``user`` or a name, the run is not recorded and takes no feedback."""


class RecommendRequest(Who):
    """``POST /v1/recommend``: a profile from one source, the request's own text and filters, k and style."""

    history: list[str] | None = None
    """Titles the user liked, oldest first (matched like the explorer's history box), after ``item_ids``."""
    item_ids: list[str] | None = None
    """Item ids the user liked, oldest first."""
    profile: str | None = None
    """Free text: what the user wants now (never logged)."""
    price_min: float | None = None
    price_max: float | None = None
    categories: list[str] = Field(default_factory=list)
    """Keep only items in at least one of these categories."""
    k: int | None = None
    """Number of items, 1 to the service's max_k and at most the catalog size; default: the config's k."""
    style: str | None = None
    """Reason style (one-line, short, bullets, compare) for the config's reason generator."""
    max_words: int | None = None
    """Length bound of each reason in words (default: the style's own)."""
    reasons: bool = True
    """False: return at once with template reasons and ``pending_reasons``; ``POST /v1/explain`` writes them."""
    use_feedback: bool = False
    """Apply the stored feedback of ``user`` / ``profile_name`` before ranking (as the explorer's toggle does)."""

    @model_validator(mode="after")
    def _one_source(self) -> RecommendRequest:
        if self.user is not None and (self.history or self.item_ids):
            raise ValueError("give either user or history/item_ids, not both")
        return self


class ExplainRequest(BaseModel):
    """``POST /v1/explain``: write the reasons of some items of a run this service made."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    run_id: str = Field(min_length=1, max_length=100)
    """The ``run_id`` of a trace returned by ``POST /v1/recommend`` (kept in memory for a while)."""
    item_ids: list[str] | None = Field(default=None, max_length=1_000)
    """Items of that run to explain; none given: every item whose reason is still pending."""


class FeedbackRequest(Who):
    """``POST /v1/feedback``: one event, stored in the feedback store the explorer uses."""

    item_id: str = Field(min_length=1, max_length=200)
    kind: str = Field(min_length=1, max_length=50)
    """like, dislike, rating, click, not_interested (on items); reason_rating, reason_faithful (on reasons)."""
    value: float | None = None
    """1-5 for ratings, 0 or 1 for reason_faithful, absent otherwise."""
    run_id: str | None = Field(default=None, min_length=1, max_length=100)
    """The run that showed the item (needed for reason feedback)."""
    comment: str | None = None
    """Plain text, never logged."""
    generator: str | None = Field(default=None, min_length=1, max_length=100)
    """The reason generator judged (taken from the run when absent)."""

    @model_validator(mode="after")
    def _someone(self) -> FeedbackRequest:
        if (self.user is None) == (self.profile_name is None):
            raise ValueError("feedback needs exactly one of user or profile_name: whose feedback it is")
        return self
