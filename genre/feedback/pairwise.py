"""Blind side-by-side judgements: two reasons for one item, a reviewer's pick, and whether each is faithful.

Pure data, no store. A judgement is kept in a **canonical order** (``arm_a.key < arm_b.key``), so the
same comparison judged with the arms shown either way round is one stored judgement; ``left``
remembers which arm the reviewer saw on the left. :meth:`Judgement.from_screen` turns what the
reviewer saw and clicked into a judgement and :meth:`Judgement.screen_pick` reads it back.

Every check raises :class:`~genre.core.errors.FeedbackError` naming the bad value. Reviewer names and
comments are stored as plain text: nothing here (or in the store) interprets them as markup; the
pages must escape them when they show them.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from genre.core.errors import FeedbackError
from genre.data.users import MAX_COMMENT_CHARS
from genre.feedback.events import _now, bad_chars, check_comment, utc

__all__ = [
    "CHOICES",
    "MAX_COMMENT_CHARS",
    "MAX_REVIEWER_CHARS",
    "SCREEN_PICKS",
    "Arm",
    "Judgement",
    "check_reviewer",
]

MAX_REVIEWER_CHARS = 80
"""Longest reviewer name accepted, in characters."""
CHOICES: tuple[str, ...] = ("a", "b", "tie")
"""What a stored judgement says: arm a is better, arm b is better, or neither."""
SCREEN_PICKS: tuple[str, ...] = ("left", "right", "tie")
"""What the reviewer clicked."""
_FLIP = {"a": "b", "b": "a", "tie": "tie"}


def check_reviewer(name: str) -> str:
    """``name`` without surrounding spaces, or FeedbackError saying why it cannot name a reviewer."""
    if not isinstance(name, str):
        raise FeedbackError(f"the reviewer name must be text, not {type(name).__name__}")
    name = name.strip()
    if not name:
        raise FeedbackError("the reviewer name is empty: type your name before judging")
    if len(name) > MAX_REVIEWER_CHARS:
        raise FeedbackError(f"the reviewer name is {len(name):,} characters long; the limit is {MAX_REVIEWER_CHARS}")
    bad = bad_chars(name)
    if bad:
        raise FeedbackError(
            f"the reviewer name {name!r} contains control or invisible characters ({', '.join(sorted(set(bad)))}); "
            "use letters, digits, spaces and punctuation"
        )
    return name


class Arm(BaseModel):
    """One side of a comparison: a reason generator with its options, in one pipeline config."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    generator: str
    """The reason generator's registry name, e.g. ``tuned-local``."""
    options: dict[str, Any] = Field(default_factory=dict)
    """The generator's options as given to it, e.g. ``{"style": "short"}`` (JSON-serialisable values)."""
    config_name: str
    """The pipeline config the reasons came from."""

    @field_validator("generator", "config_name")
    @classmethod
    def _named(cls, v: str) -> str:
        if not v.strip():
            raise FeedbackError("an arm needs a generator name and a config name; got an empty one")
        return v.strip()

    @field_validator("options")
    @classmethod
    def _json_options(cls, v: dict[str, Any]) -> dict[str, Any]:
        try:
            json.dumps(v, sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise FeedbackError(f"arm options must be JSON values (text, numbers, lists, objects): {exc}") from None
        return v

    @property
    def key(self) -> str:
        """Canonical and stable: sorted compact JSON of all three fields (equal arms, equal keys)."""
        return json.dumps(
            {"config_name": self.config_name, "generator": self.generator, "options": self.options},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )

    @property
    def label(self) -> str:
        """Readable, e.g. ``tuned-local · style=short`` (the config is :attr:`config_name`)."""
        opts = [f"{k}={_option_text(self.options[k])}" for k in sorted(self.options)]
        return " · ".join([self.generator, *opts])


def _option_text(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, sort_keys=True, ensure_ascii=False)


class Judgement(BaseModel):
    """A reviewer's verdict on two reasons for one item, in canonical arm order.

    Constructing one with the arms the wrong way round swaps them (with their reasons and verdicts,
    and flips ``left`` and ``choice``), so a judgement always means what the reviewer said.
    """

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    reviewer: str
    """Who judged: a person's name (1-80 characters, no control characters)."""
    item_id: str
    """The item both reasons explain."""
    subject: str = ""
    """Whose recommendations the item came from (a user or profile key), when the same item can be
    judged for several users; part of the identity of a judgement. Empty when not needed."""
    run_id: str | None = None
    """The run that showed the item, when one was recorded."""
    arm_a: Arm
    arm_b: Arm
    left: Literal["a", "b"]
    """Which arm was shown on the left (the order was random, so it is kept to check for position bias)."""
    choice: Literal["a", "b", "tie"]
    """The better arm, or ``tie``."""
    faithful_a: bool | None = None
    """Whether arm a's reason says only what the evidence supports; None when not marked."""
    faithful_b: bool | None = None
    comment: str | None = None
    """Free text (at most ``MAX_COMMENT_CHARS``), stored as plain text, never interpreted."""
    reason_a: str
    """The reason arm a wrote, as shown."""
    reason_b: str
    context: dict[str, Any] | None = None
    """The item's request in the labelled-record format (:mod:`genre.data.labelled`), so training can
    rebuild the fact plan the reasons were written from."""
    created_at: datetime = Field(default_factory=_now)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise FeedbackError(_validation_message(exc)) from None

    @model_validator(mode="before")
    @classmethod
    def _canonical(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if "choice" in data and data["choice"] not in CHOICES:
            raise FeedbackError(f"unknown choice {data['choice']!r}; valid choices: {', '.join(CHOICES)}")
        if "left" in data and data["left"] not in ("a", "b"):
            raise FeedbackError(f"unknown left side {data['left']!r}; valid: a, b")
        try:
            a, b = Arm.model_validate(data["arm_a"]), Arm.model_validate(data["arm_b"])
        except KeyError as exc:
            raise FeedbackError(f"a judgement needs both arms; {exc.args[0]} is missing") from None
        except ValidationError as exc:
            raise FeedbackError("arm: " + _validation_message(exc)) from None
        if a.key == b.key:
            raise FeedbackError(f"both arms are the same ({a.label} in {a.config_name}); compare two different arms")
        if a.key < b.key:
            return data
        swapped = dict(data)
        for x, y in (("arm_a", "arm_b"), ("reason_a", "reason_b"), ("faithful_a", "faithful_b")):
            swapped[x], swapped[y] = data.get(y), data.get(x)
        for f in ("left", "choice"):
            if f in data:
                swapped[f] = _FLIP[data[f]]
        return {k: v for k, v in swapped.items() if v is not None or k in data}

    @field_validator("reviewer", mode="before")
    @classmethod
    def _reviewer(cls, v: Any) -> str:
        return check_reviewer(v)

    @field_validator("item_id")
    @classmethod
    def _item(cls, v: str) -> str:
        if not v.strip():
            raise FeedbackError("a judgement needs the item id; got an empty one")
        return v

    @field_validator("comment", mode="before")
    @classmethod
    def _comment(cls, v: Any) -> str | None:
        return check_comment(v)

    @field_validator("run_id", mode="before")
    @classmethod
    def _empty_run(cls, v: Any) -> Any:
        return v or None

    @field_validator("created_at")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        return utc(v)

    @classmethod
    def from_screen(
        cls,
        *,
        reviewer: str,
        item_id: str,
        left_arm: Arm,
        right_arm: Arm,
        left_reason: str,
        right_reason: str,
        pick: Literal["left", "right", "tie"],
        run_id: str | None = None,
        faithful_left: bool | None = None,
        faithful_right: bool | None = None,
        comment: str | None = None,
        context: dict[str, Any] | None = None,
        subject: str = "",
        created_at: datetime | None = None,
    ) -> Judgement:
        """The judgement for what the reviewer saw (``left_*``, ``right_*``) and clicked (``pick``)."""
        if pick not in SCREEN_PICKS:
            raise FeedbackError(f"unknown pick {pick!r}; valid picks: {', '.join(SCREEN_PICKS)}")
        # Built with the left arm as a; the validator then swaps into canonical order when needed.
        data: dict[str, Any] = {
            "reviewer": reviewer, "item_id": item_id, "subject": subject, "run_id": run_id,
            "arm_a": left_arm, "arm_b": right_arm, "left": "a",
            "choice": {"left": "a", "right": "b", "tie": "tie"}[pick],
            "faithful_a": faithful_left, "faithful_b": faithful_right, "comment": comment,
            "reason_a": left_reason, "reason_b": right_reason, "context": context,
        }  # fmt: skip
        if created_at is not None:
            data["created_at"] = created_at
        return cls(**data)

    def screen_pick(self) -> Literal["left", "right", "tie"]:
        """What the reviewer clicked: the inverse of :meth:`from_screen`."""
        if self.choice == "tie":
            return "tie"
        return "left" if self.choice == self.left else "right"

    @property
    def left_arm(self) -> Arm:
        return self.arm_a if self.left == "a" else self.arm_b

    @property
    def right_arm(self) -> Arm:
        return self.arm_b if self.left == "a" else self.arm_a

    @property
    def winner(self) -> Arm | None:
        """The arm picked as better; None for a tie."""
        return None if self.choice == "tie" else (self.arm_a if self.choice == "a" else self.arm_b)

    @property
    def identity(self) -> tuple[str, str, str, str, str]:
        """What makes two judgements the same one (the later replaces the earlier in the store)."""
        return (self.reviewer, self.subject, self.item_id, self.arm_a.key, self.arm_b.key)


def _validation_message(exc: ValidationError) -> str:
    err = exc.errors()[0]
    field = ".".join(map(str, err["loc"])) or "judgement"
    return f"{field}: {err['msg']}"
