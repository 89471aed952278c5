"""The explorer's glue without a page run: safe text, session end, where configs are saved, serving config."""

from __future__ import annotations

import tomllib
from typing import ClassVar

import pytest

from pages.common import ui
from pages.common.ui import md_escape
from tests.conftest import ROOT


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("B*A*P*S (1997)", r"B\*A\*P\*S (1997)"),
        ("![a](http://e/x.png)", r"\!\[a\](http\://e/x.png)"),
        ("$x^2$ costs $5", r"\$x^2\$ costs \$5"),
        ("<script>alert(1)</script>", r"\<script\>alert(1)\</script\>"),
        ("_em_ and snake_case_name", r"\_em\_ and snake_case_name"),
        ("~~gone~~ a|b `code`", r"\~\~gone\~\~ a\|b \`code\`"),
        (
            ":rocket: :red[alarm] see https://x.org or www.x.org",
            r"\:rocket: \:red\[alarm\] see https\://x.org or www\.x.org",
        ),
        ("mail me@x.org &amp; more & less", r"mail me\@x.org \&amp; more & less"),
        ("# heading", r"\# heading"),
        ("- item", r"\- item"),
        ("12. numbered", r"12\. numbered"),
        ("two\nlines\r\nhere", "two lines here"),
        (r"back\slash", r"back\\slash"),
    ],
)
def test_md_escape_leaves_only_plain_text(text, shown):
    assert md_escape(text) == shown


def test_the_cancel_event_is_set_once_the_session_has_gone(monkeypatch):
    from pages.common import ui

    class Ctx:
        session_id = "tab-1"

    class FakeRuntime:
        active: ClassVar[set[str]] = {"tab-1"}

        @classmethod
        def exists(cls) -> bool:
            return True

        @classmethod
        def instance(cls) -> FakeRuntime:
            return cls()

        def is_active_session(self, session_id: str) -> bool:
            return session_id in self.active

    monkeypatch.setattr(ui, "Runtime", FakeRuntime)
    monkeypatch.setattr(ui, "get_script_run_ctx", lambda suppress_warning=False: Ctx())
    with ui.cancelled_with_session(poll_s=0.01) as cancel:
        assert not cancel.wait(0.1)  # the tab is still open
        FakeRuntime.active = set()  # closed or reloaded: the runtime dropped it
        assert cancel.wait(5)
    monkeypatch.setattr(ui, "get_script_run_ctx", lambda suppress_warning=False: None)
    with ui.cancelled_with_session(poll_s=0.01) as cancel:
        assert not cancel.wait(0.1)  # outside a script run there is no session to end


def test_the_server_config_turns_the_file_watcher_off():
    server = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]
    assert server["fileWatcherType"] == "none" and server["runOnSave"] is False


def test_the_deploy_toolbar_is_hidden_and_table_downloads_stay():
    from streamlit import config as st_config

    client = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["client"]
    assert client["toolbarMode"] == "viewer"
    # The installed Streamlit documents "viewer" as the mode that hides deploy; data export is another option.
    doc = st_config._config_options_template["client.toolbarMode"].description
    assert '"viewer"' in doc and "deploy button" in doc
    assert not client.get("disableDataExport", False)


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("weekend", None),
        ("Maïa's 🏃 plan", None),
        ("", "empty"),
        ("tab\there", "U+0009"),
        ("zero\u200bwidth", "U+200B"),
        ("x" * 80, None),
        ("x" * 81, "at most 80 characters"),
    ],
)
def test_saved_profile_names(name, problem):
    from pages.common.saved_profiles import saved_name_problem

    found = saved_name_problem(name)
    assert found is None if problem is None else problem in found


def test_plotly_config_downloads_png_under_a_safe_name():
    from pages.common.downloads import csv_bytes, plotly_config

    config = plotly_config("genre-ab12/../contributions chart")
    assert config["toImageButtonOptions"] == {"format": "png", "filename": "genre-ab12-contributions-chart", "scale": 2}
    assert config["displaylogo"] is False
    assert csv_bytes([{"a": 1, "b": "x,y"}, {"a": 2}]).decode() == 'a,b\n1,"x,y"\n2,\n'


def test_table_downloads_neutralise_spreadsheet_formulas_but_keep_numbers():
    from pages.common.downloads import csv_bytes

    rows = [{"score": -1.5, "reason": "- a bullet"}, {"score": 2, "reason": '=HYPERLINK("x")'}]
    assert csv_bytes(rows).decode() == 'score,reason\n-1.5,\'- a bullet\n2.0,"\'=HYPERLINK(""x"")"\n'


