"""Review: stakeholders rate each generated reason (1-5, faithful?, comment); reviews are stored durably."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from genre import GenreError
from genre.config import with_generator
from genre.core.errors import InputError
from genre.core.types import RankedItem, stable_hash
from genre.data import load_profiles
from genre.data.users import (
    MAX_COMMENT_CHARS,
    check_length,
    dataset_user_context,
    dataset_user_ids,
    example_profile_context,
    feedback_key,
)
from genre.feedback import FeedbackEvent
from genre.registry import BUILTINS
from genre.viz import review_chart
from pages.common.ui import (
    faithfulness_badge,
    get_pipeline,
    get_store,
    md_escape,
    pick_config,
    reason_markdown,
    show_error,
    show_info,
)

st.set_page_config(page_title="GENRE · Review", page_icon="📝", layout="wide")
st.title("Review")
st.caption("Rate each reason as a reader would: is it helpful, and is it true to the evidence shown?")

store = get_store()
picked = pick_config("review_config")
if picked is None:
    st.stop()
config_name, base_config = picked
generators = list(dict.fromkeys([base_config.explain.component, *sorted(BUILTINS["explain"])]))
generator = st.sidebar.selectbox("Reason generator under review", generators, key="review_generator")
k = st.sidebar.slider("Items to review", 1, 10, 5, key="review_k")

try:
    config = with_generator(base_config, generator)
    pipeline = get_pipeline(config)
except GenreError as exc:
    show_error(f"This pipeline cannot start: {exc}")
    st.stop()
catalog = pipeline.catalog

profiles = load_profiles(config.data)
options = [f"profile:{p}" for p in profiles] + [f"user:{u}" for u in dataset_user_ids(catalog)]
if not options:
    st.info("This config has no example profiles or dataset users to review.")
    st.stop()
who = st.selectbox(
    "Whose recommendations",
    options,
    format_func=lambda o: profiles[o[8:]].name if o.startswith("profile:") else f"{catalog.name} user {o[5:]}",
    key="review_who",
)
# What the reasons on screen were made for: other choices mark them as stale.
review_inputs = stable_hash([config.model_dump_json(), k, who])

if st.button("Show reasons to review", type="primary", key="review_run"):
    # A failed run leaves no earlier reasons on screen as if they answered these choices.
    st.session_state.pop("review_trace", None)
    try:
        kind, _, ident = who.partition(":")
        if kind == "profile":
            ctx = example_profile_context(catalog, profiles, ident)
        else:
            ctx = dataset_user_context(catalog, ident)
        reviewer = feedback_key("reviewer", catalog.name, who)
        trace = pipeline.run(ctx, k=k, reasons=False)
        with st.status("Writing reasons…") as box:
            written: list[int] = []

            def landed(item: RankedItem) -> None:
                written.append(item.rank)
                box.update(label=f"Wrote {len(written)} of {len(trace.items)} reasons")

            pipeline.explain_items(trace, on_reason=landed)
            box.update(label="Reasons ready", state="complete")
        if store is not None:
            store.record_run(trace, user=reviewer)
    except GenreError as exc:
        show_error(f"Could not produce reasons: {exc}")
    else:
        st.session_state["review_trace"] = (trace, reviewer, review_inputs)

current = st.session_state.get("review_trace")
if current is not None:
    trace, reviewer, made_for = current
    if made_for != review_inputs:
        st.warning(
            "These reasons were written for other choices (the generator, the profile or the number of items "
            "changed). Press Show reasons to review to update them.",
            icon=":material/history:",
        )
    for note in trace.notices:
        show_info(note)
    with st.form("review_form"):
        answers = []
        for item in trace.items:
            st.markdown(f"**{item.rank}. {md_escape(item.title)}**")
            st.markdown(reason_markdown(item) + "  \n" + faithfulness_badge(item))
            if (
                item.template_reason is not None
                and item.reason is not None
                and item.template_reason.text != item.reason.text
            ):
                st.caption("Template reason: " + md_escape(item.template_reason.text))
            cols = st.columns([2, 2, 5])
            rating = cols[0].select_slider("Rating", options=[1, 2, 3, 4, 5], value=3, key=f"review_rating_{item.rank}")
            faithful = cols[1].radio("Faithful?", ["yes", "no"], horizontal=True, key=f"review_faithful_{item.rank}")
            comment = cols[2].text_input(
                "Comment", key=f"review_comment_{item.rank}", help=f"Up to {MAX_COMMENT_CHARS:,} characters."
            )
            answers.append((item, rating, faithful, comment))
        submitted = st.form_submit_button("Save reviews", type="primary")
    if submitted:
        too_long = []
        for item, _rating, _faithful, comment in answers:
            try:
                check_length(comment, f"the comment on item {item.rank}", MAX_COMMENT_CHARS)
            except InputError as exc:
                too_long.append(str(exc))
        if store is None:
            st.error("The review store is unavailable, so nothing was saved; see the warning above.")
        elif too_long:
            show_error("Nothing was saved: " + "; ".join(too_long) + ". Shorten it and save again.")
        else:
            events = []
            for item, rating, faithful, comment in answers:
                generator_name = item.reason.generator if item.reason else None
                common = {
                    "user": reviewer,
                    "item_id": item.item_id,
                    "run_id": trace.run_id,
                    "generator": generator_name,
                }
                events.append(
                    FeedbackEvent(kind="reason_rating", value=float(rating), comment=comment or None, **common)
                )
                events.append(FeedbackEvent(kind="reason_faithful", value=1.0 if faithful == "yes" else 0.0, **common))
            try:
                store.add_events(events)
            except GenreError as exc:
                show_error(f"Reviews not saved: {exc}")
            else:
                st.success(f"Saved {len(answers)} reviews.")

# ---- aggregates and export --------------------------------------------------------------------
if store is not None:
    st.divider()
    st.subheader("All reviews so far")
    scope = st.radio("Scope", ["this config", "every config"], horizontal=True, key="review_scope")
    try:
        summary = store.generator_acceptance(config.name if scope == "this config" else None)
    except GenreError as exc:
        show_error(exc)
        summary = {}
    if not summary:
        st.caption("No reviews yet.")
    else:
        table = {name: acc.model_dump() for name, acc in summary.items()}
        fig = review_chart(table)
        if fig is not None:
            st.plotly_chart(fig, key="review_chart", width="stretch")
        st.dataframe(pd.DataFrame(table).T.reset_index(names="generator"), hide_index=True)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "genre-feedback.csv"
            try:
                store.export_csv(path)
                st.download_button(
                    "Export all feedback (CSV)", path.read_bytes(), file_name="genre-feedback.csv", key="review_export"
                )
            except GenreError as exc:
                show_error(f"Export failed: {exc}")
