"""Retraining: fold stored feedback into a config's learned components and record a model version.

``python -m genre update --config FILE`` calls :func:`update_models`:

1. every stored item event of the config (and those naming no config) is folded into its data by
   :func:`~genre.feedback.versions.fold_feedback`: likes, ratings of 4-5 and clicks become extra
   interactions for the event's user at the event's time; dislikes, not-interested and ratings of
   1-2 become explicit negatives;
2. a pipeline is built on that data with the new version's own artifact folder, so every learned
   component is refitted there: BPR and SASRec continue from the current version's weights (or the
   base training's) for ``epochs`` epochs, BPR also uses the explicit negatives (the other components
   ignore them); item-kNN, EASE and popularity refit in closed form; a learned fusion refits its
   weights; a trained intent head retrains;
3. the version is recorded in the registry and made current, so the next pipeline built for the
   config loads it. The previous versions stay on disk: ``rollback`` makes one of them current again.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime

from genre.components.env import Env, WarmStart
from genre.config import PipelineConfig
from genre.core.errors import InputError
from genre.core.types import Catalog
from genre.data import load_catalog
from genre.feedback.events import ITEM_KINDS, FeedbackEvent
from genre.feedback.store import EventFilter, FeedbackStore
from genre.feedback.versions import (
    ModelVersion,
    VersionRegistry,
    base_data_key,
    fold_feedback,
    open_version,
    with_feedback,
)
from genre.models import Embedder, load_embedder, resolve_device

Log = Callable[[str], None]


def config_events(store: FeedbackStore, config_name: str) -> list[FeedbackEvent]:
    """The store's item events for ``config_name``, and those that name no config, oldest first."""
    events = store.events(EventFilter(kinds=list(ITEM_KINDS)))
    return [e for e in events if e.config_name in (None, config_name)]


def update_models(
    config: PipelineConfig,
    store: FeedbackStore,
    *,
    catalog: Catalog | None = None,
    epochs: int = 3,
    force: bool = False,
    progress: bool = False,
    embedder_factory: Callable[[str], Embedder] = load_embedder,
    registry: VersionRegistry | None = None,
    log: Log | None = None,
) -> ModelVersion | None:
    """Retrain ``config``'s learned components with the stored feedback; the new, current version.

    Returns None (and changes nothing) when the feedback is the same as the current version's,
    unless ``force``. ``catalog`` replaces the config's data (e.g. a training split); ``registry``
    the default ``<cache>/versions`` registry of the config; ``log`` receives progress lines.
    """
    from genre.pipeline import Pipeline

    say = log or (lambda message: None)
    if epochs < 1:
        raise InputError(f"epochs must be at least 1; got {epochs}")
    started = time.perf_counter()
    registry = registry or VersionRegistry(config.name)
    base = catalog if catalog is not None else load_catalog(config.data)
    events = config_events(store, config.name)
    if not events:
        raise InputError(
            f"the feedback store {store.where} holds no item feedback for config {config.name!r}; "
            "like, dislike or rate some recommendations first"
        )
    folded = fold_feedback(base, events, user_keys=store.user_key)
    say(
        f"feedback: {folded.events} item events from {folded.users} users -> {len(folded.positives)} positives, "
        f"{len(folded.negatives)} explicit negatives ({folded.new_users} new users, {folded.ignored} ignored)"
    )
    parent = registry.current()
    if parent is not None and parent.base_data != base_data_key(base):
        say(f"current version {parent.version_id} was made from other data; starting from the base training")
        parent = None
    if parent is not None and parent.feedback_hash == folded.hash and not force:
        say(f"no new feedback since version {parent.version_id}; nothing to do (force to retrain anyway)")
        return None

    version = registry.reserve()
    try:
        folded.save(version.folder / "feedback.npz")
        source_catalog = open_version(parent, base).catalog if parent is not None else base
        source = Env(
            source_catalog,
            resolve_device(config.device),
            embedder_factory,
            artifact_root=parent.artifact_root if parent is not None else None,
        )
        augmented = with_feedback(base, folded)
        record = version.model_copy(
            update={
                "created_at": datetime.now(UTC),
                "parent": parent.version_id if parent is not None else None,
                "feedback_events": folded.events,
                "feedback_hash": folded.hash,
                "data_hash": augmented.interactions.fingerprint if augmented.interactions is not None else "none",
                "base_data": base_data_key(base),
                "positives": len(folded.positives),
                "negatives": len(folded.negatives),
                "users": folded.users,
                "new_users": folded.new_users,
                "ignored": folded.ignored,
                "warm_start_epochs": epochs,
            }
        )
        record._folder = version.folder
        say(
            f"training {record.version_id} of {config.name!r} from "
            f"{parent.version_id if parent is not None else 'the base training'} (warm start, {epochs} epochs)"
        )
        pipe = Pipeline(
            config,
            embedder_factory=embedder_factory,
            catalog=catalog,
            progress=progress,
            version=record,
            warm_start=WarmStart(source, epochs),
        )
        for t in pipe.prepare_timings:
            say(f"  {t.stage}/{t.component}: {t.ms / 1000:.1f} s")
        record = record.model_copy(
            update={"artifacts": pipe.artifact_paths, "seconds": round(time.perf_counter() - started, 2)}
        )
        record._folder = version.folder
    except BaseException:
        shutil.rmtree(version.folder, ignore_errors=True)
        raise
    return registry.add(record, make_current=True)
