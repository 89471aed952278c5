"""AppTest: the Tune page offers the ann candidate stage with its options and previews a list through it."""

from __future__ import annotations

import pytest

from tests.app.conftest import errors, page

pytestmark = pytest.mark.integration


def test_tune_switches_the_candidates_to_ann_and_previews():
    at = page("pages/2_Tune.py", "products")
    at.run()
    box = at.selectbox(key="tune_products_candidates")
    assert "ann" in box.options
    box.set_value("ann").run()
    assert not at.exception and not errors(at)
    key = "tune_products_candidates_ann"
    assert at.selectbox(key=f"{key}_index").options == ["hnsw", "ivf", "flat"]
    at.selectbox(key=f"{key}_index").set_value("ivf")
    at.number_input(key=f"{key}_nlist").set_value(4)
    at.number_input(key=f"{key}_nprobe").set_value(2)
    at.number_input(key=f"{key}_exact_below").set_value(0)
    at.number_input(key=f"{key}_n_candidates").set_value(30).run()
    assert not at.exception and not errors(at)
    assert len(at.dataframe[0].value) == 10
    # Out of bounds is named, not raised.
    at.number_input(key=f"{key}_n_candidates").set_value(3).run()
    assert not at.exception
    assert any("n_candidates" in e for e in errors(at))
