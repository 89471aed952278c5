"""The artifact store: atomic writes, versioned keys, and corrupt state read as a miss with a notice."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from genre.core import artifacts
from genre.core.artifacts import MANIFEST, ArtifactStore, atomic_write_bytes, verify
from genre.core.errors import CorruptArtifactError

PARAMS = {"dims": 4, "seed": 1}


@pytest.fixture
def store(tmp_path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "artifacts")


def _saved(store: ArtifactStore, version: int = 1, params: dict | None = None):
    art = store.artifact("data-1", "toy", params or PARAMS, version)
    art.save({"weights.npz": {"w": np.arange(12.0).reshape(3, 4)}, "meta.json": {"loss": [0.5, 0.25]}})
    return art


def _flip_last_byte(path):
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


def _read(files):
    return files.arrays("weights.npz")["w"], files.json("meta.json")


def test_round_trip_of_every_file_kind(store):
    art = store.artifact("data-1", "toy", PARAMS, 1)
    torch_state = {"layer.weight": torch.arange(6.0).reshape(2, 3)}
    art.save(
        {
            "a.npz": {"x": np.arange(5), "names": np.array(["a", "b"])},
            "b.safetensors": {"y": np.ones((2, 2), dtype=np.float32)},
            "c.safetensors": torch_state,
            "d.json": {"k": [1, 2]},
        }
    )
    out = art.load(
        lambda f: (f.arrays("a.npz"), f.arrays("b.safetensors"), f.tensors("c.safetensors"), f.json("d.json"))
    )
    assert out is not None
    a, b, c, d = out
    np.testing.assert_array_equal(a["x"], np.arange(5))
    assert a["names"].tolist() == ["a", "b"]
    np.testing.assert_array_equal(b["y"], np.ones((2, 2)))
    assert torch.equal(c["layer.weight"], torch_state["layer.weight"])
    assert d == {"k": [1, 2]}
    manifest = json.loads((art.folder / MANIFEST).read_text())
    assert manifest["component"] == "toy" and manifest["version"] == 1 and manifest["params"] == PARAMS
    assert set(manifest["files"]) == {"a.npz", "b.safetensors", "c.safetensors", "d.json"}
    assert manifest["files"]["d.json"]["bytes"] == (art.folder / "d.json").stat().st_size
    assert store.notices == []


def test_the_key_holds_component_version_params_and_data(store):
    folder = store.artifact("data-1", "toy", PARAMS, 3).folder
    assert folder.parent == store.root / "data-1" and folder.name.startswith("toy-v3-")
    others = {
        store.artifact("data-2", "toy", PARAMS, 3).folder,
        store.artifact("data-1", "toy", {**PARAMS, "seed": 2}, 3).folder,
        store.artifact("data-1", "toy", PARAMS, 4).folder,
        store.artifact("data-1", "other", PARAMS, 3).folder,
    }
    assert folder not in others and len(others) == 4
    assert store.artifact("data-1", "toy", dict(reversed(PARAMS.items())), 3).folder == folder


def test_a_version_bump_is_a_miss_without_a_notice(store):
    _saved(store, version=1)
    assert store.artifact("data-1", "toy", PARAMS, 2).load(_read) is None
    assert store.notices == []
    # The old version's state is untouched (and still what version 1 loads).
    w, meta = store.artifact("data-1", "toy", PARAMS, 1).load(_read)
    assert w.shape == (3, 4) and meta == {"loss": [0.5, 0.25]}


def test_a_new_store_format_is_a_miss(store, monkeypatch):
    old = _saved(store)
    monkeypatch.setattr(artifacts, "FORMAT_VERSION", artifacts.FORMAT_VERSION + 1)
    new = store.artifact("data-1", "toy", PARAMS, 1)
    assert new.folder != old.folder and new.load(_read) is None and store.notices == []


def test_atomic_write_leaves_no_partial_file_when_the_writer_fails(tmp_path, monkeypatch):
    path = tmp_path / "dir" / "weights.npz"
    atomic_write_bytes(path, b"old and whole")

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        atomic_write_bytes(path, b"new content that never lands" * 1000)
    assert path.read_bytes() == b"old and whole"
    assert sorted(p.name for p in path.parent.iterdir()) == ["weights.npz"]  # no temporary file left behind


def test_a_save_that_fails_midway_leaves_a_miss_and_a_notice_not_a_crash(store, monkeypatch):
    art = store.artifact("data-1", "toy", PARAMS, 1)
    real = artifacts.atomic_write_bytes
    written: list[str] = []
    seen_by_failure: list[list[str]] = []

    def fail_on_second_file(path, data):
        if written:
            seen_by_failure.append(sorted(p.name for p in path.parent.iterdir()))
            raise OSError(28, "No space left on device")
        written.append(path.name)
        real(path, data)

    monkeypatch.setattr(artifacts, "atomic_write_bytes", fail_on_second_file)
    art.save({"weights.npz": {"w": np.zeros(3)}, "meta.json": {"a": 1}})
    # When the disk gave out, the first file was whole in place and no manifest vouched for anything.
    assert written == ["weights.npz"] and seen_by_failure == [["weights.npz"]]
    assert not art.folder.exists()  # the partial state is removed, freeing the space it took
    assert store.notices == [
        f"Could not save the trained state of toy at {art.folder} ([Errno 28] No space left on device); "
        "it is retrained on the next run."
    ]
    monkeypatch.undo()
    assert art.load(_read) is None and len(store.notices) == 1  # a plain miss


def test_an_interrupted_save_reads_as_an_incomplete_miss(store):
    art = store.artifact("data-1", "toy", PARAMS, 1)
    art.folder.mkdir(parents=True)
    (art.folder / "weights.npz").write_bytes(b"whatever a killed writer left")
    assert art.load(_read) is None
    assert store.notices == []  # nothing was committed, so nothing is corrupt
    assert store.describe(art.folder).status == "incomplete"


def test_saving_over_an_artifact_first_withdraws_its_manifest(store, monkeypatch):
    art = _saved(store)
    manifests: list[bool] = []

    def fail(path, data):
        manifests.append((art.folder / MANIFEST).exists())
        raise OSError(5, "I/O error")

    monkeypatch.setattr(artifacts, "atomic_write_bytes", fail)
    art.save({"weights.npz": {"w": np.zeros(3)}})
    assert manifests == [False]  # the old manifest was gone before the first new byte was written
    assert "I/O error" in store.notices[0]


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda f: (f / "weights.npz").write_bytes((f / "weights.npz").read_bytes()[:40]), "weights.npz is 40 bytes"),
        (lambda f: (f / "weights.npz").unlink(), "weights.npz is missing"),
        (lambda f: _flip_last_byte(f / "weights.npz"), "weights.npz fails its checksum"),
        (lambda f: (f / MANIFEST).write_bytes(b""), "manifest.json is empty"),
        (lambda f: (f / MANIFEST).write_bytes(b"\x00\xff garbage"), "manifest.json"),
        (lambda f: (f / MANIFEST).write_text('{"format": 1}'), "lists no files"),
        (lambda f: (f / MANIFEST).write_text('{"format": 99, "files": {}}'), "format 99"),
    ],
    ids=["truncated", "missing", "garbled", "empty-manifest", "garbage-manifest", "no-files", "foreign-format"],
)
def test_corrupt_state_is_a_deleted_miss_with_a_notice(store, damage, reason):
    art = _saved(store)
    damage(art.folder)
    assert store.describe(art.folder).status == "corrupt"
    assert art.load(_read) is None
    assert not art.folder.exists()
    assert len(store.notices) == 1
    notice = store.notices[0]
    assert notice.startswith(f"Trained state of toy at {art.folder} was unreadable (")
    assert reason in notice and notice.endswith("; retrained.")
    # The caller retrains and saves; the next load is a clean hit.
    art.save({"weights.npz": {"w": np.ones((3, 4))}, "meta.json": {"loss": []}})
    w, _ = art.load(_read)
    np.testing.assert_array_equal(w, np.ones((3, 4)))
    assert len(store.notices) == 1


def test_a_reader_that_rejects_the_state_makes_it_a_miss(store):
    art = _saved(store)

    def wrong_shape(files):
        w = files.arrays("weights.npz")["w"]
        raise CorruptArtifactError(f"weights of shape {w.shape} for 5 items")

    assert art.load(wrong_shape, what="Item embeddings of toy", fallback="recomputed") is None
    assert store.notices == [
        f"Item embeddings of toy at {art.folder} was unreadable (weights of shape (3, 4) for 5 items); recomputed."
    ]
    assert not art.folder.exists()


def test_any_reader_error_is_a_miss_naming_the_error(store):
    art = _saved(store)
    assert art.load(lambda files: files.tensors("weights.npz")) is None  # an npz is no safetensors file
    assert "SafetensorError" in store.notices[0]
    art = _saved(store)
    assert art.load(lambda files: files.json("other.json")) is None
    assert "no file 'other.json' in the artifact (files: meta.json, weights.npz)" in store.notices[1]


def test_only_data_formats_are_written(store):
    art = store.artifact("data-1", "toy", PARAMS, 1)
    with pytest.raises(ValueError, match=r"'model\.pkl' must end in one of \.safetensors, \.npz, \.json"):
        art.save({"model.pkl": {"w": np.zeros(2)}})
    with pytest.raises(ValueError, match="hold Python objects"):
        art.save({"a.npz": {"rows": np.array([{"x": 1}], dtype=object)}})
    with pytest.raises(ValueError, match="store's own file"):
        art.save({MANIFEST: {}})
    assert not (art.folder / MANIFEST).exists()


def test_verify_checks_every_file(store):
    art = _saved(store)
    assert set(verify(art.folder)["files"]) == {"weights.npz", "meta.json"}
    assert verify(store.root / "nothing-here") is None


def test_entries_list_valid_corrupt_and_incomplete(store):
    good = _saved(store)
    bad = _saved(store, params={"dims": 8})
    (bad.folder / "weights.npz").write_bytes(b"")
    interrupted = store.artifact("data-2", "other", PARAMS, 2)
    interrupted.folder.mkdir(parents=True)
    (interrupted.folder / "weights.npz").write_bytes(b"half")
    entries = {e.folder: e for e in store.entries()}
    assert set(entries) == {good.folder, bad.folder, interrupted.folder}
    assert (entries[good.folder].status, entries[good.folder].component, entries[good.folder].version) == (
        "valid",
        "toy",
        1,
    )
    assert entries[good.folder].size == sum(p.stat().st_size for p in good.folder.iterdir())
    assert entries[good.folder].key == f"data-1/{good.folder.name}"
    assert entries[bad.folder].status == "corrupt" and "weights.npz is 0 bytes" in entries[bad.folder].reason
    assert (entries[interrupted.folder].status, entries[interrupted.folder].component) == ("incomplete", "other")
    assert entries[interrupted.folder].version == 2
    store.remove(entries[interrupted.folder])
    assert not interrupted.folder.parent.exists()  # its scope folder held nothing else
    store.remove(entries[bad.folder])
    assert good.folder.is_dir() and [e.folder for e in store.entries()] == [good.folder]
