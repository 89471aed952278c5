"""AppTest for explorer sign-in: viewers see operator-only controls disabled, operators use them, passwords and
OIDC sign people in, and a misconfiguration refuses everybody."""

from __future__ import annotations

import importlib.util
import logging
from datetime import UTC, datetime

import pytest
from streamlit.testing.v1 import AppTest

from genre.core.errors import GenreError
from genre.feedback import FeedbackStore
from genre.feedback.pairwise import Arm, Judgement
from genre.feedback.versions import VersionRegistry
from pages.common.auth import ROLE
from tests.app.conftest import errors, page
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

OPERATOR_PW = "op-Pw-7f3a!"
VIEWER_PW = "view-Pw-19c2"
LOCKED = "Operators only"


@pytest.fixture
def versions_root(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setattr("genre.feedback.versions.cache_dir", lambda: root)
    return root


@pytest.fixture(autouse=True)
def no_sign_in(monkeypatch):
    """Every test starts from a machine with no sign-in configured, whatever the shell exports."""
    for name in ("GENRE_OPERATOR_PASSWORD", "GENRE_VIEWER_PASSWORD", "GENRE_OPERATORS"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name + "_HASH", raising=False)


@pytest.fixture
def quick_home(monkeypatch):
    """The home page without building a pipeline: these tests are about sign-in, not recommending."""

    def not_built(config):
        raise GenreError("pipelines are not built in the sign-in tests")

    monkeypatch.setattr("pages.common.ui.get_pipeline", not_built)


def _two_versions() -> VersionRegistry:
    registry = VersionRegistry("products")
    for events in (3, 5):
        version = registry.reserve()
        (version.folder / "feedback.npz").write_bytes(b"stand-in")
        registry.add(version.model_copy(update={"created_at": datetime(2026, 1, events, tzinfo=UTC)}))
    return registry


def _home() -> AppTest:
    """The whole explorer (app.py) on its home page, where the sidebar's sign-in panel is.

    AppTest runs a page switched to without the entry file (a pages/ folder makes it a v1 multipage app to
    AppTest), so the sidebar is checked here and the pages after switching, with the role the session holds.
    """
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["config_name"] = "products"
    at.run()
    assert not at.exception
    return at


def _to_models(at: AppTest) -> AppTest:
    at.switch_page("pages/5_Models.py").run()
    assert not at.exception
    return at


def _sidebar_notes(at: AppTest) -> list[str]:
    return [c.value for c in at.sidebar.caption]


def _forged_click(at: AppTest, key: str) -> AppTest:
    """Send a click on a disabled button, as a tampered browser could (AppTest's click() refuses to)."""
    at.button(key=key)._value = True
    return at.run()


def _locked_notes(at: AppTest) -> list[str]:
    return [c.value for c in at.caption if LOCKED in c.value]


def _sign_in(at: AppTest, password: str, form: str = "signin_sidebar") -> AppTest:
    at.text_input(key=f"{form}_password").set_value(password)
    return at.button(key=f"{form}_submit").click().run()


def test_sign_in_off_is_said_on_home_and_everybody_is_an_operator(quick_home, versions_root):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception
    assert any("Sign-in is off" in i.value for i in at.info)
    assert any("Sign-in is off" in n for n in _sidebar_notes(at))
    _to_models(at)
    assert not at.button(key="models_update").disabled and not _locked_notes(at)


def test_a_viewer_sees_models_controls_disabled_and_a_forced_click_changes_nothing(
    quick_home, versions_root, monkeypatch
):
    monkeypatch.setenv("GENRE_OPERATOR_PASSWORD", OPERATOR_PW)
    registry = _two_versions()
    updates = []
    monkeypatch.setattr("genre.training.feedback_update.update_models", lambda *a, **k: updates.append(a))
    at = _home()
    assert any("Viewing as viewer" in n for n in _sidebar_notes(at))
    _to_models(at)
    assert at.button(key="models_update").disabled and at.button(key="models_rollback").disabled
    notes = _locked_notes(at)
    assert any("retrain models on stored feedback" in n for n in notes)
    assert any("make another model version current" in n for n in notes)
    assert at.metric[0].value == "v2"  # the version list stays visible to viewers
    # A disabled button is only the browser's promise: a click that reaches the server anyway does nothing.
    _forged_click(at, "models_update")
    at.selectbox(key="models_target").set_value("v1")
    _forged_click(at, "models_rollback")
    assert not at.exception and updates == []
    assert not [w for w in at.warning if "Make v1 current" in w.value]
    assert registry.current_id() == "v2"


def test_a_wrong_password_is_refused_by_message_and_logged_without_the_password(
    quick_home, versions_root, monkeypatch, caplog
):
    monkeypatch.setenv("GENRE_OPERATOR_PASSWORD", OPERATOR_PW)
    at = _home()
    with caplog.at_level(logging.DEBUG):
        _sign_in(at, "not-the-password-xyz")
    assert not at.exception
    assert any("Wrong password" in e for e in errors(at))
    assert any("Viewing as viewer" in n for n in _sidebar_notes(at))
    assert _to_models(at).button(key="models_update").disabled  # still a viewer
    assert "sign-in failed" in caplog.text and "not-the-password-xyz" not in caplog.text


def test_an_operator_signs_in_updates_rolls_back_and_signs_out(quick_home, versions_root, monkeypatch, caplog):
    monkeypatch.setenv("GENRE_OPERATOR_PASSWORD", OPERATOR_PW)
    registry = _two_versions()
    at = _home()
    with caplog.at_level(logging.DEBUG):
        _sign_in(at, OPERATOR_PW)
    assert not at.exception and not [e for e in errors(at) if "Wrong password" in e]
    assert OPERATOR_PW not in caplog.text and "sign-in as operator" in caplog.text
    assert any("Signed in as operator" in n for n in _sidebar_notes(at))
    at.button(key="signout_password").click().run()
    assert any("Viewing as viewer" in n for n in _sidebar_notes(at))
    _sign_in(at, OPERATOR_PW)
    _to_models(at)
    assert not at.button(key="models_update").disabled and not _locked_notes(at)
    at.selectbox(key="models_target").set_value("v1")
    at.button(key="models_rollback").click().run()
    at.button(key="models_rollback_yes").click().run()
    assert not at.exception and registry.current_id() == "v1"


def test_five_wrong_passwords_pause_sign_in_even_for_the_right_one(quick_home, versions_root, monkeypatch):
    monkeypatch.setenv("GENRE_OPERATOR_PASSWORD", OPERATOR_PW)
    at = _home()
    for _ in range(4):
        _sign_in(at, "guess")
    assert any("Wrong password: it is neither" in e for e in errors(at))
    _sign_in(at, "guess")
    assert any("sign-in pauses for 30 s" in e for e in errors(at))
    _sign_in(at, OPERATOR_PW)
    assert any("Too many wrong passwords: try again in" in e for e in errors(at))
    assert any("Viewing as viewer" in n for n in _sidebar_notes(at))


def test_with_a_viewer_password_nobody_sees_a_page_before_signing_in(quick_home, versions_root, monkeypatch):
    monkeypatch.setenv("GENRE_VIEWER_PASSWORD", VIEWER_PW)
    monkeypatch.setenv("GENRE_OPERATOR_PASSWORD", OPERATOR_PW)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Sign in"]  # and nothing of the home page
    _sign_in(at, "wrong", form="signin_main")
    assert any("Wrong password" in e for e in errors(at)) and [t.value for t in at.title] == ["Sign in"]
    _sign_in(at, VIEWER_PW, form="signin_main")
    assert not at.exception and at.title[0].value == "GENRE"
    assert any("You are a viewer" in c.value for c in at.caption)
    assert any("Signed in as viewer" in n for n in _sidebar_notes(at))
    _sign_in(at, OPERATOR_PW)  # a signed-in viewer can still become an operator from the sidebar
    assert any("Signed in as operator" in n for n in _sidebar_notes(at))
    assert "signin_sidebar_submit" not in [b.key for b in at.button]
    # The page file run on its own stops at the same form.
    alone = page("pages/5_Models.py", "products")
    alone.run()
    assert [t.value for t in alone.title] == ["Sign in"]
    assert "models_update" not in [b.key for b in alone.button]


def test_a_misconfigured_password_refuses_everybody_naming_the_variable(quick_home, monkeypatch):
    monkeypatch.setenv("GENRE_OPERATOR_PASSWORD", "")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception
    assert any("GENRE_OPERATOR_PASSWORD is set but empty" in e for e in errors(at))
    assert [t.value for t in at.title] == ["Sign in"]
    alone = page("pages/5_Models.py", "products")
    alone.run()
    assert "models_update" not in [b.key for b in alone.button]


def _oidc_app(monkeypatch, user: dict, authlib: bool = True) -> AppTest:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: (object() if authlib else None) if name == "authlib" else real(name, *a),
    )
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32}
    at.user = user
    at.session_state["config_name"] = "products"
    return at


