"""What importing the feedback modules loads: events carry no database or model code."""

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

HEAVY = ("torch", "transformers", "sentence_transformers", "sqlalchemy", "genre.feedback.store")


def _loaded_after(statement: str) -> dict[str, bool]:
    """Which of HEAVY are in sys.modules after running ``statement`` in a fresh interpreter."""
    code = f"import json, sys\n{statement}\nprint(json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("statement", ["import genre.feedback.events", "from genre.feedback import FeedbackEvent"])
def test_feedback_events_load_no_torch_and_no_database_layer(statement):
    assert _loaded_after(statement) == dict.fromkeys(HEAVY, False)


def test_the_store_loads_sqlalchemy_but_no_torch():
    loaded = _loaded_after("from genre.feedback import FeedbackStore")
    assert loaded["sqlalchemy"] and loaded["genre.feedback.store"]
    assert not (loaded["torch"] or loaded["transformers"] or loaded["sentence_transformers"])
