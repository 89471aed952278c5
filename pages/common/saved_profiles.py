"""Save and load a hand-built profile on Recommend: its history, free text and filters, in the feedback store.

Profiles are kept under the page's feedback user key for a built profile (the profile name the
visitor typed, else this browser session), so a visitor sees their own saved profiles only.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import streamlit as st

from genre import GenreError
from genre.core.types import Catalog
from pages.common.ui import md_escape, show_error

MAX_SAVED_NAME_CHARS = 80
"""Longest name a saved profile may have."""
PAYLOAD_VERSION = 1
"""Version of the saved payload's layout, stored with it so a later layout can read older ones."""

# The Recommend widgets a saved profile restores, by payload field.
FIELDS = {
    "history": "rec_history",
    "text": "rec_text",
    "categories": "rec_categories",
    "price_min": "rec_price_min",
    "price_max": "rec_price_max",
}
_NOTE = "rec_saved_note"
_CONFIRM = "rec_save_confirm"


def saved_name_problem(name: str) -> str | None:
    """What is wrong with a name to save a profile under, or None."""
    if not name.strip():
        return "Name the profile to save it (the name is empty)."
    bad = sorted({f"U+{ord(c):04X}" for c in name if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")})
    if bad:
        return f"A profile name cannot hold control or invisible characters; found {', '.join(bad)}."
    if len(name) > MAX_SAVED_NAME_CHARS:
        return f"A profile name has at most {MAX_SAVED_NAME_CHARS} characters; this one has {len(name)}."
    return None


def profile_payload(catalog: Catalog) -> dict[str, Any]:
    """What the page's profile widgets hold now, as a JSON-safe payload."""
    state = st.session_state
    return {
        "version": PAYLOAD_VERSION,
        "catalog": catalog.name,
        "history": list(state.get(FIELDS["history"]) or []),
        "text": state.get(FIELDS["text"]) or "",
        "categories": list(state.get(FIELDS["categories"]) or []),
        "price_min": state.get(FIELDS["price_min"]),
        "price_max": state.get(FIELDS["price_max"]),
    }


def _load(store: Any, owner: str, catalog: Catalog) -> None:
    """Button callback (runs before the widgets are drawn): put the chosen saved profile into the page's widgets."""
    name = st.session_state.get("rec_saved_pick") or ""
    try:
        payload = store.load_profile(owner, name)
    except GenreError as exc:
        st.session_state[_NOTE] = ("error", f"Could not load {name!r}: {exc}")
        return
    known = {item.item_id for item in catalog.items}
    categories = {c for item in catalog.items for c in item.categories}
    history = [i for i in payload.get("history", []) if i in known]
    chosen = [c for c in payload.get("categories", []) if c in categories]
    state = st.session_state
    state["rec_source"] = "Build a profile"
    state[FIELDS["history"]] = history
    state[FIELDS["text"]] = str(payload.get("text") or "")
    state[FIELDS["categories"]] = chosen
    for bound in ("price_min", "price_max"):
        value = payload.get(bound)
        state[FIELDS[bound]] = float(value) if isinstance(value, int | float) else None
    dropped = len(payload.get("history", [])) - len(history) + len(payload.get("categories", [])) - len(chosen)
    tail = f"; {dropped} items or categories not in the {catalog.name} catalog were left out" if dropped else ""
    state[_NOTE] = ("ok", f"Loaded {name!r}{tail}. Press Recommend to run it.")


def _save(store: Any, owner: str, name: str, catalog: Catalog) -> None:
    """Save the page's profile as ``name``; the outcome is shown at the top of the panel."""
    st.session_state.pop(_CONFIRM, None)
    try:
        store.save_profile(owner, name, profile_payload(catalog))
    except GenreError as exc:
        st.session_state[_NOTE] = ("error", f"Could not save {name!r}: {exc}")
    else:
        st.session_state[_NOTE] = ("ok", f"Saved the profile as {name!r}.")


def _keep(name: str) -> None:
    """Button callback: the visitor chose not to overwrite ``name``."""
    st.session_state.pop(_CONFIRM, None)
    st.session_state[_NOTE] = ("info", f"Nothing was overwritten; {name!r} is as it was.")


def _ask_save(store: Any, owner: str, catalog: Catalog) -> None:
    """Save button callback: refuse a bad name, ask before overwriting, else save."""
    st.session_state.pop(_CONFIRM, None)
    name = st.session_state.get("rec_save_name", "")
    problem = saved_name_problem(name)
    if problem is not None:
        st.session_state[_NOTE] = ("error", problem)
        return
    try:
        exists = name in store.list_profiles(owner)
    except GenreError as exc:
        st.session_state[_NOTE] = ("error", f"Could not save {name!r}: {exc}")
        return
    if exists:
        st.session_state[_CONFIRM] = name
    else:
        _save(store, owner, name, catalog)


def saved_profiles_panel(store: Any | None, owner: str, named: bool, catalog: Catalog) -> None:
    """Save the built profile under a name (asking before overwriting one) and load a saved one."""
    with st.expander("Save or load this profile", expanded=False):
        note = st.session_state.pop(_NOTE, None)
        if note is not None:
            {"ok": st.success, "info": st.info, "error": st.error}[note[0]](md_escape(note[1]))
        if store is None:
            st.info("Saving profiles needs the feedback store, which cannot be opened now (see the warning above).")
            return
        st.caption(
            "Kept under the profile name above, across visits."
            if named
            else "Kept for this browser session; give the profile a name above to keep them across visits."
        )
        try:
            saved = store.list_profiles(owner)
        except GenreError as exc:
            show_error(f"Saved profiles cannot be listed: {exc}")
            return
        st.text_input("Save as", key="rec_save_name", help=f"Up to {MAX_SAVED_NAME_CHARS} characters.")
        # Callbacks run before the panel is drawn, so what it shows is already the outcome of the click.
        st.button(
            "Save profile",
            key="rec_save_profile",
            icon=":material/save:",
            on_click=_ask_save,
            args=(store, owner, catalog),
        )
        pending = st.session_state.get(_CONFIRM)
        if pending is not None:
            st.warning(md_escape(f"A profile named {pending!r} is saved already. Overwrite it with this one?"))
            yes, no = st.columns(2)
            yes.button(
                "Overwrite",
                key="rec_save_overwrite",
                type="primary",
                on_click=_save,
                args=(store, owner, pending, catalog),
            )
            no.button("Keep the saved one", key="rec_save_cancel", on_click=_keep, args=(pending,))
        if saved:
            st.selectbox("Saved profiles", saved, key="rec_saved_pick")
            st.button(
                "Load",
                key="rec_load_profile",
                icon=":material/upload:",
                on_click=_load,
                args=(store, owner, catalog),
                help="Replaces the history, the free text and the filters with the saved ones.",
            )
        else:
            st.caption("No saved profiles yet.")