def test_oidc_asks_to_sign_in_and_roles_follow_the_operator_list(quick_home, versions_root, monkeypatch):
    monkeypatch.setenv("GENRE_OPERATORS", "ops@example.org")
    at = _oidc_app(monkeypatch, {"is_logged_in": False})
    at.run()
    assert not at.exception and [t.value for t in at.title] == ["Sign in"]
    assert at.button(key="signin_oidc").label == "Sign in"

    missing = _oidc_app(monkeypatch, {"is_logged_in": False}, authlib=False)
    missing.run()
    assert any("needs Authlib" in e for e in errors(missing))

    for email, role in (("Ops@Example.org", "operator"), ("someone@example.org", "viewer")):
        at = _oidc_app(monkeypatch, {"is_logged_in": True, "email": email, "email_verified": True})
        at.run()
        assert not at.exception and at.title[0].value == "GENRE"
        assert any(email in n.replace("\\", "") and role in n for n in _sidebar_notes(at))
        _to_models(at)
        assert at.button(key="models_update").disabled is (role == "viewer")
    leaving = _oidc_app(monkeypatch, {"is_logged_in": True, "email": "ops@example.org"})
    leaving.run()
    leaving.button(key="signout_oidc").click().run()
    assert not leaving.exception and [t.value for t in leaving.title] == ["Sign in"]

    unverified = _oidc_app(monkeypatch, {"is_logged_in": True, "email": "ops@example.org", "email_verified": False})
    unverified.run()
    assert _to_models(unverified).button(key="models_update").disabled


