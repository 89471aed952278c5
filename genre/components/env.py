"""What components may use while preparing: the catalog, the device, shared models and artifact folders.

One Env may be shared by several pipelines (``Pipeline(reuse=...)``) and read from several
threads: its lazily loaded parts are loaded under a lock, and ``build_lock`` lets one build at a
time prepare components on it. A build sets ``on_progress`` and ``cancel`` for the time it holds
that lock; trainable components call :meth:`Env.checkpoint` once per epoch.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from genre.core.artifacts import Artifact, ArtifactStore, default_root
from genre.core.errors import BuildCancelled, ConfigError
from genre.core.types import Catalog, Interactions
from genre.data import item_embeddings
from genre.models import Embedder, choose_precision, load_embedder


@dataclass
class WarmStart:
    """Continue training from an earlier training's saved weights (a model update) instead of from scratch.

    A component that supports it (BPR, SASRec) looks up its own saved state through
    ``env.warm_artifact(name, params, version)``, starts from it, and trains ``epochs`` more epochs on
    the new interactions; users new since then start from a fresh initialization. Without saved state
    there it trains cold, as usual.
    """

    source: Env
    """The earlier training's environment: its artifact folders and its interactions (for user rows)."""
    epochs: int = 3
    """Epochs of continued training."""


@dataclass
class Env:
    """What components may use: the catalog, the device, and lazily loaded shared models."""

    catalog: Catalog
    device: str
    embedder_factory: Callable[[str], Embedder] = load_embedder
    progress: bool = False
    """Show tqdm progress bars while training (the CLI turns this on)."""
    precision: str = "auto"
    """The config's generator precision (``PipelineConfig.precision``), resolved against ``device`` on load."""
    generator_precision: str | None = None
    """The precision the local generator a component loaded here runs at (the trace records it); None: none loaded."""
    artifact_root: Path | None = None
    """Where trained state is kept instead of the shared ``<cache>/artifacts`` (a model version's own folder)."""
    negatives: Interactions | None = None
    """Explicit negatives from feedback (disliked, not interested, rated 1-2): user and item per event.
    Only components that can use them do (BPR); the others ignore them."""
    warm_start: WarmStart | None = None
    """Trained components that find no saved state continue from this earlier training instead of starting cold."""
    artifact_log: list[tuple[str, Path]] = field(default_factory=list, repr=False)
    """Every (name, folder) handed out by :meth:`artifact`, in order (a model version records them)."""
    notices: list[str] = field(default_factory=list)
    """What preparing had to work around, e.g. corrupt saved state that was retrained (every trace repeats them)."""
    on_progress: Callable[[str, float], None] | None = field(default=None, repr=False, compare=False)
    """Told (what is running, fraction of it done in [0, 1]) while a build prepares and trains components."""
    cancel: threading.Event | None = field(default=None, repr=False, compare=False)
    """When set, the build stops at the next :meth:`checkpoint` with :class:`BuildCancelled`."""
    build_lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)
    """Held by a build while it prepares components here: builds that share this Env take turns, so
    each one's ``artifact_log`` entries, progress callback and cancel event stay its own."""
    _embedder: Embedder | None = field(default=None, repr=False)
    _matrix: Any = field(default=None, repr=False)
    _lazy: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    def checkpoint(self, stage: str, fraction: float) -> None:
        """Between two steps of a long preparation (once per training epoch): stop if the build was
        cancelled, else report progress. Raises :class:`BuildCancelled` naming ``stage``."""
        if self.cancel is not None and self.cancel.is_set():
            raise BuildCancelled(f"the pipeline build was cancelled while {stage}")
        if self.on_progress is not None:
            self.on_progress(stage, min(max(fraction, 0.0), 1.0))

    def interactions(self, who: str) -> Interactions:
        """The catalog's interactions, or a ConfigError saying that ``who`` needs them."""
        inter = self.catalog.interactions
        if inter is None or len(inter) == 0:
            raise ConfigError(
                f"scorer {who!r} learns from user interactions, but the {self.catalog.name} catalog has none; "
                "use content, popularity (with data.popularity_field) or attribute scorers for this catalog"
            )
        return inter

    def user_item_matrix(self, who: str) -> tuple[sparse.csr_matrix, dict[str, int]]:
        """Binary users x items matrix of the interactions (implicit feedback) and the user row map."""
        with self._lazy:
            return self._user_item_matrix(who)

    def _user_item_matrix(self, who: str) -> tuple[sparse.csr_matrix, dict[str, int]]:
        if self._matrix is None:
            inter = self.interactions(who)
            users, rows = np.unique(inter.user_ids, return_inverse=True)
            data = np.ones(len(inter), dtype=np.float32)
            m = sparse.csr_matrix((data, (rows, inter.item_index)), shape=(users.size, len(self.catalog)))
            m.data[:] = 1.0  # repeated events count once
            self._matrix = (m, {u: i for i, u in enumerate(users)})
        return self._matrix

    @property
    def data_key(self) -> str:
        """The data trained state is made from: catalog name and fingerprint, interactions fingerprint."""
        inter = self.catalog.interactions
        return f"{self.catalog.name}-{self.catalog.fingerprint}-{inter.fingerprint if inter is not None else 'none'}"

    @property
    def store(self) -> ArtifactStore:
        """The artifact store: ``artifact_root`` when set (a model version's folder), else the shared cache."""
        root = self.artifact_root if self.artifact_root is not None else default_root()
        return ArtifactStore(root, self.notices)

    def artifact(self, name: str, params: dict[str, Any], version: int) -> Artifact:
        """Where a trained component keeps its state: keyed by catalog, interactions, parameters and
        ``version`` (the component's ``ARTIFACT_VERSION``). Corrupt state found there adds to ``notices``."""
        artifact = self.store.artifact(self.data_key, name, params, version)
        self.artifact_log.append((name, artifact.folder))
        return artifact

    def artifact_dir(self, name: str, params: dict[str, Any], version: int) -> Path:
        """The folder of :meth:`artifact`."""
        return self.artifact(name, params, version).folder

    def warm_artifact(self, name: str, params: dict[str, Any], version: int) -> Artifact | None:
        """The same component's artifact in ``warm_start``'s environment (None without a warm start).

        Notices about it land in this environment, whose pipeline is the one being built.
        """
        if self.warm_start is None:
            return None
        source = self.warm_start.source
        return ArtifactStore(source.store.root, self.notices).artifact(source.data_key, name, params, version)

    def precision_for_generator(self) -> str:
        """The precision a component loads its local generator at: ``precision`` resolved on ``device``.

        Calling it notes that a generator runs here, so every trace of the pipeline records that precision.
        """
        self.generator_precision = choose_precision(self.precision, self.device)
        return self.generator_precision

    @property
    def embedder(self) -> Embedder:
        with self._lazy:
            if self._embedder is None:
                self._embedder = self.embedder_factory(self.device)
            return self._embedder

    @property
    def item_vectors(self) -> np.ndarray:
        """Unit item embeddings, shape (n_items, dim), cached on disk."""
        # Under the lock: two threads computing them first would both write the same cache file.
        with self._lazy:
            return item_embeddings(self.catalog, self.embedder, notices=self.notices)
