"""The one store every trained or precomputed component saves through.

Layout::

    <root>/<scope>/<component>-v<version>-<hash>/   one artifact: its files, and manifest.json last
    <root> = <cache>/artifacts (or a model version's own artifacts folder)
    <scope> = the data it was made from (catalog and interaction fingerprints)
    <hash> = the component's parameters and this store's format

Rules:

- **Atomic.** Each file is written to a temporary name in its own folder, flushed and renamed into place
  (``os.replace``), so a reader sees the whole old file or the whole new one. The manifest (every file's
  name, size and sha256) is written last: an artifact exists once its manifest does, and a folder
  without one is an interrupted (or running) write, i.e. a plain miss.
- **No code in the cache.** Only safetensors, npz (read with ``allow_pickle=False``) and JSON.
- **Versioned keys.** Each component declares ``ARTIFACT_VERSION`` and bumps it when its algorithm or
  saved layout changes; the version is part of the key, so stale state is a miss, never a silent reload.
- **Corrupt is a miss.** A manifest or file that is unreadable, truncated, fails its checksum, or that
  the component's reader rejects is deleted, the component retrains, and a notice says so (it reaches
  the run trace and the CLI).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np

from genre.core.errors import CorruptArtifactError
from genre.core.paths import cache_dir
from genre.core.types import stable_hash

if TYPE_CHECKING:
    import torch

FORMAT_VERSION = 1
"""Layout of the store itself (manifest fields, key scheme); part of every key."""
MANIFEST = "manifest.json"
SUFFIXES = (".safetensors", ".npz", ".json")
"""The only file kinds an artifact may hold: none of them can carry code."""

_FOLDER_NAME = re.compile(r"^(?P<component>.+)-v(?P<version>\d+)-(?P<hash>[0-9a-f]{16})$")
_OLD_FOLDER_NAME = re.compile(r"^(?P<component>.+)-(?P<hash>[0-9a-f]{16})$")

T = TypeVar("T")
Status = Literal["valid", "corrupt", "incomplete"]


def default_root() -> Path:
    """The shared store: ``<cache>/artifacts``."""
    return cache_dir() / "artifacts"


# ---- atomic files ---------------------------------------------------------------------------------


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            # Flushed to disk before the rename: after a crash the new name never points at missing blocks.
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _encode(name: str, value: Any) -> bytes:
    """One file's bytes, by its suffix: safetensors (numpy or torch tensors), npz (numpy arrays) or JSON."""
    if name.endswith(".json"):
        return json.dumps(value, indent=2, default=str).encode()
    if name.endswith(".npz"):
        arrays: dict[str, Any] = {k: np.asarray(v) for k, v in value.items()}
        if odd := [k for k, a in arrays.items() if a.dtype.hasobject]:
            # numpy would pickle these, and the store never writes (or reads) a pickle.
            raise ValueError(f"array(s) {', '.join(odd)} of {name!r} hold Python objects; save numbers or strings")
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        return buffer.getvalue()
    if name.endswith(".safetensors"):
        if all(isinstance(v, np.ndarray) for v in value.values()):
            from safetensors.numpy import save as save_numpy

            return save_numpy({k: np.ascontiguousarray(v) for k, v in value.items()})
        from safetensors.torch import save as save_torch

        return save_torch({k: v.detach().to("cpu").contiguous() for k, v in value.items()})
    raise ValueError(f"artifact file {name!r} must end in one of {', '.join(SUFFIXES)} (never pickle)")


