"""GENRE explorer: the entry point (``streamlit run app.py``). It names the pages and draws the home page.

Pages only collect input, call `genre`, and render the RunTrace.
"""

from __future__ import annotations

import time
from pathlib import Path

import streamlit as st

from genre import GenreError
from genre.data import load_profiles
from genre.data.users import example_profile_context
from genre.models import model_status
from pages.common.auth import gate, home_note, sidebar_panel
from pages.common.ui import get_pipeline, md_escape, pick_config, show_error, show_info

ROOT = Path(__file__).parent
LOGO = ROOT / "assets" / "logo.svg"


def home() -> None:
    """The home page: what GENRE is, the models and pipeline of a config, and an example run."""
    st.set_page_config(page_title="GENRE explorer", page_icon="🎬", layout="wide")
    st.title("GENRE")
    st.markdown(
        "**Generative Explainable Natural-language Recommendation Engine.** "
        "GENRE turns a user's profile and history into a ranked list through a pipeline you configure: "
        "context encoding, intent, candidate filtering, pluggable scorers and their fusion. "
        "Every recommendation comes with the evidence behind it and a reason you can check against that evidence."
    )
    st.markdown(
        "**Start here:** open **Recommend** in the sidebar and press *Recommend* — a MovieLens user's ranked, "
        "explained list appears with contributions, attention and attribution beside it. **Tune** edits and A/B "
        "compares pipelines, **Review** collects ratings of the reasons, **Evaluate** runs the offline benchmark, "
        "**Models** retrains on stored feedback and rolls model versions back."
    )
    home_note()

    picked = pick_config("home_config", "Domain / pipeline config", sidebar=False)
    if picked is None:
        return
    _, config = picked
    st.caption(md_escape(config.description or config.name))

    col_models, col_pipeline = st.columns(2)
    status = model_status(config.device)
    with col_models:
        st.subheader("Models")
        embedder = "installed" if status.embedder_installed else "missing — run `make setup`"
        generator = "prepared" if status.generator_prepared else "not prepared — run `make setup`"
        st.markdown(
            f"- Device: `{status.device}`\n"
            f"- Embedder (all-MiniLM-L6-v2): {embedder}\n"
            f"- Generator (SmolLM2-135M-Instruct): {generator}"
        )
    with col_pipeline:
        st.subheader("Pipeline")
        # Component names are registry names or module:Class paths, shown in code spans (inert text).
        st.markdown("\n".join(f"- **{stage}**: `{spec.component}`" for stage, spec in config.stage_specs()))

    try:
        with st.status("Loading models and the catalog (trains on first use)…", expanded=False) as box:
            started = time.perf_counter()
            pipeline = get_pipeline(config)
            seconds = time.perf_counter() - started
            box.update(
                label=f"Ready: {len(pipeline.catalog):,} items on {pipeline.device} ({seconds:.1f} s)", state="complete"
            )
    except GenreError as exc:
        show_error(exc)
        return
    if pipeline.prepare_timings:
        with st.expander("Trained and loaded components"):
            st.dataframe(
                [
                    {"stage": t.stage, "component": t.component, "seconds": round(t.ms / 1000, 2)}
                    for t in pipeline.prepare_timings
                ],
                hide_index=True,
            )

    st.subheader("Try an example profile")
    try:
        profiles = load_profiles(config.data)
    except GenreError as exc:
        show_error(exc)
        profiles = {}
    if profiles:
        pid = st.selectbox(
            "Example profile", list(profiles), format_func=lambda p: profiles[p].name or p, key="home_profile"
        )
        if st.button("Recommend", type="primary", key="home_run"):
            try:
                trace = pipeline.run(example_profile_context(pipeline.catalog, profiles, pid))
            except GenreError as exc:
                show_error(exc)
            else:
                for note in trace.notices:
                    show_info(note)
                rows = [
                    {"rank": i.rank, "title": i.title, "score": round(i.score, 3), "reason": i.reason.text}
                    for i in trace.items
                    if i.reason is not None
                ]
                st.dataframe(rows, hide_index=True, width="stretch")
    else:
        st.caption("This config names no example profiles.")


# The sidebar names each page by its title ("Home", not the entry file's name); the pages keep their
# /Recommend, /Tune... addresses. Each page sets its own title and icon in the browser tab. Sidebar icons
# are Material icons (a font Streamlit ships), not emoji, which a machine without an emoji font draws as boxes.
PAGES = [
    st.Page(home, title="Home", icon=":material/home:", default=True),
    st.Page(ROOT / "pages" / "1_Recommend.py", title="Recommend", icon=":material/recommend:"),
    st.Page(ROOT / "pages" / "2_Tune.py", title="Tune", icon=":material/tune:"),
    st.Page(ROOT / "pages" / "3_Review.py", title="Review", icon=":material/rate_review:"),
    st.Page(ROOT / "pages" / "4_Evaluate.py", title="Evaluate", icon=":material/monitoring:"),
    st.Page(ROOT / "pages" / "5_Models.py", title="Models", icon=":material/model_training:"),
]

if LOGO.exists():
    st.logo(str(LOGO))
# Before any page: a visitor who must sign in sees only the sign-in form.
sidebar_panel()
gate()
st.navigation(PAGES).run()