def test_saved_configs_go_to_the_cache_unless_a_folder_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("GENRE_CONFIG_DIR", raising=False)
    monkeypatch.setenv("GENRE_CACHE_DIR", str(tmp_path / "cache"))
    assert ui.saved_config_dir() == tmp_path / "cache" / "configs"
    monkeypatch.setenv("GENRE_CONFIG_DIR", str(tmp_path / "mine"))
    assert ui.saved_config_dir() == tmp_path / "mine"


def test_the_picker_lists_shipped_then_saved_configs_and_a_shipped_name_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("GENRE_CONFIG_DIR", str(tmp_path))
    (tmp_path / "movies.toml").write_text("not even TOML")
    (tmp_path / "zz-mine.toml").write_text("")
    paths = ui.config_paths()
    assert paths["movies"] == ROOT / "configs" / "movies.toml"
    assert list(paths)[-1] == "zz-mine" and paths["zz-mine"] == tmp_path / "zz-mine.toml"
    assert {"movies", "products", "news"} <= ui.shipped_config_names() and "zz-mine" not in ui.shipped_config_names()


def _item_with(text: str, claims: list, passed: bool):
    from genre.core.types import RankedItem, ReasonOut
    from genre.core.verdict import Claim, Verdict

    checked = [Claim(**c) for c in claims]
    verdict = Verdict(passed=passed, claims=checked, errors=[] if passed else ["invented_title"],
                      problems=[] if passed else ["names '<b>X</b>', which is no catalog title"])  # fmt: skip
    reason = ReasonOut(text=text, generator="local-llm", faithful=passed, verdict=verdict)
    return RankedItem(rank=1, item_id="i", title="T", categories=[], score=1.0, scores={}, normalized={},
                      contributions={}, evidence={}, reason=reason)  # fmt: skip


def test_reason_claims_are_coloured_by_support_and_escaped():
    text = "Because you liked **Heat** (1995), you may enjoy <b>X</b> (1997)."
    heat = {"kind": "title", "text": "**Heat** (1995)", "start": 18, "end": 33, "supported": True, "evidence": "h"}
    start = text.index("<b>")
    bad = {"kind": "title", "text": "<b>X</b> (1997)", "start": start, "end": start + 15, "supported": False,
           "problem": "p", "error": "invented_title"}  # fmt: skip
    target = {**bad, "kind": "target", "error": "wrong_target"}
    shown = ui.reason_markdown(_item_with(text, [heat, bad, target], passed=False))
    assert shown == (
        r"Because you liked :green-background[\*\*Heat\*\* (1995)], you may enjoy "
        r":red-background[\<b\>X\</b\> (1997)]."
    )
    assert ui.faithfulness_badge(_item_with(text, [heat], passed=False)).startswith(
        ":red-badge[not faithful] names '\\<b"
    )
    assert ui.faithfulness_badge(_item_with(text, [heat], passed=True)) == ":green-badge[faithful]"


def test_overlapping_claims_show_the_unsupported_one():
    segments = ui.claim_segments(
        "abcdef",
        [
            _claim(0, 4, True),
            _claim(2, 6, False),
        ],
    )
    assert segments == [("ab", True), ("cdef", False)]
    assert ui.claim_segments("abc", []) == [("abc", None)]


def _claim(start: int, end: int, supported: bool):
    from genre.core.verdict import Claim

    return Claim(kind="title", text="x", start=start, end=end, supported=supported)


def test_a_fallback_shows_its_badge_and_what_the_model_wrote_on_demand():
    from streamlit.testing.v1 import AppTest

    def app() -> None:
        from genre.core.types import RankedItem, ReasonOut, RejectedCandidate
        from pages.common import ui

        rejected = [RejectedCandidate(text="Like Heat (1995), it is Sci-Fi.", problems=["says 'Sci-Fi' is shared"])]
        reason = ReasonOut(
            text="Because you liked Heat (1995).", generator="template", fallback=True, rejected=rejected
        )
        item = RankedItem(rank=1, item_id="i", title="T", categories=[], score=1.0, scores={}, normalized={},
                          contributions={}, evidence={}, reason=reason)  # fmt: skip
        ui.render_item(item)

    at = AppTest.from_function(app).run()
    assert not at.exception
    assert any("fallback: no generated reason passed" in m.value for m in at.markdown)
    assert at.expander[0].label == "What the model wrote and was not shown (1)"
    table = at.dataframe[0].value
    assert list(table["candidate"]) == ["Like Heat (1995), it is Sci-Fi."]
    assert list(table["rejected because"]) == ["says 'Sci-Fi' is shared"]
