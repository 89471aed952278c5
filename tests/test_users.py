"""Every profile source -> UserContext (genre.data.users), its limits, and the feedback user key."""

from __future__ import annotations

import json

import numpy as np
import pytest

from genre.core.errors import InputError
from genre.core.types import Catalog, Constraints, Interactions, UserContext
from genre.data.history_csv import MAX_HISTORY_ROWS
from genre.data.profiles import Profile
from genre.data.users import (
    MAX_COMMENT_CHARS,
    MAX_PROFILE_CHARS,
    FeedbackUser,
    built_profile_context,
    check_length,
    dataset_user_context,
    dataset_user_ids,
    example_profile_context,
    feedback_key,
    new_session_id,
    own_profile_user,
    parse_feedback_key,
    profile_file_context,
    uploaded_history_context,
    user_or_profile_context,
    with_request,
)
from genre.feedback.versions import dataset_user


@pytest.fixture
def users_catalog(tiny_catalog) -> Catalog:
    """The tiny catalog with three numbered users (ids sort differently as text and as numbers)."""
    events = [("10", "a", 3.0), ("10", "b", 1.0), ("2", "d", 2.0), ("1", "f", 5.0)]
    inter = Interactions(
        np.array([u for u, _, _ in events]),
        np.array([tiny_catalog.index_of(i) for _, i, _ in events], dtype=np.int64),
        np.array([t for _, _, t in events]),
        np.array([4.0, 5.0, 3.0, 2.0]),
    )
    return Catalog(name="tiny", items=tiny_catalog.items, interactions=inter)


PROFILES = {
    "camper": Profile(profile_id="camper", profile="Loves the outdoors", history=[{"title": "alpine tent"}]),
    "cheap": Profile(profile_id="cheap", constraints=Constraints(price_max=100.0, categories=["Kitchen"])),
}


def test_dataset_users_are_listed_in_numeric_order_and_read_oldest_first(users_catalog, tiny_catalog):
    assert dataset_user_ids(users_catalog) == ["1", "2", "10"]
    assert dataset_user_ids(tiny_catalog) == []
    ctx = dataset_user_context(users_catalog, " 10 ")
    assert ctx.user_id == "10" and [e.item_id for e in ctx.history] == ["b", "a"]
    with pytest.raises(InputError, match=r"unknown user id '7' in tiny; valid ids are 1\.\.10"):
        dataset_user_context(users_catalog, "7")
    with pytest.raises(InputError, match="enter a user id of tiny"):
        dataset_user_context(users_catalog, "  ")


def test_example_profiles_resolve_titles_and_unknown_ids_name_the_choices(tiny_catalog):
    ctx = example_profile_context(tiny_catalog, PROFILES, "camper")
    assert ctx.user_id == "camper" and [e.item_id for e in ctx.history] == ["a"]
    with pytest.raises(InputError, match="unknown example profile 'hiker'; example profiles: camper, cheap"):
        example_profile_context(tiny_catalog, PROFILES, "hiker")
    long = {"long": Profile(profile_id="long", profile="x" * (MAX_PROFILE_CHARS + 1))}
    with pytest.raises(InputError, match="20,001 characters long; the limit is 20,000"):
        example_profile_context(tiny_catalog, long, "long")


def test_user_or_profile_prefers_a_profile_then_a_dataset_user(users_catalog, tiny_catalog):
    assert user_or_profile_context(users_catalog, PROFILES, "camper").user_id == "camper"
    assert user_or_profile_context(users_catalog, PROFILES, "2").user_id == "2"
    with pytest.raises(InputError, match=r"unknown user id '99'.*; example profiles: camper, cheap"):
        user_or_profile_context(users_catalog, PROFILES, "99")
    with pytest.raises(InputError, match="unknown user '2': tiny has no user data; example profiles: camper"):
        user_or_profile_context(tiny_catalog, PROFILES, "2")


def test_built_profile_takes_ids_or_titles_in_order_and_refuses_over_limit_text(tiny_catalog):
    ctx = built_profile_context(tiny_catalog, item_ids=["g", "a"], text="  coffee at home ")
    assert [e.item_id for e in ctx.history] == ["g", "a"] and ctx.profile == "coffee at home"
    ctx = built_profile_context(tiny_catalog, titles=["Burr Grinder", "chef knife"])
    assert [e.item_id for e in ctx.history] == ["g", "d"]
    with pytest.raises(InputError, match="item ids not in the tiny catalog: 'zz'"):
        built_profile_context(tiny_catalog, item_ids=["a", "zz"])
    with pytest.raises(InputError, match="did you mean: Alpine Tent"):
        built_profile_context(tiny_catalog, titles=["Alpine Tnet"])
    assert built_profile_context(tiny_catalog, text="x" * MAX_PROFILE_CHARS).profile == "x" * MAX_PROFILE_CHARS
    with pytest.raises(InputError) as err:
        built_profile_context(tiny_catalog, text="x" * (MAX_PROFILE_CHARS + 1))
    assert str(err.value) == "the free-text profile is 20,001 characters long; the limit is 20,000"
    with pytest.raises(InputError, match=f"the limit is {MAX_HISTORY_ROWS:,}"):
        built_profile_context(tiny_catalog, item_ids=["a"] * (MAX_HISTORY_ROWS + 1))


