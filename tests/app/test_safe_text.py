"""Every string a visitor, a file or a catalog supplies reaches the page as text, never as markdown."""

from __future__ import annotations

import pytest

from tests.app.conftest import errors, page

pytestmark = pytest.mark.integration

HOSTILE = "![img](http://evil.example/x.png) [link](http://evil.example) **bold** $x^2$ <b>tag</b> _em_"


def _csv_errors(config: str, name: str, data: bytes) -> tuple[list[str], list[str]]:
    at = page("pages/1_Recommend.py", config)
    at.run()
    at.radio(key="rec_source").set_value("Upload CSV").run()
    at.file_uploader(key="rec_csv").set_value((name, data, "text/csv"))
    at.run()
    assert not at.exception
    return errors(at), [c.value for c in at.caption]


def test_uploaded_titles_in_an_error_are_escaped():
    shown, _ = _csv_errors("products", "history.csv", f"title\n{HOSTILE}\n".encode())
    message = next(e for e in shown if "no item titled" in e)
    for raw in ("![img]", "[link](", "**bold**", "$x^2$", "<b>", "_em_"):
        assert raw not in message
    assert r"\*\*bold\*\*" in message and r"\!\[img\]" in message and r"\$x^2\$" in message


def test_catalog_titles_suggested_in_an_error_keep_their_asterisks():
    shown, _ = _csv_errors("movies", "history.csv", b"title\nBAPS (1997)\n")
    assert any(r"did you mean: B\*A\*P\*S (1997)" in e for e in shown), shown


def test_the_uploaded_file_name_is_shown_as_text():
    _, captions = _csv_errors("products", "**loud** [x](http://evil.example).csv", b"item_id\nprod-001\n")
    caption = next(c for c in captions if "history items read" in c)
    assert "**loud**" not in caption and "[x](http" not in caption
    assert caption.startswith(r"\*\*loud\*\* \[x\](http\://evil.example).csv: 1 history items read")


def test_tune_user_id_is_shown_as_text(saved_configs):
    at = page("pages/2_Tune.py", "movies-fast")
    at.run()
    at.text_input(key="ab_user").set_value("**7** [x](http://evil.example)")
    at.button(key="ab_run").click().run()
    assert not at.exception
    message = next(e for e in errors(at) if "unknown user id" in e)
    assert "**7**" not in message and "[x](http" not in message
    assert r"\*\*7\*\* \[x\](http\://evil.example)" in message