# ---- reading --------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(folder: Path) -> dict[str, Any] | None:
    """The artifact's manifest after checking every file against it; None when there is no manifest.

    Raises CorruptArtifactError naming what is wrong: an unreadable manifest, a missing file, a wrong
    size (truncated) or checksum (garbled).
    """
    path = folder / MANIFEST
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise CorruptArtifactError(f"{MANIFEST} cannot be read: {exc}") from None
    if not text.strip():
        raise CorruptArtifactError(f"{MANIFEST} is empty")
    try:
        manifest = json.loads(text)
    except ValueError as exc:
        raise CorruptArtifactError(f"{MANIFEST} is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise CorruptArtifactError(f"{MANIFEST} lists no files")
    if manifest.get("format") != FORMAT_VERSION:
        raise CorruptArtifactError(f"{MANIFEST} has format {manifest.get('format')!r}, expected {FORMAT_VERSION}")
    for name, entry in manifest["files"].items():
        file = folder / name
        if not isinstance(entry, dict) or not file.is_file():
            raise CorruptArtifactError(f"{name} is missing")
        size = file.stat().st_size
        if size != entry.get("bytes"):
            raise CorruptArtifactError(f"{name} is {size} bytes, expected {entry.get('bytes')}")
        if _sha256(file) != entry.get("sha256"):
            raise CorruptArtifactError(f"{name} fails its checksum")
    return manifest


@dataclass(frozen=True)
class ArtifactFiles:
    """Read access to a verified artifact's files, for a component's reader."""

    folder: Path
    manifest: dict[str, Any]

    def path(self, name: str) -> Path:
        """The file ``name`` of the artifact; CorruptArtifactError when the manifest does not list it."""
        if name not in self.manifest["files"]:
            listed = ", ".join(sorted(self.manifest["files"])) or "none"
            raise CorruptArtifactError(f"no file {name!r} in the artifact (files: {listed})")
        return self.folder / name

    def json(self, name: str) -> Any:
        return json.loads(self.path(name).read_text())

    def arrays(self, name: str) -> dict[str, np.ndarray]:
        """Numpy arrays of an ``.npz`` (never unpickled) or ``.safetensors`` file."""
        path = self.path(name)
        if name.endswith(".npz"):
            with np.load(path, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        from safetensors.numpy import load_file

        return load_file(path)

    def tensors(self, name: str, device: str = "cpu") -> dict[str, torch.Tensor]:
        """Torch tensors of a ``.safetensors`` file, on ``device``."""
        from safetensors.torch import load_file

        return load_file(self.path(name), device=device)


# ---- one artifact ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Artifact:
    """One component's saved state under one key: load it (a miss is None) or save it."""

    folder: Path
    component: str
    version: int
    params: Mapping[str, Any]
    scope: str
    notices: list[str]
    """Where a notice about corrupt state goes (the env's, so it reaches the run trace)."""

    def load(
        self,
        read: Callable[[ArtifactFiles], T],
        *,
        what: str | None = None,
        fallback: str = "retrained",
    ) -> T | None:
        """``read``'s result on the verified files, or None on a miss.

        Corrupt state (see :func:`verify`), or any error ``read`` raises (CorruptArtifactError for state
        that does not fit, e.g. wrong shapes), is a miss too: the artifact is deleted and a notice
        "<what> at <folder> was unreadable (<reason>); <fallback>." is added.
        """
        try:
            manifest = verify(self.folder)
            if manifest is None:
                return None
            return read(ArtifactFiles(self.folder, manifest))
        except CorruptArtifactError as exc:
            reason = str(exc)
        except Exception as exc:  # any reader failure (safetensors, zip, shapes): the state is unusable
            reason = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
        self.delete()
        label = what or f"Trained state of {self.component}"
        self.notices.append(f"{label} at {self.folder} was unreadable ({_one_line(reason)}); {fallback}.")
        return None

    def save(self, files: Mapping[str, Any]) -> None:
        """Write the files (name -> tensors, arrays or JSON-able value, by suffix), then the manifest.

        Each file is renamed into place whole; the manifest comes last, so until it is written the
        artifact reads as a miss, and an interrupted save never looks like valid state. A save the disk
        refuses (full, read-only) is not fatal: the trained state is still in memory, the partial files
        are removed and a notice says it will be retrained next time.
        """
        encoded = {name: _encode(name, value) for name, value in files.items()}
        if MANIFEST in encoded:
            raise ValueError(f"{MANIFEST!r} is the store's own file; name the component's files otherwise")
        try:
            self._write(encoded)
        except OSError as exc:
            self.delete()
            self.notices.append(
                f"Could not save the trained state of {self.component} at {self.folder} "
                f"({_one_line(str(exc))}); it is retrained on the next run."
            )

    def _write(self, encoded: dict[str, bytes]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        # An old manifest must never vouch for new files.
        (self.folder / MANIFEST).unlink(missing_ok=True)
        for name, data in encoded.items():
            atomic_write_bytes(self.folder / name, data)
        manifest = {
            "format": FORMAT_VERSION,
            "component": self.component,
            "version": self.version,
            "scope": self.scope,
            "params": self.params,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "files": {
                name: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()} for name, data in encoded.items()
            },
        }
        atomic_write_bytes(self.folder / MANIFEST, json.dumps(manifest, indent=2, default=str).encode())

    def delete(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---- the store ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArtifactInfo:
    """One folder of the store as ``python -m genre cache list`` shows it."""

    component: str
    version: int | None
    """The component's ARTIFACT_VERSION; None for a folder an older GENRE wrote."""
    key: str
    """``<scope>/<folder name>``, relative to the store's root."""
    folder: Path
    size: int
    """Bytes of all its files."""
    created: float
    """Seconds since the epoch: the manifest's time, else the folder's last change."""
    status: Status
    reason: str = ""
    """Why it is corrupt or incomplete; empty when valid."""

    def age_days(self, now: float | None = None) -> float:
        return ((now if now is not None else time.time()) - self.created) / 86400.0


@dataclass
class ArtifactStore:
    """Artifacts under one root: the shared cache by default, or a model version's folder."""

    root: Path = field(default_factory=default_root)
    notices: list[str] = field(default_factory=list)
    """Notices of artifacts found corrupt (and deleted) by loads through this store."""

    def artifact(self, scope: str, component: str, params: Mapping[str, Any], version: int) -> Artifact:
        """The artifact of ``component`` (at ``version``, its ARTIFACT_VERSION) with ``params``, made from ``scope``."""
        if version < 1:
            raise ValueError(f"artifact version of {component!r} must be a positive integer; got {version}")
        key = stable_hash({"params": params, "format": FORMAT_VERSION})
        folder = self.root / scope / f"{component}-v{version}-{key}"
        return Artifact(folder, component, version, dict(params), scope, self.notices)

    def entries(self) -> list[ArtifactInfo]:
        """Every artifact folder under the root, verified (checksums read), sorted by key."""
        return sorted(self._scan(), key=lambda info: info.key)

    def _scan(self) -> Iterator[ArtifactInfo]:
        if not self.root.is_dir():
            return
        for scope in self.root.iterdir():
            if not scope.is_dir():
                continue
            for folder in scope.iterdir():
                if folder.is_dir():
                    yield self.describe(folder)

    def describe(self, folder: Path) -> ArtifactInfo:
        """What a folder holds and whether it is usable."""
        files = [p for p in folder.rglob("*") if p.is_file()]
        size = sum(p.stat().st_size for p in files)
        created = max([folder.stat().st_mtime, *(p.stat().st_mtime for p in files)])
        match = _FOLDER_NAME.match(folder.name)
        component = match["component"] if match else folder.name
        version = int(match["version"]) if match else None
        if match is None and (old := _OLD_FOLDER_NAME.match(folder.name)):
            component = old["component"]
        status: Status = "valid"
        reason = ""
        try:
            manifest = verify(folder)
        except CorruptArtifactError as exc:
            status, reason = "corrupt", str(exc)
        else:
            if manifest is None:
                status = "incomplete"
                reason = "no manifest: an interrupted write, or saved by an older GENRE"
            else:
                component = str(manifest.get("component", component))
                version = manifest.get("version", version)
                with contextlib.suppress(KeyError, TypeError, ValueError):
                    created = datetime.fromisoformat(manifest["created"]).timestamp()
        key = f"{folder.parent.name}/{folder.name}"
        return ArtifactInfo(component, version, key, folder, size, created, status, _one_line(reason))

    def remove(self, info: ArtifactInfo) -> None:
        """Delete one artifact folder, and its scope folder once that is empty."""
        shutil.rmtree(info.folder, ignore_errors=True)
        with contextlib.suppress(OSError):  # other artifacts of the same data remain
            info.folder.parent.rmdir()
