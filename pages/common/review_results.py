"""Review page results: the pairwise summary table, comments to browse, exports, and the prefer_reviewed control.

Everything a reviewer typed is shown in dataframes or through :func:`~pages.common.ui.md_escape`.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import streamlit as st

from genre import GenreError, parse_config, save_config
from genre.access import Action
from genre.config import PipelineConfig
from genre.feedback.choice import choose_generator, review_score
from genre.feedback.pairwise import Arm, Judgement
from pages.common.auth import allowed, operators_only
from pages.common.ui import md_escape, saved_config_dir, shipped_config_names, show_error

CONFIG_NAME = r"[a-z0-9][a-z0-9_-]{0,47}"
"""What a saved config may be called (as on the Tune page)."""


# ---- what the judgements say ------------------------------------------------------------------


def _rate(count: Any) -> str:
    """A faithful rate with its counts ("75% (3/4)"), or "not marked"."""
    return "not marked" if count.rate is None else f"{count.rate:.0%} ({count.yes}/{count.n})"


def summary_rows(summaries: list[Any], first: Arm | None = None) -> list[dict[str, Any]]:
    """One table row per pair of arms: wins, A's win rate with its 95% interval, faithful rates, agreement.

    The store keeps each pair in a canonical order; a pair holding ``first`` (the page's arm A) is
    turned round so that its "A" is the arm the reviewer picked as A. Numbers for the plot ride along
    under the keys ``_rate``, ``_low`` and ``_high``.
    """
    rows = []
    for s in summaries:
        turn = first is not None and s.arm_b.key == first.key
        a, b = (s.arm_b, s.arm_a) if turn else (s.arm_a, s.arm_b)
        wins_a, wins_b = (s.wins_b, s.wins_a) if turn else (s.wins_a, s.wins_b)
        faithful_a, faithful_b = (s.faithful_b, s.faithful_a) if turn else (s.faithful_a, s.faithful_b)
        rate = s.win_rate_a if s.win_rate_a is None or not turn else 1.0 - s.win_rate_a
        low, high = (1.0 - s.win_rate_high, 1.0 - s.win_rate_low) if turn else (s.win_rate_low, s.win_rate_high)
        if s.kappa is None:
            agreement = s.kappa_note or "not measured"
        else:
            agreement = f"{s.kappa:.2f} ({s.kappa_method}, {s.kappa_items} shared items)"
            if s.kappa_note:
                agreement += f"; {s.kappa_note}"
        rows.append(
            {
                "arm A": f"{a.label} [{a.config_name}]",
                "arm B": f"{b.label} [{b.config_name}]",
                "judgements": s.n,
                "A wins": wins_a,
                "B wins": wins_b,
                "ties": s.ties,
                "A win rate": None if rate is None else round(rate, 3),
                "95% interval": f"{low:.0%} – {high:.0%}",
                "A faithful": _rate(faithful_a),
                "B faithful": _rate(faithful_b),
                # Far from half hints that reviewers favour a side rather than a reason.
                "left side won": f"{s.left_picks} of {s.wins_a + s.wins_b}",
                "reviewers": s.reviewers,
                "agreement (kappa)": agreement,
                "comments": s.n_comments,
                "_rate": rate,
                "_low": low,
                "_high": high,
            }
        )
    return rows


def comment_rows(judgements: list[Judgement]) -> list[dict[str, Any]]:
    """Every judgement with a comment, newest first: who, which arms, which won, and the comment as typed."""
    rows = []
    for j in reversed(judgements):
        if j.comment is None:
            continue
        winner = j.winner
        rows.append(
            {
                "arms": pair_label(j.arm_a, j.arm_b),
                "reviewer": j.reviewer,
                "item": j.item_id,
                "for": j.subject,
                "better": "tie" if winner is None else winner.label,
                "comment": j.comment,
                "when": j.created_at.strftime("%Y-%m-%d %H:%M"),
            }
        )
    return rows


def pair_label(a: Arm, b: Arm) -> str:
    return f"{a.label} vs {b.label}"


def browse_comments(judgements: list[Judgement]) -> None:
    """The comments as a filterable table (by pair of arms, reviewer, text), shown as plain text."""
    rows = comment_rows(judgements)
    if not rows:
        st.caption("No comments yet.")
        return
    # Every reviewer's comments, with the table's own CSV download: as much an export as the buttons below.
    if not allowed(Action.EXPORT_FEEDBACK):
        st.caption(f"{len(rows)} comment{'s' * (len(rows) != 1)} from every reviewer.")
        operators_only(Action.EXPORT_FEEDBACK)
        return
    cols = st.columns(3)
    pairs = ["every pair", *sorted({r["arms"] for r in rows})]
    reviewers = ["every reviewer", *sorted({r["reviewer"] for r in rows})]
    pair = cols[0].selectbox("Arms", pairs, key="review_comments_pair")
    who = cols[1].selectbox("Reviewer", reviewers, key="review_comments_reviewer")
    needle = cols[2].text_input("Comment contains", key="review_comments_text")
    shown = [
        r
        for r in rows
        if (pair == pairs[0] or r["arms"] == pair)
        and (who == reviewers[0] or r["reviewer"] == who)
        and needle.casefold() in r["comment"].casefold()
    ]
    st.caption(f"{len(shown)} of {len(rows)} comments")
    # A dataframe shows every cell as text: HTML or markdown in a comment stays as typed.
    st.dataframe(shown, hide_index=True, key="review_comments_table")


def export_buttons(store: Any, config_name: str | None) -> None:
    """Downloads: the judgements (CSV, JSONL) and every feedback event (CSV, JSONL)."""
    files = [
        ("Judgements (CSV)", "genre-judgements.csv", lambda p: store.export_judgements(p, "csv", config_name)),
        ("Judgements (JSONL)", "genre-judgements.jsonl", lambda p: store.export_judgements(p, "jsonl", config_name)),
        ("All feedback (CSV)", "genre-feedback.csv", store.export_csv),
        ("All feedback (JSONL)", "genre-feedback.jsonl", store.export_jsonl),
    ]
    cols = st.columns(len(files))
    if not allowed(Action.EXPORT_FEEDBACK):
        # Disabled and empty: a disabled button still sends its file to the browser, so none is written.
        for col, (label, name, _write) in zip(cols, files, strict=True):
            col.download_button(label, b"", file_name=name, key=f"review_export_{name}", disabled=True)
        operators_only(Action.EXPORT_FEEDBACK)
        return
    with tempfile.TemporaryDirectory() as tmp:
        for col, (label, name, write) in zip(cols, files, strict=True):
            path = Path(tmp) / name
            try:
                write(path)
            except GenreError as exc:
                col.error(md_escape(f"{label} failed: {exc}"))
                continue
            col.download_button(label, path.read_bytes(), file_name=name, key=f"review_export_{name}")


def prefer_reviewed_panel(store: Any, config_name: str, config: PipelineConfig) -> None:
    """``[feedback] prefer_reviewed``: what it would decide from the stored reviews, and a toggle saved to a config.

    The decision is :func:`genre.feedback.choice.choose_generator` on this config's reviews, as a
    pipeline build makes it. A shipped config is never overwritten: the toggle saves a user copy.
    """
    st.markdown(
        "With **prefer reviewed** on, a pipeline built from this config uses the reason generator with the best "
        "review score (mean of its faithful rate and its mean rating scaled to 0-1) once two or more generators "
        "have enough reviews; otherwise its own generator."
    )
    source = config.feedback.reviews_from or config.name
    try:
        reviews = store.generator_acceptance(source)
    except GenreError as exc:
        show_error(f"Cannot read the reviews: {exc}")
        return
    # Widget keys name the config: another config's toggle or name must not carry over.
    cols = st.columns([1, 1, 2])
    prefer = cols[0].toggle(
        "Prefer reviewed", value=config.feedback.prefer_reviewed, key=f"review_prefer_on_{config_name}"
    )
    min_reviews = int(
        cols[1].number_input(
            "Min reviews per generator",
            min_value=1,
            max_value=100_000,
            value=config.feedback.min_reviews,
            step=1,
            key=f"review_prefer_min_{config_name}",
        )
    )
    choice = choose_generator(config.explain.component, reviews, min_reviews)
    st.caption(
        md_escape(
            f"Reviews read from config {source}" + (" (this config's reviews_from)." if source != config.name else ".")
        )
    )
    rows = [
        {
            "generator": name,
            "reviews": acc.n,
            "faithful rate": None if acc.faithful_rate is None else round(acc.faithful_rate, 3),
            "mean rating (1-5)": None if acc.mean_rating is None else round(acc.mean_rating, 2),
            "review score": None if (score := review_score(acc)) is None else round(score, 3),
            "enough reviews": acc.n >= min_reviews,
        }
        for name, acc in reviews.items()
    ]
    if rows:
        st.dataframe(rows, hide_index=True, key="review_prefer_scores")
    else:
        st.caption(
            md_escape(f"No single-generator reviews for {source} yet (the Rate one generator mode stores them).")
        )
    decided = choice.chosen if prefer else config.explain.component
    st.info(
        md_escape(
            f"{'On' if prefer else 'Off'}: runs of {config_name} would use {decided}. "
            + (choice.notice if prefer else f"Reviews would say: {choice.notice}")
        )
    )
    shipped = config_name in shipped_config_names()
    default = f"{config_name}-reviewed" if shipped else config_name
    name = cols[2].text_input("Save as config", value=default, key=f"review_prefer_name_{config_name}")
    unchanged = prefer == config.feedback.prefer_reviewed and min_reviews == config.feedback.min_reviews
    may_save = allowed(Action.SAVE_CONFIG)
    clicked = st.button(
        "Save prefer reviewed",
        key=f"review_prefer_save_{config_name}",
        disabled=(unchanged and name == config_name) or not may_save,
    )
    if not may_save:
        operators_only(Action.SAVE_CONFIG)
    if clicked and may_save:
        if not re.fullmatch(CONFIG_NAME, name or ""):
            st.error(
                "Name the config with 1-48 lower-case letters, digits, '-' or '_' (starting with a letter or digit)."
            )
        elif name in shipped_config_names():
            show_error(f"{name!r} is a shipped config and stays as shipped; choose another name.")
        else:
            # A copy keeps deciding from the reviews shown here, which are stored under the original's name.
            update = {"prefer_reviewed": prefer, "min_reviews": min_reviews, "reviews_from": None}
            if name != source:
                update["reviews_from"] = source
            feedback = config.feedback.model_copy(update=update)
            try:
                copy = parse_config(
                    {
                        **config.model_dump(mode="json", exclude_none=True),
                        "name": name,
                        "feedback": feedback.model_dump(),
                    },
                    source="the Review page",
                )
                path = save_config(copy, saved_config_dir() / f"{name}.toml")
            except (GenreError, OSError) as exc:
                show_error(f"Could not save: {exc}")
            else:
                st.success(
                    md_escape(f"Saved {path.name} in {path.parent} with prefer_reviewed = {str(prefer).lower()}.")
                )