def test_uploaded_csv_becomes_the_history(tiny_catalog):
    ctx = uploaded_history_context(tiny_catalog, b"title,rating\r\nChef Knife,4\r\n")
    assert [(e.item_id, e.rating) for e in ctx.history] == [("d", 4.0)] and ctx.profile == ""
    with pytest.raises(InputError, match="line 2: no item titled 'Nope'"):
        uploaded_history_context(tiny_catalog, b"title\nNope\n")


def test_profile_files_by_path_or_upload(tiny_catalog, tmp_path):
    path = tmp_path / "me.json"
    path.write_text(json.dumps({"profile": "coffee", "history": [{"item_id": "f"}]}))
    ctx = profile_file_context(tiny_catalog, path)
    assert ctx.profile == "coffee" and [e.item_id for e in ctx.history] == ["f"]
    assert profile_file_context(tiny_catalog, b"just text, no JSON", "notes.txt").profile == "just text, no JSON"
    with pytest.raises(InputError, match=r"profile file me\.json: hobbies"):
        profile_file_context(tiny_catalog, b'{"hobbies": []}', "me.json")
    with pytest.raises(InputError, match="not UTF-8"):
        profile_file_context(tiny_catalog, b"\xff\xfe", "me.txt")
    with pytest.raises(InputError, match=r"profile file big\.txt is 20,001 characters long; the limit is 20,000"):
        profile_file_context(tiny_catalog, b"y" * (MAX_PROFILE_CHARS + 1), "big.txt")


def test_request_filters_win_over_the_profiles_own_and_are_checked_in_the_users_terms(tiny_catalog):
    own = example_profile_context(tiny_catalog, PROFILES, "cheap")
    assert with_request(own) is own
    merged = with_request(own, price_min=20.0)
    assert merged.constraints == Constraints(price_min=20.0, price_max=100.0, categories=["Kitchen"])
    merged = with_request(own, price_max=50.0, categories=["Coffee"], profile=" espresso ")
    assert merged.constraints == Constraints(price_max=50.0, categories=["Coffee"]) and merged.profile == "espresso"
    with pytest.raises(InputError) as err:
        with_request(UserContext(), price_min=200.0, price_max=100.0)
    assert str(err.value) == (
        "the lowest price (200) is higher than the highest price (100); price_min must not exceed price_max"
    )
    with pytest.raises(InputError, match=r"the lowest price \(150\) is higher than the highest price \(100\)"):
        with_request(own, price_min=150.0)  # against the profile's own maximum
    with pytest.raises(InputError, match=r"the highest price must be 0 or more; got -5 \(price_max\)"):
        with_request(UserContext(), price_max=-5.0)
    with pytest.raises(InputError, match="the limit is 20,000"):
        with_request(UserContext(), profile="z" * (MAX_PROFILE_CHARS + 1))


def test_check_length_names_what_and_the_limit():
    assert check_length("ok", "the comment", MAX_COMMENT_CHARS) == "ok"
    with pytest.raises(InputError, match="the comment on item 2 is 1,001 characters long; the limit is 1,000"):
        check_length("c" * 1001, "the comment on item 2", MAX_COMMENT_CHARS)


@pytest.mark.parametrize(
    ("user", "key"),
    [
        (FeedbackUser("dataset", "ml-100k", "196"), "ml-100k:196"),
        (FeedbackUser("dataset", None, "196"), "196"),
        (FeedbackUser("profile", "products", "trail-runner"), "products:profile:trail-runner"),
        (FeedbackUser("named", "products", "Maya: trails"), "products:named:Maya: trails"),
        (FeedbackUser("session", "news", "ab12"), "news:session:ab12"),
        (FeedbackUser("reviewer", "products", "user:1"), "products:reviewer:user:1"),
    ],
)
def test_feedback_keys_round_trip(user, key):
    assert user.key == key
    assert parse_feedback_key(key) == user


def test_feedback_keys_refuse_what_they_could_not_read_back():
    with pytest.raises(InputError, match="contain no ':'"):
        feedback_key("dataset", "a:b", "1")
    with pytest.raises(InputError, match="non-empty id"):
        feedback_key("session", "news", " ")
    with pytest.raises(InputError, match="the profile name is 65 characters long; the limit is 64"):
        feedback_key("named", "news", "n" * 65)
    with pytest.raises(InputError, match="valid kinds: dataset, profile, named, session, reviewer"):
        feedback_key("robot", "news", "1")  # type: ignore[arg-type]
    assert parse_feedback_key("explorer") == FeedbackUser("dataset", None, "explorer")


def test_session_ids_differ_so_two_visitors_never_share_feedback():
    ids = {new_session_id() for _ in range(50)}
    assert len(ids) == 50 and all(len(i) == 32 for i in ids)


def test_own_profiles_belong_to_their_name_else_to_the_browser_session():
    assert own_profile_user("news", "  Maya ", "s1").key == "news:named:Maya"
    assert own_profile_user("news", "", "s1").key == "news:session:s1"
    assert own_profile_user("news", " ", "s2").key != own_profile_user("news", " ", "s1").key
    with pytest.raises(InputError, match="the profile name is 65 characters long; the limit is 64"):
        own_profile_user("news", "n" * 65, "s1")


def test_only_dataset_keys_of_this_catalog_map_to_dataset_users(users_catalog):
    known = {"1", "2", "10"}
    assert dataset_user(feedback_key("dataset", "tiny", "10"), users_catalog, known) == "10"
    assert dataset_user("other:10", users_catalog, known) == "other:10"
    for kind in ("profile", "named", "session", "reviewer"):
        key = feedback_key(kind, "tiny", "10")
        assert dataset_user(key, users_catalog, known) == key
