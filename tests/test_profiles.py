import json

import pytest

from genre.core.errors import DataError, InputError
from genre.data.profiles import (
    Profile,
    TitleIndex,
    history_from_titles,
    profile_to_context,
    read_profile_file,
    read_profiles,
)


def test_title_lookup_is_case_and_article_insensitive(tiny_catalog):
    idx = TitleIndex(tiny_catalog)
    assert idx.find("alpine tent") == 0
    assert idx.find("  CHEF KNIFE ") == 3


def test_unknown_titles_are_named_with_suggestions(tiny_catalog):
    with pytest.raises(InputError) as exc:
        history_from_titles(["Alpine Tnet", "Chef Knife", "Zzz"], tiny_catalog)
    msg = str(exc.value)
    assert "'Alpine Tnet' (did you mean: Alpine Tent" in msg
    assert "'Zzz'" in msg and "Chef Knife'" not in msg


def test_history_keeps_order(tiny_catalog):
    events = history_from_titles(["Burr Grinder", "Alpine Tent", " "], tiny_catalog)
    assert [e.item_id for e in events] == ["g", "a"]


def test_profile_entries_need_exactly_one_key():
    with pytest.raises(ValueError, match="exactly one of item_id or title"):
        Profile.model_validate({"history": [{"item_id": "a", "title": "Alpine Tent"}]})


def test_profile_to_context_mixes_ids_and_titles(tiny_catalog):
    p = Profile(profile="hi", history=[{"item_id": "d"}, {"title": "Pour Over Kettle"}])
    ctx = profile_to_context(p, tiny_catalog)
    assert [e.item_id for e in ctx.history] == ["d", "f"] and ctx.profile == "hi"
    with pytest.raises(InputError, match="item ids not in the tiny catalog: q"):
        profile_to_context(Profile(history=[{"item_id": "q"}]), tiny_catalog)


def test_profile_files(tmp_path):
    txt = tmp_path / "p.txt"
    txt.write_text("I like coffee.\n")
    assert read_profile_file(txt).profile == "I like coffee.\n"
    bad = tmp_path / "p.json"
    bad.write_text(json.dumps({"profile": "x", "hobbies": []}))
    with pytest.raises(InputError, match="hobbies"):
        read_profile_file(bad)
    binary = tmp_path / "p.bin"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(InputError, match="not UTF-8"):
        read_profile_file(binary)
    with pytest.raises(InputError, match="cannot read profile file"):
        read_profile_file(tmp_path / "missing.txt")


def test_profiles_file_errors(tmp_path):
    p = tmp_path / "profiles.json"
    p.write_text("{")
    with pytest.raises(DataError, match="not valid JSON"):
        read_profiles(p)
    p.write_text(json.dumps([{"profile_id": "x", "history": [{"nope": 1}]}]))
    with pytest.raises(DataError, match="profile #1"):
        read_profiles(p)
