"""Explorer sign-in: who the visitor is, the sign-in form, and operator-only controls shown disabled to viewers.

The rules live in :mod:`genre.access` (roles, actions, passwords); this module only asks them and draws.
``app.py`` draws :func:`sidebar_panel` and calls :func:`gate` on every page; pages ask :func:`allowed`
before an operator-only action and show :func:`operators_only` beside the control they disable.
A password is never logged, shown or kept: the form clears on submit and a failed attempt logs only a count.
"""

from __future__ import annotations

import importlib.util
import logging
import time
from dataclasses import dataclass

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from genre import GenreError
from genre.access import AccessSettings, Action, Role, SignInMode, can
from pages.common.ui import md_escape

ROLE = "genre_signed_in_role"
"""Session-state key: the role a password signed this browser session in as."""
_ATTEMPTS = "genre_signin_attempts"
MAX_FAILURES = 5
"""Wrong passwords in a row, per browser session, before sign-in pauses."""
LOCKOUT_S = 30.0
"""How long sign-in pauses after ``MAX_FAILURES`` wrong passwords."""

_log = logging.getLogger("genre.explorer.access")


@dataclass
class _Attempts:
    """This session's wrong passwords in a row, and until when sign-in is paused (``time.monotonic``)."""

    failures: int = 0
    paused_until: float = 0.0


@dataclass(frozen=True)
class Access:
    """Who the visitor is on this run: the settings, their role (None: must sign in), or why neither is known."""

    settings: AccessSettings | None
    role: Role | None
    problem: str | None = None


def _oidc_configured() -> bool:
    """Whether ``.streamlit/secrets.toml`` has an ``[auth]`` section (Streamlit's own OIDC sign-in)."""
    try:
        return "auth" in st.secrets
    except StreamlitSecretNotFoundError:
        return False


def access() -> Access:
    """The visitor's role on this run. A misconfiguration is a problem and no role: the explorer refuses
    everybody rather than fall back to "sign-in is off"."""
    try:
        settings = AccessSettings.from_env(oidc=_oidc_configured())
    except GenreError as exc:
        return Access(None, None, f"Sign-in is misconfigured, so nobody can use the explorer: {exc}")
    if settings.mode is SignInMode.OIDC:
        if not st.user.is_logged_in:
            return Access(settings, None)
        # An address the provider has not verified proves nothing about who signed in.
        verified = st.user.get("email_verified") is not False
        email = st.user.get("email")
        return Access(settings, settings.role_for_email(str(email) if verified and email else None))
    signed_in = st.session_state.get(ROLE)
    if settings.mode is SignInMode.PASSWORD and signed_in is not None:
        return Access(settings, Role(signed_in))
    return Access(settings, settings.anonymous_role())


def current_role() -> Role | None:
    """The visitor's role, or None when they have not signed in (or sign-in is misconfigured)."""
    return access().role


def allowed(action: Action) -> bool:
    """Whether the visitor may take ``action`` (with sign-in off, everybody may)."""
    return can(current_role(), action)


def operators_only(action: Action) -> None:
    """The note beside a control a viewer sees disabled."""
    st.caption(f":material/lock: Operators only: sign in as an operator to {action.value}.")


