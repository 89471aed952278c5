"""Prepared pipelines shared by every caller of one process (the explorer's browser sessions).

One build per key (config, model version, device, and the catalog when one is given, e.g. an
evaluation split's training part). Each key has its own build lock: a second caller of a key
being built waits for that build, while callers of any other key, built or not, go ahead; a
cold build never blocks runs of a pipeline already built. A new build starts from the most
recently used built pipeline over the same data (``Pipeline(reuse=...)``), so changing one
weight rebuilds only the fusion; two builds that start from the same pipeline share its Env and
so take turns preparing (``Env.build_lock``), while runs never wait for a build. At most
``max_size`` built pipelines are kept, least recently used first out; a failed or cancelled build
leaves nothing behind, so the next caller retries.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from genre.config import PipelineConfig
from genre.core.types import Catalog
from genre.models import Embedder, load_embedder, resolve_device
from genre.pipeline.build import Progress
from genre.pipeline.runner import Pipeline

if TYPE_CHECKING:
    from genre.feedback.versions import ModelVersion

PoolKey = tuple[str, str, str, int]
"""(config JSON, model version asked for, device, id of the given catalog or 0)."""


@dataclass
class _Slot:
    """One key's entry: its build lock and, once built, its pipeline."""

    family: tuple[str, str, str, int]
    """(data section, version, device, catalog): pipelines of one family may reuse each other's parts."""
    catalog: Catalog | None
    """Held so that the catalog's id in the key stays unique while the entry lives."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    pipeline: Pipeline | None = None


class PipelinePool:
    """Built pipelines by key, safe to use from many threads."""

    def __init__(
        self,
        max_size: int = 6,
        embedder_factory: Callable[[str], Embedder] = load_embedder,
    ) -> None:
        if max_size < 1:
            raise ValueError(f"max_size must be at least 1. Got {max_size}")
        self.max_size = max_size
        self.embedder_factory = embedder_factory
        self._slots: OrderedDict[PoolKey, _Slot] = OrderedDict()
        self._lock = threading.Lock()

    def key(
        self, config: PipelineConfig, catalog: Catalog | None = None, version: str | ModelVersion | None = None
    ) -> PoolKey:
        """What tells two requests for a pipeline apart."""
        return (config.model_dump_json(), _version_key(version), resolve_device(config.device), _catalog_key(catalog))

    def peek(
        self, config: PipelineConfig, *, catalog: Catalog | None = None, version: str | ModelVersion | None = None
    ) -> Pipeline | None:
        """The built pipeline for this key (now the most recently used), or None; never builds or waits."""
        key = self.key(config, catalog, version)
        with self._lock:
            slot = self._slots.get(key)
            if slot is None or slot.pipeline is None:
                return None
            self._slots.move_to_end(key)
            return slot.pipeline

    def get(
        self,
        config: PipelineConfig,
        *,
        catalog: Catalog | None = None,
        version: str | ModelVersion | None = None,
        on_progress: Progress | None = None,
        cancel: threading.Event | None = None,
    ) -> Pipeline:
        """The pipeline for this key, built now if no one has (``on_progress`` and ``cancel`` go to that build).

        Raises what the build raises (a ``ConfigError``, ``BuildCancelled``, ...); the key is then free again.
        """
        key = self.key(config, catalog, version)
        family = (config.data.model_dump_json(), key[1], key[2], key[3])
        while True:
            with self._lock:
                slot = self._slots.get(key)
                if slot is not None and slot.pipeline is not None:
                    self._slots.move_to_end(key)
                    return slot.pipeline
                if slot is None:
                    slot = self._slots[key] = _Slot(family, catalog)
            with slot.lock:  # only callers of this key wait here
                if slot.pipeline is not None:
                    return slot.pipeline
                with self._lock:
                    if self._slots.get(key) is not slot:
                        continue  # the build this caller waited for failed and left; start over
                    reuse = self._related(family)
                try:
                    pipeline = Pipeline(
                        config,
                        self.embedder_factory,
                        catalog,
                        reuse=reuse,
                        version=version,
                        on_progress=on_progress,
                        cancel=cancel,
                    )
                except BaseException:
                    with self._lock:
                        if self._slots.get(key) is slot:
                            del self._slots[key]
                    raise
                with self._lock:
                    slot.pipeline = pipeline
                    if key in self._slots:
                        self._slots.move_to_end(key)
                    self._evict()
                return pipeline

    def __len__(self) -> int:
        """Built pipelines held now."""
        with self._lock:
            return sum(slot.pipeline is not None for slot in self._slots.values())

    def _related(self, family: tuple[str, str, str, int]) -> Pipeline | None:
        """The most recently used built pipeline of ``family`` (call with ``_lock`` held)."""
        for slot in reversed(self._slots.values()):
            if slot.pipeline is not None and slot.family == family:
                return slot.pipeline
        return None

    def _evict(self) -> None:
        """Drop the least recently used built pipelines beyond ``max_size`` (call with ``_lock`` held).
        Builds in progress are never dropped; a caller still holding a dropped pipeline keeps using it."""
        built = [key for key, slot in self._slots.items() if slot.pipeline is not None]
        for key in built[: max(0, len(built) - self.max_size)]:
            del self._slots[key]


def _version_key(version: str | ModelVersion | None) -> str:
    if version is None or isinstance(version, str):
        return version or ""
    return version.version_id


def _catalog_key(catalog: Catalog | None) -> int:
    return 0 if catalog is None else id(catalog)