def _review_data(url: str) -> None:
    with FeedbackStore(url) as store:
        store.add_event("alice", "p1", "like", config_name="products")
        store.save_judgements(
            [
                Judgement(
                    reviewer="Ada",
                    item_id="p1",
                    arm_a=Arm(generator="template", config_name="products"),
                    arm_b=Arm(generator="grounded", config_name="products"),
                    left="a",
                    choice="a",
                    comment="a private remark by Ada",
                    reason_a="first",
                    reason_b="second",
                )
            ]
        )


def _pairwise_review(role: str | None) -> AppTest:
    at = page("pages/3_Review.py", "products")
    at.session_state["review_mode"] = "Blind side by side"
    if role is not None:
        at.session_state[ROLE] = role
    at.run()
    assert not at.exception
    return at


def test_a_viewer_cannot_export_read_every_comment_or_save_a_config_copy(store_url, saved_configs, monkeypatch):
    _review_data(store_url)
    monkeypatch.setenv("GENRE_OPERATOR_PASSWORD", OPERATOR_PW)
    exported = []
    for name in ("export_csv", "export_jsonl", "export_judgements"):
        monkeypatch.setattr(FeedbackStore, name, lambda self, *a, _n=name, **k: exported.append(_n))
    at = _pairwise_review(None)
    buttons = at.get("download_button")
    assert len(buttons) == 4 and all(b.proto.disabled for b in buttons)
    assert exported == []  # nothing was written, so nothing reached the browser
    assert not [d for d in at.dataframe if "comment" in d.value.columns]
    notes = _locked_notes(at)
    assert any("export every user's feedback and reviews" in n for n in notes)
    assert any("1 comment from every reviewer" in c.value for c in at.caption)
    prefer = at.button(key="review_prefer_save_products")
    assert prefer.disabled and any("save a shared pipeline config" in n for n in notes)
    at.text_input(key="review_prefer_name_products").set_value("products-mine").run()
    _forged_click(at, "review_prefer_save_products")
    assert sorted(p.name for p in saved_configs.iterdir()) == ["movies-fast.toml"]


def test_an_operator_exports_and_reads_every_comment(store_url, saved_configs, monkeypatch):
    _review_data(store_url)
    monkeypatch.setenv("GENRE_OPERATOR_PASSWORD", OPERATOR_PW)
    at = _pairwise_review("operator")
    buttons = at.get("download_button")
    assert len(buttons) == 4 and not any(b.proto.disabled for b in buttons)
    comments = next(d.value for d in at.dataframe if "comment" in d.value.columns)
    assert list(comments["comment"]) == ["a private remark by Ada"]
    assert not _locked_notes(at)
    at.text_input(key="review_prefer_name_products").set_value("products-mine")
    at.button(key="review_prefer_save_products").click().run()
    assert not errors(at) and (saved_configs / "products-mine.toml").exists()


def test_a_viewer_cannot_save_a_tuned_config_and_an_operator_can(saved_configs, monkeypatch):
    monkeypatch.setenv("GENRE_OPERATOR_PASSWORD", OPERATOR_PW)
    for role, saves in ((None, False), ("operator", True)):
        at = page("pages/2_Tune.py", "products")
        if role is not None:
            at.session_state[ROLE] = role
        at.run()
        assert not at.exception
        assert at.button(key="tune_save").disabled is not saves
        assert bool(_locked_notes(at)) is not saves
        at.text_input(key="tune_save_name").set_value("products-saved").run()
        _forged_click(at, "tune_save")
        assert (saved_configs / "products-saved.toml").exists() is saves
