"""genre.access: who may take which action, and the sign-in settings the environment gives."""

from __future__ import annotations

import pytest

from genre.access import (
    MIN_ITERATIONS,
    AccessSettings,
    Action,
    Role,
    SignInMode,
    can,
    hash_password,
)
from genre.core.errors import ConfigError

FAST = MIN_ITERATIONS  # tests hash with the fewest rounds allowed


def test_only_operators_take_any_operator_action():
    for action in Action:
        assert can(Role.OPERATOR, action)
        assert not can(Role.VIEWER, action)
        assert not can(None, action)


def test_nothing_configured_is_sign_in_off_and_everybody_is_an_operator():
    settings = AccessSettings.from_env({})
    assert settings.mode is SignInMode.OFF
    assert settings.anonymous_role() is Role.OPERATOR
    assert settings.role_for_password("anything") is None


def test_an_operator_password_alone_makes_anonymous_visitors_viewers():
    settings = AccessSettings.from_env({"GENRE_OPERATOR_PASSWORD": "s3cret-op"})
    assert settings.mode is SignInMode.PASSWORD
    assert settings.anonymous_role() is Role.VIEWER
    assert settings.role_for_password("s3cret-op") is Role.OPERATOR
    for wrong in ("s3cret-o", "s3cret-op ", "S3CRET-OP", ""):
        assert settings.role_for_password(wrong) is None


def test_a_viewer_password_makes_everybody_sign_in():
    settings = AccessSettings.from_env({"GENRE_OPERATOR_PASSWORD": "op-pw", "GENRE_VIEWER_PASSWORD": "view-pw"})
    assert settings.anonymous_role() is None
    assert settings.role_for_password("view-pw") is Role.VIEWER
    assert settings.role_for_password("op-pw") is Role.OPERATOR
    only_viewers = AccessSettings.from_env({"GENRE_VIEWER_PASSWORD": "view-pw"})
    assert only_viewers.anonymous_role() is None and only_viewers.role_for_password("op-pw") is None


def test_hashed_passwords_check_like_plain_ones_and_unicode_works():
    env = {
        "GENRE_OPERATOR_PASSWORD_HASH": hash_password("pässwörd ✓", iterations=FAST),
        "GENRE_VIEWER_PASSWORD_HASH": hash_password("viewer", iterations=FAST),
    }
    settings = AccessSettings.from_env(env)
    assert settings.role_for_password("pässwörd ✓") is Role.OPERATOR
    assert settings.role_for_password("viewer") is Role.VIEWER
    assert settings.role_for_password("passwort ✓") is None


def test_a_hash_is_salted_so_equal_passwords_hash_apart():
    first, second = hash_password("same", iterations=FAST), hash_password("same", iterations=FAST)
    assert first != second and first.startswith(f"pbkdf2_sha256${FAST}$")
    assert "same" not in first


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"GENRE_OPERATOR_PASSWORD": ""}, "GENRE_OPERATOR_PASSWORD is set but empty"),
        ({"GENRE_VIEWER_PASSWORD": "   "}, "GENRE_VIEWER_PASSWORD is set but empty"),
        ({"GENRE_OPERATOR_PASSWORD_HASH": ""}, "GENRE_OPERATOR_PASSWORD_HASH is set but empty"),
        (
            {"GENRE_OPERATOR_PASSWORD": "a", "GENRE_OPERATOR_PASSWORD_HASH": "b"},
            "either GENRE_OPERATOR_PASSWORD or GENRE_OPERATOR_PASSWORD_HASH",
        ),
        ({"GENRE_OPERATOR_PASSWORD_HASH": "plain-text"}, "GENRE_OPERATOR_PASSWORD_HASH must look like pbkdf2_sha256$"),
        ({"GENRE_OPERATOR_PASSWORD_HASH": "md5$1$c2FsdA==$AAAA"}, "'md5'"),
        ({"GENRE_OPERATOR_PASSWORD_HASH": "pbkdf2_sha256$ten$c2FsdA==$AAAA"}, "GENRE_OPERATOR_PASSWORD_HASH must"),
        ({"GENRE_OPERATOR_PASSWORD_HASH": "pbkdf2_sha256$5000$c2FsdA==$AAAA"}, "32-byte digest (has 3 bytes)"),
    ],
)
def test_a_misconfiguration_is_an_error_naming_the_variable_never_sign_in_off(env, named):
    with pytest.raises(ConfigError) as caught:
        AccessSettings.from_env(env)
    assert named in str(caught.value)


def test_a_hash_with_too_few_rounds_is_refused():
    weak = hash_password("pw", iterations=FAST).replace(f"${FAST}$", "$10$")
    with pytest.raises(ConfigError, match="at least 1,000 iterations"):
        AccessSettings.from_env({"GENRE_OPERATOR_PASSWORD_HASH": weak})
    with pytest.raises(ConfigError, match="at least 1,000; got 10"):
        hash_password("pw", iterations=10)
    with pytest.raises(ConfigError, match="empty password"):
        hash_password("")


def test_oidc_roles_come_from_the_operator_allow_list():
    settings = AccessSettings.from_env(
        {"GENRE_OPERATORS": " Ops@Example.org , second@example.org,", "GENRE_OPERATOR_PASSWORD": "ignored"}, oidc=True
    )
    assert settings.mode is SignInMode.OIDC
    assert settings.anonymous_role() is None  # OIDC: everybody signs in
    assert settings.role_for_email("ops@example.org") is Role.OPERATOR
    assert settings.role_for_email("SECOND@example.org") is Role.OPERATOR
    assert settings.role_for_email("someone@example.org") is Role.VIEWER
    assert settings.role_for_email(None) is Role.VIEWER
    assert settings.role_for_password("ignored") is None  # OIDC wins over a password
    assert AccessSettings.from_env({}, oidc=True).role_for_email("ops@example.org") is Role.VIEWER


def test_hash_password_command_prints_a_hash_the_settings_accept(monkeypatch, capsys):
    import io

    from genre.cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO("piped pass \n"))
    assert main(["hash-password", "--iterations", str(FAST)]) == 0
    out, _ = capsys.readouterr()
    printed = out.strip()
    assert "piped pass" not in printed
    settings = AccessSettings.from_env({"GENRE_OPERATOR_PASSWORD_HASH": printed})
    assert settings.role_for_password("piped pass ") is Role.OPERATOR  # trailing spaces are part of it
    assert settings.role_for_password("piped pass") is None


@pytest.mark.parametrize(
    ("stdin", "args", "message"),
    [
        ("\n", [], "The password is empty"),
        ("pw\n", ["--iterations", "10"], "iterations must be at least 1,000; got 10"),
    ],
)
def test_hash_password_command_refuses_bad_input_with_exit_2(monkeypatch, capsys, stdin, args, message):
    import io

    from genre.cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    assert main(["hash-password", *args]) == 2
    assert message in capsys.readouterr().err
