"""Review: rate one generator's reasons, or compare two arms blind side by side; reviews are stored durably."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from genre import GenreError
from genre.components.reasoners.template import requests_from_trace
from genre.config import with_generator
from genre.core.errors import InputError
from genre.core.types import RankedItem, UserContext, stable_hash
from genre.data import load_profiles
from genre.data.users import (
    MAX_COMMENT_CHARS,
    check_length,
    dataset_user_context,
    dataset_user_ids,
    example_profile_context,
    feedback_key,
)
from genre.evaluation.pairwise import context_record
from genre.feedback import FeedbackEvent
from genre.registry import BUILTINS
from genre.viz import review_chart
from genre.viz_review import win_rate_chart
from pages.common.auth import gate
from pages.common.params import edit_params
from pages.common.review import PAIRS, ask_reviewer, pairwise_form, pick_arm, write_pairs
from pages.common.review_results import browse_comments, export_buttons, prefer_reviewed_panel, summary_rows
from pages.common.ui import (
    faithfulness_badge,
    get_catalog,
    get_pipeline,
    get_store,
    md_escape,
    pick_config,
    reason_markdown,
    show_error,
    show_info,
)

SINGLE, PAIRWISE = "Rate one generator", "Blind side by side"
# Session-state key: per (config, generator), the options last chosen in the single mode (kept when switching back).
# (A comment, not a docstring: Streamlit would print a bare string in a page script.)
GENERATOR_OPTIONS = "review_generator_options"

st.set_page_config(page_title="GENRE · Review", page_icon="📝", layout="wide")
gate()
st.title("Review")
st.caption("Judge reasons as a reader would: are they helpful, and true to the evidence shown?")

store = get_store()
picked = pick_config("review_config")
if picked is None:
    st.stop()
config_name, base_config = picked
mode = st.sidebar.radio("Mode", [SINGLE, PAIRWISE], key="review_mode")

try:
    catalog = get_catalog(base_config)
except GenreError as exc:
    show_error(f"This config's catalog cannot be loaded: {exc}")
    st.stop()
profiles = load_profiles(base_config.data)
subjects = [f"profile:{p}" for p in profiles] + [f"user:{u}" for u in dataset_user_ids(catalog)]
if not subjects:
    st.info("This config has no example profiles or dataset users to review.")
    st.stop()


def subject_label(subject: str) -> str:
    return profiles[subject[8:]].name if subject.startswith("profile:") else f"{catalog.name} user {subject[5:]}"


def subject_context(subject: str) -> UserContext:
    kind, _, ident = subject.partition(":")
    if kind == "profile":
        return example_profile_context(catalog, profiles, ident)
    return dataset_user_context(catalog, ident)


# ---- blind side by side -----------------------------------------------------------------------
if mode == PAIRWISE:
    st.markdown(
        "Two **arms** (a generator with its options) write reasons for the same items; each item shows both, "
        "left and right in a random order, without their names. Pick the better one or a tie, and mark each "
        "faithful or not."
    )
    reviewer = ask_reviewer()
    own = base_config.explain.component
    cols = st.columns(2)
    with cols[0]:
        arm_a, problems_a = pick_arm("A", base_config, own)
    with cols[1]:
        # The comparison stakeholders ask for first: the fine-tuned generator against the template.
        arm_b, problems_b = pick_arm("B", base_config, "tuned-local" if own != "tuned-local" else "template")
    for problem in problems_a + problems_b:
        show_error(problem)
    chosen = st.multiselect(
        "Whose recommendations",
        subjects,
        default=subjects[:1],
        format_func=subject_label,
        key="review_pair_users",
    )
    k = st.slider("Items per user", 1, 10, 5, key="review_pair_k")
    made_for = stable_hash([arm_a and arm_a.key, arm_b and arm_b.key, chosen, k])
    ready = arm_a is not None and arm_b is not None and reviewer is not None
    if st.button("Write both arms' reasons", type="primary", key="review_pair_run", disabled=not ready):
        st.session_state.pop(PAIRS, None)
        if not chosen:
            show_error("Pick at least one user or profile whose recommendations to review.")
        else:
            assert arm_a is not None and arm_b is not None
            try:
                users = [(s, subject_context(s)) for s in chosen]
            except GenreError as exc:
                show_error(f"Could not read the users: {exc}")
            else:
                batch = write_pairs(base_config, (arm_a, arm_b), users, k, made_for, subject_label)
                if batch is not None:
                    st.session_state[PAIRS] = batch
    batch = st.session_state.get(PAIRS)
    if batch is not None and reviewer is not None:
        if batch.made_for != made_for:
            st.warning(
                "These pairs were written for other choices (the arms, the users or the number of items changed). "
                "Press Write both arms' reasons to update them.",
                icon=":material/history:",
            )
        judgements = pairwise_form(batch, reviewer)
        if judgements is not None:
            if store is None:
                st.error("The review store is unavailable, so nothing was saved; see the warning above.")
            else:
                try:
                    store.save_judgements(judgements)
                except GenreError as exc:
                    show_error(f"Judgements not saved: {exc}")
                else:
                    st.success(
                        md_escape(f"Saved {len(judgements)} judgement{'s' * (len(judgements) != 1)} as {reviewer}.")
                        + " Saving again replaces them (one judgement per reviewer, item and pair of arms)."
                    )

# ---- one generator at a time ------------------------------------------------------------------
else:
    generators = list(dict.fromkeys([base_config.explain.component, *sorted(BUILTINS["explain"])]))
    generator = st.sidebar.selectbox("Reason generator under review", generators, key="review_generator")
    remembered: dict[tuple[str, str], dict] = st.session_state.setdefault(GENERATOR_OPTIONS, {})
    slot = (base_config.name, generator)
    if slot not in remembered:
        remembered[slot] = dict(base_config.explain.config if generator == base_config.explain.component else {})
    with st.sidebar.expander("Generator options", expanded=False):
        options, problems = edit_params("explain", generator, remembered[slot], f"review_opts_{generator}")
    remembered[slot] = options
    k = st.sidebar.slider("Items to review", 1, 10, 5, key="review_k")
    for problem in problems:
        show_error(problem)
    try:
        config = with_generator(base_config, generator, options=options)
        pipeline = get_pipeline(config)
    except GenreError as exc:
        show_error(f"This pipeline cannot start: {exc}")
        st.stop()

    who = st.selectbox("Whose recommendations", subjects, format_func=subject_label, key="review_who")
    # What the reasons on screen were made for: other choices mark them as stale.
    review_inputs = stable_hash([config.model_dump_json(), k, who])

    if st.button("Show reasons to review", type="primary", key="review_run"):
        # A failed run leaves no earlier reasons on screen as if they answered these choices.
        st.session_state.pop("review_trace", None)
        try:
            ctx = subject_context(who)
            reviewer_key = feedback_key("reviewer", catalog.name, who)
            trace = pipeline.run(ctx, k=k, reasons=False)
            with st.status("Writing reasons…") as box:
                written: list[int] = []

                def landed(item: RankedItem) -> None:
                    written.append(item.rank)
                    box.update(label=f"Wrote {len(written)} of {len(trace.items)} reasons")

                pipeline.explain_items(trace, on_reason=landed)
                box.update(label="Reasons ready", state="complete")
            if store is not None:
                # Recorded once the reasons are written, so the run names the generator that wrote them;
                # the texts and their evidence are kept so a rating can train the reasoner later.
                store.record_run(trace, user=reviewer_key)
                requests = {r.item.item_id: r for r in requests_from_trace(trace, pipeline.catalog)}
                store.record_reasons(
                    trace.run_id,
                    [
                        (i.item_id, i.reason.generator, i.reason.text, context_record(requests[i.item_id]))
                        for i in trace.items
                        if i.reason is not None
                    ],
                    options=options,
                )
        except GenreError as exc:
            show_error(f"Could not produce reasons: {exc}")
        else:
            st.session_state["review_trace"] = (trace, reviewer_key, review_inputs)

    current = st.session_state.get("review_trace")
    if current is not None:
        trace, reviewer_key, made_for = current
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
                rating = cols[0].select_slider(
                    "Rating", options=[1, 2, 3, 4, 5], value=3, key=f"review_rating_{item.rank}"
                )
                faithful = cols[1].radio(
                    "Faithful?", ["yes", "no"], horizontal=True, key=f"review_faithful_{item.rank}"
                )
                comment = cols[2].text_input(
                    "Comment", key=f"review_comment_{item.rank}", help=f"Up to {MAX_COMMENT_CHARS:,} characters."
                )
                answers.append((item, rating, faithful, comment))
            submitted = st.form_submit_button("Save reviews", type="primary", key="review_save")
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
                    common = {
                        "user": reviewer_key,
                        "item_id": item.item_id,
                        "run_id": trace.run_id,
                        "generator": item.reason.generator if item.reason else None,
                    }
                    events.append(
                        FeedbackEvent(kind="reason_rating", value=float(rating), comment=comment or None, **common)
                    )
                    events.append(
                        FeedbackEvent(kind="reason_faithful", value=1.0 if faithful == "yes" else 0.0, **common)
                    )
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
    scope_name = base_config.name if scope == "this config" else None
    try:
        if mode == PAIRWISE:
            summaries = store.pairwise_summary(scope_name)
            judged = store.judgements(config_name=scope_name)
        else:
            summary = store.generator_acceptance(scope_name)
    except GenreError as exc:
        show_error(exc)
        summaries, judged, summary = [], [], {}
    if mode == PAIRWISE:
        if not summaries:
            st.caption("No side-by-side judgements yet.")
        else:
            rows = summary_rows(summaries, arm_a)
            fig = win_rate_chart(
                [f"{r['arm A']} vs {r['arm B']}" for r in rows],
                [r["_rate"] for r in rows],
                [r["_low"] for r in rows],
                [r["_high"] for r in rows],
            )
            if fig is not None:
                st.plotly_chart(fig, key="review_win_chart", width="stretch")
            table = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]
            st.dataframe(table, hide_index=True, key="review_pair_summary")
            st.markdown("**Comments**")
            browse_comments(judged)
    elif not summary:
        st.caption("No reviews yet.")
    else:
        table = {name: acc.model_dump() for name, acc in summary.items()}
        fig = review_chart(table)
        if fig is not None:
            st.plotly_chart(fig, key="review_chart", width="stretch")
        st.dataframe(pd.DataFrame(table).T.reset_index(names="generator"), hide_index=True)
    export_buttons(store, scope_name)
    with st.expander("Let reviews pick the generator ([feedback] prefer_reviewed)", expanded=False):
        prefer_reviewed_panel(store, config_name, base_config)
