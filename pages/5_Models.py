"""Models: a config's model versions. List them, retrain on stored feedback, and make another one current.

The same library calls as `python -m genre versions|update|rollback` (genre/cli/models.py).
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

import streamlit as st

from genre import GenreError
from genre.access import Action
from genre.feedback.versions import BASE, ModelVersion, VersionRegistry
from genre.training.feedback_update import update_models
from pages.common.auth import allowed, gate, operators_only
from pages.common.ui import get_store, md_escape, pick_config, reset_pipelines, show_error, show_info

st.set_page_config(page_title="GENRE · Models", page_icon="🗂️", layout="wide")
gate()
st.title("Models")
st.caption(
    "Retrain a config's learned components on the feedback stored so far (a new model version), and make any "
    "version, or the base training, current. The command line does the same with `python -m genre versions`, "
    "`update` and `rollback`."
)

picked = pick_config("models_config")
if picked is None:
    st.stop()
_, config = picked
registry = VersionRegistry(config.name)
_CONFIRM = "models_confirm"
_NOTE = "models_note"

# Drawn last, so an update or a rollback made below is already in it.
listing = st.container()


def version_rows(versions: list[ModelVersion], current: str | None) -> list[dict[str, Any]]:
    """The `versions` command's table, one row per version, oldest first."""
    return [
        {
            "current": v.version_id == current,
            "version": v.version_id,
            "created (UTC)": f"{v.created_at.astimezone(UTC):%Y-%m-%d %H:%M}",
            "from": v.parent or BASE,
            "feedback events": v.feedback_events,
            "positives": v.positives,
            "negatives": v.negatives,
            "users": v.users,
            "new users": v.new_users,
            "epochs": v.warm_start_epochs,
            "seconds": v.seconds,
            "data": v.data_hash,
        }
        for v in versions
    ]


def read_registry() -> tuple[list[ModelVersion], str | None] | None:
    try:
        return registry.list(), registry.current_id()
    except GenreError as exc:
        show_error(exc)
        return None


# ---- update ----------------------------------------------------------------------------------
st.subheader("Update from stored feedback")
st.caption(
    "Folds every like, dislike and rating stored for this config into the training data and continues "
    "training the learned components from the current version. It takes as long as training them."
)
col_epochs, col_force = st.columns(2)
epochs = int(
    col_epochs.number_input(
        "Epochs of warm-started training", min_value=1, max_value=50, value=3, step=1, key="models_epochs"
    )
)
force = col_force.checkbox("Retrain even when no feedback is new", key="models_force")
may_retrain = allowed(Action.RETRAIN)
clicked = st.button(
    "Update", type="primary", key="models_update", icon=":material/model_training:", disabled=not may_retrain
)
if not may_retrain:
    operators_only(Action.RETRAIN)
# Asked again at the click: the rule decides, not only the widget (Streamlit also drops a disabled widget's clicks).
if clicked and may_retrain:
    store = get_store()
    if store is None:
        show_error("Updating needs the feedback store, which cannot be opened now (see the warning above).")
    else:
        with st.status(md_escape(f"Updating {config.name}…"), expanded=True) as box:

            def log(message: str) -> None:
                box.markdown(md_escape(message))

            try:
                version = update_models(config, store, epochs=epochs, force=force, log=log)
            except (GenreError, OSError) as exc:
                box.update(label="Update failed", state="error")
                show_error(f"Update failed: {exc}")
            else:
                if version is None:
                    box.update(label="Nothing to update", state="complete")
                    show_info("No new feedback since the current version; tick the box above to retrain anyway.")
                else:
                    box.update(label=md_escape(f"Model version {version.version_id} is current"), state="complete")
                    reset_pipelines()  # every page builds the new version from now on
                    st.success(md_escape(f"Model version {version.version_id} is current ({version.seconds:.1f} s)."))

# ---- rollback ------------------------------------------------------------------------------------


def ask_rollback() -> None:
    """Button callback: ask before moving the current version to the chosen one (answered on this run)."""
    if allowed(Action.ROLLBACK):
        st.session_state[_CONFIRM] = (config.name, st.session_state["models_target"])


def answer_rollback(target: str | None) -> None:
    """Button callback: ``target`` is made current; None keeps the current one. Runs before the page is drawn."""
    st.session_state.pop(_CONFIRM, None)
    if target is None:
        st.session_state[_NOTE] = ("info", "Nothing changed.")
        return
    if not allowed(Action.ROLLBACK):
        st.session_state[_NOTE] = ("error", f"Nothing changed: only operators may {Action.ROLLBACK.value}.")
        return
    try:
        registry.set_current(target)
    except (GenreError, OSError) as exc:
        st.session_state[_NOTE] = ("error", f"Rollback failed: {exc}")
    else:
        reset_pipelines()  # every page builds this version from now on
        st.session_state[_NOTE] = ("ok", f"{target} is current for {config.name}.")


st.subheader("Roll back")
note = st.session_state.pop(_NOTE, None)
if note is not None:
    {"ok": st.success, "info": st.info, "error": st.error}[note[0]](md_escape(note[1]))
state = read_registry()
if state is not None:
    versions, current = state
    targets = [t for t in [BASE, *(v.version_id for v in versions)] if t != (current or BASE)]
    if not targets:
        st.caption("There is no other version to make current yet.")
    else:
        st.selectbox(
            "Make this version current",
            targets,
            key="models_target",
            format_func=lambda t: "base (the training without feedback)" if t == BASE else t,
        )
        may_roll_back = allowed(Action.ROLLBACK)
        st.button(
            "Roll back…",
            key="models_rollback",
            icon=":material/history:",
            on_click=ask_rollback,
            disabled=not may_roll_back,
        )
        if not may_roll_back:
            operators_only(Action.ROLLBACK)
        pending = st.session_state.get(_CONFIRM)
        if pending is not None and pending[0] == config.name:
            chosen = pending[1]
            st.warning(
                md_escape(
                    f"Make {chosen} current for {config.name} (now {current or BASE})? Every pipeline built for "
                    "this config from now on loads it, in every browser session; the other versions stay."
                )
            )
            yes, no = st.columns(2)
            yes.button(
                f"Yes, make {chosen} current",
                key="models_rollback_yes",
                type="primary",
                on_click=answer_rollback,
                args=(chosen,),
            )
            no.button("Cancel", key="models_rollback_no", on_click=answer_rollback, args=(None,))

# ---- the list (drawn at the top) ---------------------------------------------------------------
with listing:
    st.subheader("Versions")
    state = read_registry()
    if state is not None:
        versions, current = state
        st.metric("Current version", current or "base")
        if versions:
            st.dataframe(version_rows(versions, current), hide_index=True, width="stretch", key="models_versions")
        else:
            st.caption("No model versions yet: Update below makes one from the stored feedback.")
