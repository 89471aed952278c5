"""Review page helpers: the reviewer's name, the two arms, and the blind side-by-side form.

The library writes the pairs (:mod:`genre.evaluation.pairwise`) and the store keeps the judgements;
this module only collects input and renders. Every reason, title and comment is shown through
:func:`~pages.common.ui.md_escape` or a dataframe, never as markdown or HTML.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import streamlit as st

from genre import GenreError
from genre.config import PipelineConfig
from genre.core.errors import InputError
from genre.core.types import RankedItem, RunTrace, UserContext, stable_hash
from genre.data.users import MAX_COMMENT_CHARS, check_length
from genre.evaluation.pairwise import ScreenPair, Side, UserPairs, arm_config, build_pairs, check_arms
from genre.feedback.pairwise import MAX_REVIEWER_CHARS, Arm, Judgement, check_reviewer
from genre.registry import BUILTINS, resolve
from pages.common.params import edit_params
from pages.common.ui import get_pipeline, md_escape, show_error

REVIEWER = "genre_reviewer"
"""Session-state key of the reviewer's name: asked once per browser session, kept across pages."""
PAIRS = "review_pairs"
"""Session-state key of the current batch of blind pairs (a :class:`PairBatch`)."""
ARM_OPTIONS = "review_arm_options"
"""Session-state key: per (config, arm, generator), the options last chosen, so switching back keeps them."""
ALWAYS_NAMED = frozenset({"style"})
"""Options an arm names even at their default value (the reason style, once generators have one)."""
PICKS = {"left": "Left is better", "right": "Right is better", "tie": "Tie"}


def ask_reviewer() -> str | None:
    """The reviewer's name, asked once per browser session; None (with the question shown) until given."""
    name = st.session_state.get(REVIEWER)
    if name:
        cols = st.columns([6, 1])
        cols[0].markdown("Reviewing as **" + md_escape(name) + "**; your name is stored with every judgement.")
        if cols[1].button("Change", key="review_reviewer_change"):
            del st.session_state[REVIEWER]
            st.rerun()
        return str(name)
    with st.form("review_reviewer_form"):
        typed = st.text_input(
            "Your name",
            key="review_reviewer_input",
            help=f"Asked once per browser session and stored with every judgement (up to {MAX_REVIEWER_CHARS} "
            "characters).",
        )
        go = st.form_submit_button("Start reviewing", key="review_reviewer_start")
    if go:
        try:
            st.session_state[REVIEWER] = check_reviewer(typed)
        except GenreError as exc:
            show_error(f"{exc}.")
        else:
            st.rerun()
    return None


def _named_defaults(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: fields[k].get_default(call_default_factory=True) for k in ALWAYS_NAMED if k in fields}


def pick_arm(side: str, base: PipelineConfig, default: str) -> tuple[Arm | None, list[str]]:
    """One arm: a generator and its own options (kept per generator while the session lasts)."""
    names = list(dict.fromkeys([base.explain.component, *sorted(BUILTINS["explain"])]))
    generator = st.selectbox(
        f"Arm {side} generator", names, index=names.index(default), key=f"review_arm_{side.lower()}_generator"
    )
    remembered: dict[tuple[str, str, str], dict[str, Any]] = st.session_state.setdefault(ARM_OPTIONS, {})
    slot = (base.name, side, generator)
    if slot not in remembered:
        own = base.explain.config if generator == base.explain.component else {}
        remembered[slot] = dict(own)
    with st.expander(f"Arm {side} options", expanded=False):
        options, problems = edit_params(
            "explain", generator, remembered[slot], f"review_arm_{side.lower()}_{generator}"
        )
    remembered[slot] = options
    if problems:
        return None, problems
    # Options at their defaults are dropped, so two arms that write alike have equal keys (and are refused);
    # the style is always named, since it is what a reader compares ("template · style=one-line").
    fields = resolve("explain", generator).Config.model_fields
    own = {
        k: v
        for k, v in {**_named_defaults(fields), **options}.items()
        if k in ALWAYS_NAMED or k not in fields or v != fields[k].get_default(call_default_factory=True)
    }
    return Arm(generator=generator, options=own, config_name=base.name), []


@dataclass
class PairBatch:
    """Pairs written for one press of the button, with what they were made for."""

    id: str
    """Names this batch's widgets, so a new batch never inherits an old batch's picks."""
    users: list[UserPairs]
    made_for: str
    """Hash of the choices the batch answers (arms, users, items per user): others mark it stale."""
    labels: dict[str, str]
    """Per user key, what the page calls it (an example profile's name, "movielens user 7")."""

    @property
    def pairs(self) -> list[ScreenPair]:
        return [p for u in self.users for p in u.pairs]


