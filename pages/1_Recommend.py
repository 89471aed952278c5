"""Recommend: build a profile, run the whole pipeline, and see scores, attention and reasons side by side."""

from __future__ import annotations

import streamlit as st

from genre import GenreError
from genre.config import with_generator
from genre.core.errors import ConfigError
from genre.core.types import UserContext, stable_hash
from genre.data import load_profiles
from genre.data.users import (
    MAX_PROFILE_CHARS,
    built_profile_context,
    dataset_user_context,
    dataset_user_ids,
    example_profile_context,
    feedback_key,
    own_profile_user,
    uploaded_history_context,
    with_request,
)
from genre.registry import BUILTINS
from pages.common.auth import gate
from pages.common.downloads import claim_rows, csv_download, ranked_rows, rejected_rows
from pages.common.params import kept_generator_options
from pages.common.saved_profiles import saved_profiles_panel
from pages.common.simulated import simulated_banner
from pages.common.trace_views import render_charts, render_item_detail
from pages.common.ui import (
    get_pipeline,
    get_store,
    md_escape,
    pick_config,
    render_item,
    session_feedback_id,
    show_error,
    show_info,
    show_warning,
)

st.set_page_config(page_title="GENRE · Recommend", page_icon="🎬", layout="wide")
gate()
st.title("Recommend")
st.caption("Build a profile, run the full pipeline, and check every recommendation against its evidence.")

picked = pick_config("rec_config")
if picked is None:
    st.stop()
config_name, base_config = picked

# ---- pipeline options ----------------------------------------------------------------------
k = st.sidebar.slider("How many recommendations", 1, 20, min(base_config.k, 20), key="rec_k")
generators = list(dict.fromkeys([base_config.explain.component, *sorted(BUILTINS["explain"])]))
generator = st.sidebar.selectbox(
    "Reason generator",
    generators,
    key="rec_generator",
    help=(
        "template is deterministic and instant; grounded and tuned-local write with SmolLM2 in slots the code "
        "fills, and every reason is checked claim by claim."
    ),
)
with st.sidebar.expander(f"{generator} options"):
    options, option_problems = kept_generator_options(config_name, base_config, generator, "rec")
config = base_config
try:
    if option_problems:
        raise ConfigError("; ".join(option_problems))
    config = with_generator(base_config, generator, options=options)  # a bad combination fails here
    with st.spinner("Loading models and the catalog (first use only)…"):
        pipeline = get_pipeline(config)
except GenreError as exc:
    if generator == "template" and not option_problems:
        show_error(f"This pipeline cannot start: {exc}")
        st.stop()
    # A generator that cannot load (missing adapter, model or option) must not take the page down.
    show_error(f"The {generator} generator cannot start: {exc}; showing template reasons instead.")
    config = with_generator(base_config, "template")
    try:
        pipeline = get_pipeline(config)
    except GenreError as exc:
        show_error(f"This pipeline cannot start: {exc}")
        st.stop()
catalog = pipeline.catalog
st.sidebar.caption(f"{len(catalog):,} items · device `{pipeline.device}`")

# ---- the profile ----------------------------------------------------------------------------
sources = ["Example profile", "Build a profile", "Upload CSV"]
user_ids = dataset_user_ids(catalog)
if user_ids:
    sources.insert(0, "Dataset user")
source = st.radio("Profile source", sources, horizontal=True, key="rec_source")
# Whatever the profile, the collaborative scores and the counts reasons cite ("41 people who ...") come from the log.
simulated_banner(config.data)

ctx: UserContext | None = None
owner: str | None = None  # whose feedback this is: the dataset user, the example profile, or the visitor's
problem: str | None = None
try:
    if source == "Dataset user":
        user_id = st.selectbox(f"{md_escape(catalog.name)} user", user_ids, key="rec_user")
        ctx = dataset_user_context(catalog, user_id)
        owner = feedback_key("dataset", catalog.name, user_id)
        st.caption(f"{len(ctx.history)} rated items, oldest first; the most recent ones weigh most.")
    elif source == "Example profile":
        profiles = load_profiles(config.data)
        if not profiles:
            problem = "This config names no example profiles; build one or upload a CSV instead."
        else:
            pid = st.selectbox(
                "Example profile", list(profiles), format_func=lambda p: profiles[p].name or p, key="rec_profile"
            )
            ctx = example_profile_context(catalog, profiles, pid)
            owner = feedback_key("profile", catalog.name, pid)
            if profiles[pid].profile:
                st.caption("Profile: " + md_escape(profiles[pid].profile))
    else:
        if source == "Build a profile":
            titles = {item.item_id: item.title for item in catalog.items}
            chosen = st.multiselect(
                "History (in the order the user met them, oldest first)",
                list(titles),
                format_func=titles.__getitem__,
                key="rec_history",
                max_selections=200,
            )
            text = st.text_area(
                "Free-text profile",
                key="rec_text",
                help=f"Up to {MAX_PROFILE_CHARS:,} characters.",
                placeholder="What does this person enjoy, and what are they looking for right now?",
            )
        else:
            upload = st.file_uploader(
                "History CSV: a header with title (or item_id), and optional timestamp and rating columns",
                type=["csv"],
                key="rec_csv",
            )
        name = st.text_input(
            "Profile name (optional)",
            key="rec_profile_name",
            help="Feedback on this profile stays with this browser session; name the profile to keep it "
            "across visits (anyone who uses the same name shares it).",
        )
        owner = own_profile_user(catalog.name, name, session_feedback_id()).key
        if source == "Build a profile":
            ctx = built_profile_context(catalog, item_ids=chosen, text=text)
        elif upload is None:
            problem = "Upload a CSV to continue."
        else:
            ctx = uploaded_history_context(catalog, upload.getvalue())
            st.caption(md_escape(f"{upload.name}: {len(ctx.history)} history items read."))