def _sign_in_form(settings: AccessSettings, key: str) -> None:
    """The password form; a correct password signs this browser session in as its role."""
    attempts: _Attempts = st.session_state.setdefault(_ATTEMPTS, _Attempts())
    # clear_on_submit: the typed password does not stay in the session state after the check.
    with st.form(key, clear_on_submit=True, border=False):
        st.text_input("Password", type="password", key=f"{key}_password")
        submitted = st.form_submit_button("Sign in", key=f"{key}_submit", icon=":material/login:")
    if not submitted:
        return
    given = st.session_state.get(f"{key}_password", "")
    wait = attempts.paused_until - time.monotonic()
    if wait > 0:
        st.error(f"Too many wrong passwords: try again in {wait:.0f} s.")
        return
    role = settings.role_for_password(given)
    if role is None:
        attempts.failures += 1
        _log.warning("explorer sign-in failed: wrong password (%d in a row in this browser session)", attempts.failures)
        if attempts.failures >= MAX_FAILURES:
            attempts.failures = 0
            attempts.paused_until = time.monotonic() + LOCKOUT_S
            st.error(f"Wrong password. Too many wrong passwords: sign-in pauses for {LOCKOUT_S:.0f} s.")
        else:
            st.error("Wrong password: it is neither the viewer nor the operator password. Nothing was signed in.")
        return
    attempts.failures = 0
    st.session_state[ROLE] = role.value
    _log.info("explorer sign-in as %s", role.value)
    st.rerun()


def _sign_out() -> None:
    st.session_state.pop(ROLE, None)


def sidebar_panel() -> None:
    """Who the visitor is, in the sidebar, with a sign-in form or a sign-out button (drawn by app.py)."""
    state = access()
    settings = state.settings
    with st.sidebar:
        if settings is None or settings.mode is SignInMode.OFF:
            if settings is not None:
                st.caption(":material/lock_open: Sign-in is off: everyone here is an operator.")
            return
        if settings.mode is SignInMode.OIDC:
            if st.user.is_logged_in:
                who = md_escape(st.user.get("email") or st.user.get("name") or "signed in")
                st.caption(f":material/person: {who} · {state.role.value if state.role else 'viewer'}")
                st.button("Sign out", key="signout_oidc", icon=":material/logout:", on_click=st.logout)
            return
        if state.role is None:
            return  # gate() draws the sign-in form in the page itself
        signed_in = st.session_state.get(ROLE) is not None
        st.caption(f":material/person: {'Signed in' if signed_in else 'Viewing'} as {state.role.value}")
        if signed_in:
            st.button("Sign out", key="signout_password", icon=":material/logout:", on_click=_sign_out)
        if state.role is Role.VIEWER and settings.operator_secret is not None:
            # A viewer, anonymous or signed in with the viewer password, may become an operator here.
            with st.expander("Operator sign-in", expanded=False):
                _sign_in_form(settings, "signin_sidebar")


def gate() -> Role:
    """The visitor's role; a visitor who must sign in first sees the sign-in form (or why nobody can) and the
    page stops there. Every page calls it, so no page is drawn for somebody who has not signed in."""
    state = access()
    if state.role is not None:
        return state.role
    st.title("Sign in")
    if state.problem is not None or state.settings is None:
        st.error(md_escape(state.problem or "Sign-in is misconfigured."))
    elif state.settings.mode is SignInMode.OIDC:
        if importlib.util.find_spec("authlib") is None:
            st.error("Sign-in through OpenID Connect needs Authlib: install it with pip install 'Authlib>=1.3.2'.")
        else:
            st.caption("This explorer signs people in through your organisation's identity provider.")
            st.button("Sign in", key="signin_oidc", type="primary", icon=":material/login:", on_click=st.login)
    else:
        st.caption("This explorer is for signed-in people only: enter the viewer or the operator password.")
        _sign_in_form(state.settings, "signin_main")
    st.stop()
    raise AssertionError("st.stop() returned")  # st.stop ends the run; this line is never reached


def home_note() -> None:
    """The home page's line on sign-in: off, or who the visitor is and what operators alone may do."""
    state = access()
    if state.settings is not None and state.settings.mode is SignInMode.OFF:
        st.info(
            "Sign-in is off: everyone who can open this explorer is an operator and may export every user's "
            "feedback, retrain, roll back and save configs. Set GENRE_OPERATOR_PASSWORD (or sign in through "
            "OpenID Connect) before sharing it.",
            icon=":material/lock_open:",
        )
    elif state.role is Role.VIEWER:
        actions = "; ".join(a.value for a in Action)
        st.caption(f":material/lock: You are a viewer. Operators alone may {actions}.")