def write_pairs(
    base: PipelineConfig,
    arms: tuple[Arm, Arm],
    users: list[tuple[str, UserContext]],
    k: int,
    made_for: str,
    label: Callable[[str], str] = str,
) -> PairBatch | None:
    """Both arms' reasons for each user's top ``k`` (each arm's pipeline from the shared pool); None on failure."""
    try:
        check_arms(*arms)
        pipelines = (get_pipeline(arm_config(base, arms[0])), get_pipeline(arm_config(base, arms[1])))
        total = 2 * k * len(users)
        with st.status("Writing both arms' reasons…") as box:
            landed: list[str] = []

            def count(user: str, side: Side, item: RankedItem) -> None:
                landed.append(user)
                box.update(label=f"Wrote {len(landed)} of {total} reasons")

            # A fresh seed per batch: the same item need not sit on the same side for every reviewer.
            users_pairs = build_pairs(pipelines, arms, users, k, seed=secrets.randbelow(2**31), on_reason=count)
            box.update(label="Reasons ready", state="complete")
    except GenreError as exc:
        show_error(f"Could not write the pairs: {exc}")
        return None
    labels = {user: label(user) for user, _ in users}
    return PairBatch(stable_hash([made_for, secrets.token_hex(4)])[:8], users_pairs, made_for, labels)


def _reason_text(text: str) -> str:
    """A reason as markdown that shows it verbatim, keeping its line breaks (bullet styles use them)."""
    return "  \n".join(md_escape(line) for line in text.splitlines() if line.strip()) or "(empty)"


def _evidence_rows(trace: RunTrace, item_id: str) -> list[dict[str, Any]]:
    item = next(i for i in trace.items if i.item_id == item_id)
    return [
        {"scorer": name, "evidence": e.label, "kind": e.kind, "weight": round(e.weight, 4)}
        for name, evs in item.evidence.items()
        for e in evs
    ]


def widget_key(batch: PairBatch, index: int, what: str) -> str:
    """Key of one pair's widget (tests use it too)."""
    return f"rp_{batch.id}_{index}_{what}"


def pairwise_form(batch: PairBatch, reviewer: str) -> list[Judgement] | None:
    """The blind form: both reasons per item, left and right in the stored order, with no generator names.

    Returns the judgements to save when submitted and valid, else None (problems are shown).
    """
    answers = []
    index = 0
    with st.form(f"review_pairs_form_{batch.id}"):
        for user_pairs in batch.users:
            history = ", ".join(h.title for h in user_pairs.trace.history[-8:]) or "no history"
            st.markdown(f"#### {md_escape(batch.labels.get(user_pairs.user, user_pairs.user))}")
            st.caption("Recent history: " + md_escape(history))
            for pair in user_pairs.pairs:
                with st.container(border=True):
                    st.markdown(f"**{pair.rank}. {md_escape(pair.title)}**")
                    left, right = st.columns(2)
                    left.markdown("**Left**  \n" + _reason_text(pair.left_reason.text))
                    right.markdown("**Right**  \n" + _reason_text(pair.right_reason.text))
                    if pair.left_reason.text == pair.right_reason.text:
                        st.caption("Both reasons read the same; a tie is the honest pick.")
                    faithful_left = left.radio(
                        "Left faithful?", ["yes", "no"], index=None, horizontal=True, key=widget_key(batch, index, "fl")
                    )
                    faithful_right = right.radio(
                        "Right faithful?",
                        ["yes", "no"],
                        index=None,
                        horizontal=True,
                        key=widget_key(batch, index, "fr"),
                    )
                    pick = st.radio(
                        "Which reason is better?",
                        list(PICKS),
                        format_func=PICKS.__getitem__,
                        index=None,
                        horizontal=True,
                        key=widget_key(batch, index, "pick"),
                    )
                    comment = st.text_input(
                        "Comment (optional)",
                        key=widget_key(batch, index, "comment"),
                        help=f"Up to {MAX_COMMENT_CHARS:,} characters; stored as plain text.",
                    )
                    with st.expander("Evidence for this item", expanded=False):
                        st.dataframe(_evidence_rows(user_pairs.trace, pair.item_id) or [{"evidence": "none"}])
                answers.append((index, pair, pick, faithful_left, faithful_right, comment))
                index += 1
        submitted = st.form_submit_button("Save judgements", type="primary", key="review_pairs_save")
    if not submitted:
        return None
    return _judgements(answers, reviewer)


def _flag(answer: str | None) -> bool | None:
    return None if answer is None else answer == "yes"


def _judgements(answers: list[tuple[int, ScreenPair, Any, Any, Any, str]], reviewer: str) -> list[Judgement] | None:
    """The answers as judgements, or None with every problem named (then nothing is saved)."""
    problems, out = [], []
    for index, pair, pick, faithful_left, faithful_right, comment in answers:
        where = f"item {index + 1} ({pair.title})"
        marked = faithful_left is not None or faithful_right is not None or bool(comment.strip())
        if pick is None:
            if marked:
                problems.append(f"{where} has marks or a comment but no pick: choose left, right or tie, or clear it")
            continue
        try:
            check_length(comment, f"the comment on {where}", MAX_COMMENT_CHARS)
            out.append(
                pair.judgement(reviewer, pick, _flag(faithful_left), _flag(faithful_right), comment.strip() or None)
            )
        except (InputError, GenreError) as exc:
            problems.append(str(exc))
    if problems:
        show_error("Nothing was saved: " + "; ".join(problems) + ".")
        return None
    if not out:
        show_error("Nothing was saved: pick the better reason (left, right or tie) for at least one item.")
        return None
    return out
