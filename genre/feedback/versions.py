"""Model versions: what ``python -m genre update`` trained from stored feedback, and which one is current.

Each update folds the stored item feedback of one config into its data (see :func:`fold_feedback`),
retrains the learned components on it and records the result as a new version:

    <cache>/versions/<config>/registry.json          every version, and which one is current
    <cache>/versions/<config>/<id>/feedback.npz      the folded feedback (extra positives, explicit negatives)
    <cache>/versions/<config>/<id>/artifacts/...     the version's trained state (``Env.artifact_root``)

Nothing of a version is overwritten later, so every version stays loadable: a rollback only moves
the ``current`` pointer. A :class:`~genre.pipeline.Pipeline` built for a config loads its current
version when that version was made from the same base data (else the base training).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from genre.core.errors import DataError, InputError
from genre.core.paths import cache_dir
from genre.core.types import Catalog, Interactions, stable_hash
from genre.data.users import parse_feedback_key
from genre.feedback.apply import classify, latest_per_item
from genre.feedback.events import ITEM_KINDS, FeedbackEvent

BASE = "base"
"""The version name of the base training (the config's data without feedback)."""
_REGISTRY = "registry.json"
_FEEDBACK = "feedback.npz"
_ARTIFACTS = "artifacts"


class ModelVersion(BaseModel):
    """One update's record: where its data and trained state are, and what went into them."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    version_id: str
    """``v1``, ``v2``, ... in the order they were made."""
    created_at: datetime
    config_name: str
    parent: str | None
    """The version whose weights this one continued from; None: the base training."""
    feedback_events: int
    """Item feedback events folded in: every stored one for the config, not only those new since the parent."""
    feedback_hash: str
    """Hash of those events (who, what, when): an update with the same hash as the current version has nothing new."""
    data_hash: str
    """Fingerprint of the interactions the version trained on (the base ones plus the feedback positives)."""
    base_data: str
    """Catalog and base-interaction fingerprints: the version applies only to the data it was made from."""
    positives: int = 0
    """Extra positive interactions (likes, ratings 4-5, clicks), one per user and item."""
    negatives: int = 0
    """Explicit negatives (dislikes, not interested, ratings 1-2); only BPR uses them."""
    users: int = 0
    """Distinct users with folded feedback."""
    new_users: int = 0
    """Of those, users the base data did not know (they get new user ids)."""
    ignored: int = 0
    """Events on items not in the catalog."""
    warm_start_epochs: int = 0
    """Epochs of continued training for warm-started components (BPR, SASRec)."""
    artifacts: dict[str, str] = Field(default_factory=dict)
    """Per component (``scorers.bpr``, ``fusion``, ``intent``, ...): the folder of its trained state."""
    seconds: float = 0.0
    """Wall time of the update."""
    _folder: Path | None = PrivateAttr(default=None)

    @property
    def folder(self) -> Path:
        if self._folder is None:
            raise InputError(f"model version {self.version_id} has no folder; get it from a VersionRegistry")
        return self._folder

    @property
    def artifact_root(self) -> Path:
        return self.folder / _ARTIFACTS


# ---- Folding feedback into data ------------------------------------------------------------


@dataclass
class FoldedFeedback:
    """Stored feedback as interactions: what an update adds to the data."""

    positives: Interactions
    """One event per (user, latest positive item), at the feedback's time; ratings kept, NaN for likes and clicks."""
    negatives: Interactions
    """One row per (user, latest negative item)."""
    events: int
    ignored: int
    users: int
    new_users: int
    hash: str

    def save(self, path: Path) -> None:
        # Any, not ndarray: numpy's stubs would match ``**arrays`` against savez's ``allow_pickle: bool``.
        arrays: dict[str, Any] = {}
        for name, inter in (("pos", self.positives), ("neg", self.negatives)):
            arrays[f"{name}_users"] = inter.user_ids.astype(str)
            arrays[f"{name}_items"] = inter.item_index
            arrays[f"{name}_times"] = inter.timestamps
            arrays[f"{name}_ratings"] = inter.ratings
        meta = {k: getattr(self, k) for k in ("events", "ignored", "users", "new_users", "hash")}
        arrays["meta"] = np.array(json.dumps(meta))
        tmp = path.with_name(path.name + ".partial.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> FoldedFeedback:
        try:
            with np.load(path, allow_pickle=False) as data:
                parts = {
                    name: Interactions(
                        data[f"{name}_users"].astype(str),
                        data[f"{name}_items"].astype(np.int64),
                        data[f"{name}_times"].astype(np.float64),
                        data[f"{name}_ratings"].astype(np.float64),
                    )
                    for name in ("pos", "neg")
                }
                meta = json.loads(str(data["meta"]))
        except (OSError, KeyError, ValueError) as exc:
            raise DataError(f"cannot read the folded feedback {path}: {exc}") from None
        return cls(positives=parts["pos"], negatives=parts["neg"], **meta)


def dataset_user(key: str, catalog: Catalog, known: set[str]) -> str:
    """The user id a store user gets in the data.

    A key that is a dataset user id (``"196"``), or the explorer's ``"<catalog>:<id>"`` for one
    (:func:`genre.data.users.feedback_key`), maps to that id; any other key is a new user whose id
    is the key itself.
    """
    if key in known:
        return key
    user = parse_feedback_key(key)
    if user.kind == "dataset" and user.catalog in (None, catalog.name) and user.ident in known:
        return user.ident
    return key


def fold_feedback(
    catalog: Catalog, events: Sequence[FeedbackEvent], user_keys: Callable[[str], str] | None = None
) -> FoldedFeedback:
    """Item feedback as interactions, by the same rules as the immediate update (latest event per user and item).

    Likes, ratings of 4-5 and clicks become positive events for the user at the feedback's time;
    dislikes, not-interested and ratings of 1-2 become explicit negatives; a rating of 3 and
    reason feedback add nothing. Users map to dataset ids by :func:`dataset_user`; ``user_keys``
    is how the store keys a clear id (``FeedbackStore.user_key``, a pseudonym): a stored key that
    is the key of a dataset user id, or of the explorer's ``<catalog>:<id>`` for one, maps to it.
    """
    known = set(catalog.interactions.users().tolist()) if catalog.interactions is not None else set()
    aliases: dict[str, str] = {}
    if user_keys is not None:
        for ident in known:
            aliases[user_keys(f"{catalog.name}:{ident}")] = ident
            aliases[user_keys(ident)] = ident
    by_user: dict[str, list[FeedbackEvent]] = {}
    for e in events:
        by_user.setdefault(e.user, []).append(e)
    rows: dict[str, list[tuple[str, int, float, float]]] = {"pos": [], "neg": []}
    ignored = 0
    users: set[str] = set()
    for key in sorted(by_user):
        uid = aliases.get(key) or dataset_user(key, catalog, known)
        for item_id, e in latest_per_item(by_user[key]).items():
            index = catalog.index_of(item_id)
            if index is None:
                ignored += 1
                continue
            verdict = classify(e)
            if verdict is None:
                continue
            rating = float(e.value) if e.kind == "rating" and e.value is not None else float("nan")
            rows["pos" if verdict == "positive" else "neg"].append((uid, index, e.created_at.timestamp(), rating))
            users.add(uid)

    def table(part: list[tuple[str, int, float, float]]) -> Interactions:
        return Interactions(
            np.array([r[0] for r in part], dtype=str),
            np.array([r[1] for r in part], dtype=np.int64),
            np.array([r[2] for r in part], dtype=np.float64),
            np.array([r[3] for r in part], dtype=np.float64),
        )

    digest = stable_hash(sorted((e.user, e.item_id, e.kind, e.value, e.created_at.isoformat()) for e in events))
    return FoldedFeedback(
        positives=table(rows["pos"]),
        negatives=table(rows["neg"]),
        events=sum(1 for e in events if e.kind in ITEM_KINDS),
        ignored=ignored,
        users=len(users),
        new_users=len(users - known),
        hash=digest,
    )


def with_feedback(catalog: Catalog, folded: FoldedFeedback) -> Catalog:
    """The catalog with the feedback positives appended to its interactions."""
    base = catalog.interactions
    pos = folded.positives
    if base is None or len(base) == 0:
        return catalog.with_interactions(pos if len(pos) else base)
    if len(pos) == 0:
        return catalog
    merged = Interactions(
        np.concatenate([base.user_ids.astype(str), pos.user_ids.astype(str)]),
        np.concatenate([base.item_index, pos.item_index]),
        np.concatenate([base.timestamps, pos.timestamps]),
        np.concatenate([base.ratings, pos.ratings]),
    )
    return catalog.with_interactions(merged)


def base_data_key(catalog: Catalog) -> str:
    """What a version's ``base_data`` must equal for it to apply to ``catalog``."""
    inter = catalog.interactions
    return f"{catalog.name}-{catalog.fingerprint}-{inter.fingerprint if inter is not None else 'none'}"


# ---- The registry --------------------------------------------------------------------------


def _slug(name: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "config"
    return f"{clean[:60]}-{stable_hash(name)[:6]}"


class VersionRegistry:
    """The versions of one config (by name): list, add, and move the ``current`` pointer.

    ``root`` defaults to ``<cache>/versions``; nothing is created on disk until a version is added.
    """

    def __init__(self, config_name: str, root: Path | None = None) -> None:
        self.config_name = config_name
        self.root = Path(root) if root is not None else cache_dir() / "versions"
        self.folder = self.root / _slug(config_name)

    def __repr__(self) -> str:
        return f"VersionRegistry({self.config_name!r}, {self.folder})"

    # -- reading --

    def _read(self) -> dict:
        path = self.folder / _REGISTRY
        if not path.is_file():
            return {"config_name": self.config_name, "current": None, "versions": []}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(
                f"the model-version registry {path} is unreadable ({exc}); move it aside to start over from "
                "the base training"
            ) from None
        return data

    def _with_folder(self, version: ModelVersion) -> ModelVersion:
        version._folder = self.folder / version.version_id
        return version

    def list(self) -> list[ModelVersion]:
        """Every version, oldest first."""
        return [self._with_folder(ModelVersion.model_validate(v)) for v in self._read()["versions"]]

    def current_id(self) -> str | None:
        """The current version's id; None when the base training is current."""
        return self._read()["current"]

    def current(self) -> ModelVersion | None:
        data = self._read()
        if data["current"] is None:
            return None
        return self.get(data["current"])

    def get(self, version_id: str) -> ModelVersion:
        """The version ``version_id``; InputError naming the known ones when there is none."""
        versions = self.list()
        for v in versions:
            if v.version_id == version_id:
                return v
        known = ", ".join(v.version_id for v in versions) or "none yet"
        raise InputError(
            f"config {self.config_name!r} has no model version {version_id!r}; versions: {known} "
            f"(or {BASE!r} for the base training)"
        )

    # -- writing --

    @contextmanager
    def _locked(self) -> Iterator[dict]:
        """Read-modify-write of the registry under an exclusive lock; written atomically on exit."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / "registry.lock").open("w") as lock:
            try:
                import fcntl

                fcntl.flock(lock, fcntl.LOCK_EX)
            except ImportError:  # pragma: no cover - not POSIX
                pass
            data = self._read()
            yield data
            tmp = self.folder / f"{_REGISTRY}.{os.getpid()}.tmp"
            tmp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
            os.replace(tmp, self.folder / _REGISTRY)

    def reserve(self) -> ModelVersion:
        """A fresh version id with its (empty) folder; fill in the record, then :meth:`add` it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        taken = {v.version_id for v in self.list()} | {p.name for p in self.folder.iterdir() if p.is_dir()}
        n = 1 + max((int(t[1:]) for t in taken if re.fullmatch(r"v\d+", t)), default=0)
        while True:
            try:
                (self.folder / f"v{n}").mkdir()
                break
            except FileExistsError:  # another update took it meanwhile
                n += 1
        placeholder = ModelVersion(
            version_id=f"v{n}", created_at=datetime.now().astimezone(), config_name=self.config_name,
            parent=None, feedback_events=0, feedback_hash="", data_hash="", base_data="",
        )  # fmt: skip
        return self._with_folder(placeholder)

    def add(self, version: ModelVersion, make_current: bool = True) -> ModelVersion:
        """Record ``version`` (made with :meth:`reserve`) and, by default, make it current."""
        with self._locked() as data:
            data["versions"] = [v for v in data["versions"] if v["version_id"] != version.version_id]
            data["versions"].append(version.model_dump(mode="json"))
            if make_current:
                data["current"] = version.version_id
        return self._with_folder(version)

    def set_current(self, version_id: str) -> ModelVersion | None:
        """Make ``version_id`` (or ``"base"``) current; returns the version (None for the base)."""
        version = None if version_id == BASE else self.get(version_id)
        if version is not None and not (version.folder / _FEEDBACK).is_file():
            raise DataError(f"model version {version_id} of {self.config_name!r} lost its files in {version.folder}")
        with self._locked() as data:
            data["current"] = None if version is None else version.version_id
        return version


# ---- Loading a version ---------------------------------------------------------------------


@dataclass
class LoadedVersion:
    """A version ready for a pipeline: its data and where its trained state is."""

    version: ModelVersion
    catalog: Catalog
    """The base catalog with the version's feedback positives in its interactions."""
    negatives: Interactions
    artifact_root: Path


def open_version(version: ModelVersion, catalog: Catalog) -> LoadedVersion:
    """``version`` applied to ``catalog`` (its base data); InputError when it was made from other data."""
    if version.base_data != base_data_key(catalog):
        raise InputError(
            f"model version {version.version_id} of {version.config_name!r} was made from other data than the "
            f"{catalog.name} catalog given here; use the base training (version {BASE!r}) or update again"
        )
    folded = FoldedFeedback.load(version.folder / _FEEDBACK)
    return LoadedVersion(version, with_feedback(catalog, folded), folded.negatives, version.artifact_root)


def select_version(
    config_name: str,
    catalog: Catalog,
    version: str | ModelVersion | None,
    *,
    explicit_catalog: bool,
    registry: VersionRegistry | None = None,
) -> tuple[LoadedVersion | None, str | None]:
    """The version a pipeline should load, and a notice when the current one had to be passed over.

    ``version`` None means the config's current version, used only when it was made from this
    catalog (a pipeline given another catalog, such as an evaluation split, silently keeps the
    base training); ``"base"`` the base training; an id or a :class:`ModelVersion` that version.
    """
    if version == BASE:
        return None, None
    if isinstance(version, ModelVersion):
        return open_version(version, catalog), None
    reg = registry or VersionRegistry(config_name)
    if version is not None:
        return open_version(reg.get(version), catalog), None
    current = reg.current()
    if current is None:
        return None, None
    if current.base_data != base_data_key(catalog):
        if explicit_catalog:
            return None, None
        return None, (
            f"Model version {current.version_id} of {config_name!r} was trained on other data than the "
            f"{catalog.name} catalog now loaded, so the base training is used; run `python -m genre update` again."
        )
    return open_version(current, catalog), None
