"""Review: stakeholders rate each generated reason (1-5, faithful?, comment); reviews are stored durably."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from genre import GenreError
from genre.data import load_profiles
from genre.data.profiles import interactions_to_context, profile_to_context
from genre.feedback import FeedbackEvent
from genre.registry import BUILTINS
from genre.viz import review_chart
from pages.common.ui import faithfulness_badge, get_pipeline, get_store, md_escape, pick_config, reason_markdown

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
config = base_config
if generator != base_config.explain.component:
    config = base_config.model_copy(
        update={"explain": base_config.explain.model_copy(update={"component": generator, "config": {}})}
    )
k = st.sidebar.slider("Items to review", 1, 10, 5, key="review_k")

try:
    pipeline = get_pipeline(config)
except GenreError as exc:
    st.error(f"This pipeline cannot start: {exc}")
    st.stop()

profiles = load_profiles(config.data)
has_users = pipeline.catalog.interactions is not None and len(pipeline.catalog.interactions) > 0
options = [f"profile:{p}" for p in profiles] + (["user:1", "user:42", "user:196", "user:405"] if has_users else [])
if not options:
    st.info("This config has no example profiles or dataset users to review.")
    st.stop()
who = st.selectbox(
    "Whose recommendations",
    options,
    format_func=lambda o: profiles[o[8:]].name if o.startswith("profile:") else f"{pipeline.catalog.name} user {o[5:]}",
    key="review_who",
)

if st.button("Show reasons to review", type="primary", key="review_run"):
    try:
        if who.startswith("profile:"):
            ctx = profile_to_context(profiles[who[8:]], pipeline.catalog)
        else:
            ctx = interactions_to_context(pipeline.catalog, who[5:])
        trace = pipeline.run(ctx, k=k, reasons=False)
        with st.status("Writing reasons…") as box:
            for rank in list(trace.pending_reasons):
                pipeline.explain_items(trace, [rank])
                box.update(label=f"Wrote {rank} of {len(trace.items)} reasons")
            box.update(label="Reasons ready", state="complete")
        if store is not None:
            store.record_run(trace, user=f"reviewer:{who}")
    except GenreError as exc:
        st.error(f"Could not produce reasons: {exc}")
    else:
        st.session_state["review_trace"] = (trace, f"reviewer:{who}")

current = st.session_state.get("review_trace")
if current is not None:
    trace, reviewer = current
    for note in trace.notices:
        st.info(note)
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
                st.caption("Template reason: " + item.template_reason.text)
            cols = st.columns([2, 2, 5])
            rating = cols[0].select_slider("Rating", options=[1, 2, 3, 4, 5], value=3, key=f"review_rating_{item.rank}")
            faithful = cols[1].radio("Faithful?", ["yes", "no"], horizontal=True, key=f"review_faithful_{item.rank}")
            comment = cols[2].text_input("Comment", key=f"review_comment_{item.rank}", max_chars=1000)
            answers.append((item, rating, faithful, comment))
        submitted = st.form_submit_button("Save reviews", type="primary")
    if submitted:
        if store is None:
            st.error("The review store is unavailable, so nothing was saved; see the warning above.")
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
                st.error(f"Reviews not saved: {exc}")
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
        st.error(str(exc))
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
                st.error(f"Export failed: {exc}")
