"""GENRE explorer: home page. Pages only collect input, call `genre`, and render the RunTrace."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from genre import GenreError, Pipeline, load_config
from genre.data import load_profiles
from genre.data.profiles import profile_to_context
from genre.models import model_status

CONFIG_DIR = Path(__file__).parent / "configs"

st.set_page_config(page_title="GENRE explorer", page_icon="🎬", layout="wide")


@st.cache_resource(show_spinner=False)
def get_pipeline(path: str, mtime: float) -> Pipeline:
    """One prepared pipeline per config file version; models load once per process."""
    return Pipeline(load_config(path))


st.title("GENRE")
st.markdown(
    "**Generative Explainable Natural-language Recommendation Engine.** "
    "GENRE turns a user's profile and history into a ranked list through a pipeline you configure: "
    "context encoding, intent, candidate filtering, pluggable scorers and their fusion. "
    "Every recommendation comes with the evidence behind it and a reason you can check against that evidence."
)

configs = sorted(CONFIG_DIR.glob("*.toml"))
if not configs:
    st.error(f"No pipeline configs found in {CONFIG_DIR}. Restore configs/*.toml from the repository.")
    st.stop()
names = [p.stem for p in configs]
default = names.index("movies") if "movies" in names else 0
choice = st.selectbox("Domain / pipeline config", names, index=default, key="home_config")
path = CONFIG_DIR / f"{choice}.toml"

try:
    config = load_config(path)
except GenreError as exc:
    st.error(f"This config does not validate: {exc}")
    st.stop()
st.caption(config.description or config.name)
st.session_state["config_path"] = str(path)

col_models, col_pipeline = st.columns(2)
status = model_status(config.device)
with col_models:
    st.subheader("Models")
    st.markdown(
        f"- Device: `{status.device}`\n"
        f"- Embedder (all-MiniLM-L6-v2): {'installed' if status.embedder_installed else 'missing — run `make setup`'}\n"
        f"- Generator (SmolLM2-135M-Instruct): "
        f"{'prepared' if status.generator_prepared else 'not prepared — run `make setup`'}"
    )
with col_pipeline:
    st.subheader("Pipeline")
    st.markdown("\n".join(f"- **{stage}**: `{spec.component}`" for stage, spec in config.stage_specs()))

try:
    with st.status("Loading models and the catalog…", expanded=False) as box:
        pipeline = get_pipeline(str(path), path.stat().st_mtime)
        box.update(label=f"Ready: {len(pipeline.catalog):,} items on {pipeline.device}", state="complete")
except GenreError as exc:
    st.error(str(exc))
    st.stop()

st.subheader("Try an example profile")
try:
    profiles = load_profiles(config.data)
except GenreError as exc:
    st.error(str(exc))
    profiles = {}
if profiles:
    pid = st.selectbox(
        "Example profile", list(profiles), format_func=lambda p: profiles[p].name or p, key="home_profile"
    )
    if st.button("Recommend", type="primary", key="home_run"):
        try:
            trace = pipeline.run(profile_to_context(profiles[pid], pipeline.catalog))
        except GenreError as exc:
            st.error(str(exc))
        else:
            for note in trace.notices:
                st.info(note)
            rows = [
                {"rank": i.rank, "title": i.title, "score": round(i.score, 3), "reason": i.reason.text}
                for i in trace.items
                if i.reason is not None
            ]
            st.dataframe(rows, hide_index=True, width="stretch")
else:
    st.caption("This config names no example profiles.")
