"""AppTest for the Models page: the version list, an update with its progress, and a confirmed rollback."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from genre.feedback.versions import VersionRegistry
from tests.app.conftest import errors, page

pytestmark = pytest.mark.integration


@pytest.fixture
def versions_root(tmp_path, monkeypatch):
    """A private version registry root (the pages and the test read the same one)."""
    root = tmp_path / "cache"
    monkeypatch.setattr("genre.feedback.versions.cache_dir", lambda: root)
    return root


def _add_version(registry: VersionRegistry, events: int):
    version = registry.reserve()
    (version.folder / "feedback.npz").write_bytes(b"stand-in")  # rollback checks that the version kept its files
    record = version.model_copy(
        update={
            "created_at": datetime(2026, 1, events, 9, 30, tzinfo=UTC),
            "feedback_events": events,
            "feedback_hash": f"h{events}",
            "data_hash": f"d{events}",
            "positives": events,
            "users": 1,
        }
    )
    return registry.add(record)


def test_lists_versions_and_rolls_back_only_after_confirmation(versions_root):
    registry = VersionRegistry("products")
    _add_version(registry, 3)
    _add_version(registry, 5)
    assert registry.current_id() == "v2"
    at = page("pages/5_Models.py", "products")
    at.run()
    assert not at.exception and not errors(at)
    assert at.metric[0].value == "v2"
    table = at.dataframe[0].value
    assert list(table["version"]) == ["v1", "v2"] and list(table["current"]) == [False, True]
    assert list(table["feedback events"]) == [3, 5] and table["created (UTC)"][0] == "2026-01-03 09:30"
    assert at.selectbox(key="models_target").options == ["base (the training without feedback)", "v1"]

    at.selectbox(key="models_target").set_value("v1")
    at.button(key="models_rollback").click().run()
    assert any("Make v1 current for products (now v2)?" in w.value for w in at.warning)
    assert registry.current_id() == "v2"  # nothing changes before the confirmation
    at.button(key="models_rollback_no").click().run()
    assert registry.current_id() == "v2" and not at.warning and at.info[0].value == "Nothing changed."

    at.button(key="models_rollback").click().run()
    at.button(key="models_rollback_yes").click().run()
    assert not at.exception and not errors(at)
    assert registry.current_id() == "v1"
    assert at.metric[0].value == "v1"  # the list drawn after the rollback shows it
    assert any("v1 is current for products" in s.value for s in at.success)

    at.selectbox(key="models_target").set_value("base")
    at.button(key="models_rollback").click().run()
    at.button(key="models_rollback_yes").click().run()
    assert registry.current_id() is None and at.metric[0].value == "base"


def test_a_version_that_lost_its_files_is_a_message_not_a_traceback(versions_root):
    registry = VersionRegistry("products")
    first = _add_version(registry, 3)
    _add_version(registry, 4)
    (first.folder / "feedback.npz").unlink()
    at = page("pages/5_Models.py", "products")
    at.run()
    at.selectbox(key="models_target").set_value("v1")
    at.button(key="models_rollback").click().run()
    at.button(key="models_rollback_yes").click().run()
    assert not at.exception
    assert any("Rollback failed: model version v1" in e and "lost its files" in e for e in errors(at))
    assert registry.current_id() == "v2"


def test_update_without_feedback_is_a_message(versions_root, store_url):
    at = page("pages/5_Models.py", "products")
    at.run()
    assert any("No model versions yet" in c.value for c in at.caption)
    at.button(key="models_update").click().run()
    assert not at.exception
    assert any("Update failed" in e and "holds no item feedback for config 'products'" in e for e in errors(at))
    assert VersionRegistry("products").list() == []


def test_update_shows_its_progress_and_lists_the_new_version(versions_root, store_url, monkeypatch):
    calls = []

    def fake_update(config, store, *, epochs, force, log):
        """The library call, minus the training: its log lines and a new current version."""
        calls.append((config.name, epochs, force))
        log("feedback: 4 item events from 1 users -> 3 positives")
        log("training v1 of 'products' from the base training (warm start, 2 epochs)")
        return _add_version(VersionRegistry(config.name), 4).model_copy(update={"seconds": 1.5})

    monkeypatch.setattr("genre.training.feedback_update.update_models", fake_update)
    at = page("pages/5_Models.py", "products")
    at.run()
    at.number_input(key="models_epochs").set_value(2)
    at.checkbox(key="models_force").check()
    at.button(key="models_update").click().run()
    assert not at.exception and not errors(at)
    assert calls == [("products", 2, True)]
    logged = [m.value.replace("\\", "") for m in at.markdown]
    assert "feedback: 4 item events from 1 users -> 3 positives" in logged
    assert any("Model version v1 is current (1.5 s)" in s.value for s in at.success)
    assert at.metric[0].value == "v1" and list(at.dataframe[0].value["version"]) == ["v1"]


def test_a_real_update_on_the_fast_config_makes_a_current_version(versions_root, store_url, saved_configs):
    from genre.feedback import FeedbackStore

    when = datetime(1998, 4, 23, tzinfo=UTC)
    with FeedbackStore(store_url) as store:
        store.add_event("1", "50", "like", config_name="movies-fast", created_at=when)
        store.add_event("movielens-100k:2", "181", "rating", 5.0, created_at=when)
    at = page("pages/5_Models.py", "movies-fast")
    at.run()
    at.button(key="models_update").click().run()
    assert not at.exception and not errors(at)
    logged = " ".join(m.value.replace("\\", "") for m in at.markdown)
    assert "feedback: 2 item events from 2 users -> 2 positives" in logged
    assert VersionRegistry("movies-fast").current_id() == "v1"
    assert at.metric[0].value == "v1"
    at.button(key="models_update").click().run()  # nothing new: said so, no new version
    assert any("No new feedback since the current version" in i.value for i in at.info)
    assert [v.version_id for v in VersionRegistry("movies-fast").list()] == ["v1"]