except GenreError as exc:
    show_error(exc)
    ctx = None

with st.expander("Filters"):
    categories = sorted({c for item in catalog.items for c in item.categories})
    chosen_categories = st.multiselect("Only these categories", categories, key="rec_categories")
    price_min = price_max = None
    if any(item.price is not None for item in catalog.items):
        low, high = st.columns(2)
        # No widget bounds: a bounded widget keeps its old value while showing the new one;
        # the library explains a bad price in the visitor's own numbers instead.
        price_min = low.number_input("Lowest price", value=None, key="rec_price_min")
        price_max = high.number_input("Highest price", value=None, key="rec_price_max")

if problem:
    st.info(problem)

store = get_store()
if source == "Build a profile" and owner is not None:
    saved_profiles_panel(
        store, owner, named=bool(st.session_state.get("rec_profile_name", "").strip()), catalog=catalog
    )
use_feedback = st.sidebar.toggle(
    "Apply my feedback",
    value=True,
    key="rec_use_feedback",
    help="Liked items join the history; disliked ones are excluded.",
)


request: UserContext | None = None
if ctx is not None:
    try:
        request = with_request(ctx, price_min=price_min, price_max=price_max, categories=chosen_categories)
    except GenreError as exc:
        show_error(exc)
# What a list was made from: a list whose inputs differ from the current ones is marked as stale.
inputs = (
    None
    if request is None or owner is None
    else stable_hash([config.model_dump_json(), k, use_feedback, owner, request.model_dump_json()])
)


def give_feedback(item_id: str, kind: str, run_id: str, user: str) -> None:
    """Button callback: store one event; a bad event or a broken store shows a message, never a traceback."""
    try:
        assert store is not None
        store.add_event(user, item_id, kind, run_id=run_id)
    except GenreError as exc:
        st.session_state["rec_feedback_note"] = ("error", f"Feedback not saved: {exc}")
    else:
        label = {"like": "Liked", "dislike": "Disliked", "not_interested": "Marked not interested"}[kind]
        st.session_state["rec_feedback_note"] = ("ok", f"{label}. Press Recommend to see the updated ranking.")


if st.button("Recommend", type="primary", key="rec_run", disabled=inputs is None):
    assert request is not None and owner is not None
    try:
        feedback = store.events_for_user(owner) if store is not None and use_feedback else None
        trace = pipeline.run(request, k=min(k, len(catalog)), reasons=False, feedback=feedback)
        if store is not None:
            store.record_run(trace, user=owner)
    except GenreError as exc:
        # A failed run leaves no earlier list on screen as if it answered these inputs.
        for stale in ("rec_trace", "rec_trace_user", "rec_trace_inputs"):
            st.session_state.pop(stale, None)
        show_error(f"Could not recommend: {exc}")
    else:
        st.session_state["rec_trace"] = trace
        st.session_state["rec_trace_user"] = owner
        st.session_state["rec_trace_inputs"] = inputs

# ---- the result -----------------------------------------------------------------------------
trace = st.session_state.get("rec_trace")
if trace is None:
    st.stop()
user_key_of_trace = st.session_state["rec_trace_user"]
# A list made from other inputs may come from another pipeline: its reasons and attention are not
# written with this one.
current = st.session_state.get("rec_trace_inputs") == inputs
if not current:
    st.warning(
        "This list no longer matches the inputs: the profile, the filters or the options changed since it was "
        "made. Press Recommend to update it.",
        icon=":material/history:",
    )

for note in trace.notices:
    show_info(note)
if trace.feedback is not None and trace.feedback.n_events:
    applied = trace.feedback
    titles = {i.item_id: i.title for i in catalog.items}
    parts = []
    if applied.liked:
        parts.append("added to the history: " + ", ".join(titles.get(i, i) for i in applied.liked))
    if applied.excluded:
        parts.append("excluded: " + ", ".join(titles.get(i, i) for i in applied.excluded))
    st.success(md_escape("Your feedback shaped this run — " + "; ".join(parts)) if parts else "No feedback applied.")
note = st.session_state.pop("rec_feedback_note", None)
if note is not None:
    (st.error if note[0] == "error" else st.toast)(md_escape(note[1]))
cols = st.columns(4)
cols[0].metric("Candidates", f"{trace.candidates['count']:,}")
cols[1].metric("History items", len(trace.history))
cols[2].metric("Run time", f"{trace.total_ms():.0f} ms")
cols[3].metric("Device", trace.device_label())
if trace.intent.summary:
    st.markdown("**Intent:** " + md_escape(trace.intent.summary))

left, right = st.columns([5, 6])
slots = {}
with left:
    st.subheader("Ranked list")
    if not trace.items:
        st.warning("Nothing to recommend with these filters.")
    for item in trace.items:
        slots[item.rank] = st.empty()
        # Each row is its own placeholder: the reasons written below replace its template in place.
        render_item(item, slots[item.rank], pending=current and item.rank in trace.pending_reasons)
        if store is not None:
            buttons = st.columns([2, 2, 3, 2])
            choices = [
                ("like", "Like", ":material/thumb_up:"),
                ("dislike", "Dislike", ":material/thumb_down:"),
                ("not_interested", "Not interested", ":material/block:"),
            ]
            for col, (kind, label, icon) in zip(buttons, choices, strict=False):
                col.button(
                    label,
                    icon=icon,
                    key=f"rec_fb_{kind}_{item.item_id}",
                    on_click=give_feedback,
                    args=(item.item_id, kind, trace.run_id, user_key_of_trace),
                )
with right:
    render_charts(trace, "rec")
render_item_detail(trace, "rec")


def show_generator_attention(rank: int) -> None:
    """Button callback: where the generator looked for one reason (one forward pass), before the page redraws."""
    try:
        if pipeline.generator_attention(trace, rank) is None:
            st.session_state["rec_attention_note"] = "This reason has no generator attention to show."
    except GenreError as exc:
        st.session_state["rec_attention_note"] = f"Could not read the generator's attention: {exc}"


# Filled at the end of the script: the inspected item's reason may only be written below.
attention_slot = st.empty()
# Filled once the reasons are written, so every download holds the reasons shown.
downloads_slot = st.empty()

# Reasons are written last, so the ranking and charts are visible meanwhile: the top item in one
# small batch (its reason shows in seconds), then all the others in one more; each row is filled
# as its reason lands.
if current and trace.pending_reasons:
    total = len(trace.pending_reasons)
    progress = st.progress(0.0, text=f"Writing {total} reasons…")
    try:
        for done, item in enumerate(pipeline.iter_reasons(trace), start=1):
            render_item(item, slots[item.rank])
            progress.progress(done / total, text=f"Wrote {done} of {total} reasons")
    except GenreError as exc:
        show_error(f"Reason generation failed, template reasons are shown: {exc}")
        for rank in trace.pending_reasons:
            render_item(trace.items[rank - 1], slots[rank])
        trace.pending_reasons = []
    progress.empty()
    if store is not None:
        # Recorded again now that the reasons are written: the stored run names the generator that wrote them.
        try:
            store.record_run(trace, user=user_key_of_trace)
        except GenreError as exc:
            show_warning(f"The run's reasons were not recorded in the feedback store: {exc}")

with downloads_slot.container():
    st.markdown("**Downloads** (each chart downloads as PNG from the camera icon of its toolbar)")
    cols = st.columns(4)
    with cols[0]:
        csv_download("Ranked list (CSV)", ranked_rows(trace), f"genre-{trace.run_id}-ranked.csv", "rec_ranked_csv")
    with cols[1]:
        csv_download("Checked claims (CSV)", claim_rows(trace), f"genre-{trace.run_id}-claims.csv", "rec_claims_csv")
    with cols[2]:
        csv_download(
            "Rejected candidates (CSV)", rejected_rows(trace), f"genre-{trace.run_id}-rejected.csv", "rec_rejected_csv"
        )
    with cols[3]:
        st.download_button(
            "Run trace (JSON)",
            trace.to_json(),
            file_name=f"genre-{trace.run_id}.json",
            mime="application/json",
            key="rec_download",
            icon=":material/download:",
            on_click="ignore",
        )

# Where the generator looked is computed on request only: it is a second pass over the prompt, and
# most visitors never open it.
inspected = next((i for i in trace.items if i.rank == st.session_state.get("rec_inspect")), None)
attention_note = st.session_state.pop("rec_attention_note", None)
with attention_slot.container():
    if attention_note is not None:
        show_error(attention_note)
    if (
        current
        and inspected is not None
        and pipeline.capabilities.prompt_attention is not None
        and inspected.rank not in trace.pending_reasons
        and inspected.reason is not None
        and inspected.reason.generator != "template"
        and inspected.generator_attention is None
    ):
        st.button(
            "Show where the generator looked",
            icon=":material/visibility:",
            key="rec_generator_attention",
            on_click=show_generator_attention,
            args=(inspected.rank,),
            help=f"Which evidence in its prompt the model attended to while writing the reason for "
            f"{md_escape(inspected.title)}.",
        )
