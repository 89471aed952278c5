"""``batch-explain``: recommendations with their reasons for a list of users, one JSON line per user.

Input: a file of user ids (dataset users or the config's example profiles), one per line (blank lines and
``#`` comments skipped) or a JSON list. Every id is checked before anything is built; unknown ones fail
naming them. Output, in the input's order, one compact line per user (not the whole RunTrace, whose run id,
times and timings differ between any two runs)::

    {"user": "1", "config": "movies", "k": 10, "notices": [...],
     "items": [{"rank": 1, "item_id": "50", "title": "Star Wars (1977)", "score": 1.234,
                "reason": "...", "generator": "template", "fallback": false,
                "verified": true, "problems": []}, ...]}

``verified`` is the claim verifier's verdict (null when the reasoner's reason was not checked) and
``problems`` what it rejected. The file is written to a temporary name and renamed when complete.

With Ray (:mod:`genre.pipeline.shards`) the users are split into contiguous shards; each worker builds the
pipeline from the trained state the driver saved and writes its users' lines, and the driver writes the
shards' lines in user order: the same bytes as the single-process run. Reasons are deterministic because a
generating reasoner samples from its config's seed on every call; a worker's reason cache only ever holds
reasons from its own shard, which a generator given the same prompts in the same batches writes alike.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from genre.config import PipelineConfig, with_generator
from genre.core.errors import InputError
from genre.core.types import Catalog, RunTrace
from genre.data import load_catalog, load_profiles
from genre.data.profiles import Profile
from genre.data.users import user_or_profile_context
from genre.models import Embedder, load_embedder
from genre.pipeline.runner import Pipeline
from genre.pipeline.shards import (
    RayOptions,
    Shard,
    cluster_cpus,
    plan_shards,
    ray_session,
    require_artifacts,
    run_shards,
)

__all__ = ["BatchResult", "batch_explain", "read_user_ids", "trace_line"]

MAX_USERS = 1_000_000
"""More ids than this in one file is a mistake (a wrong file), not a job."""


@dataclass(frozen=True)
class BatchResult:
    users: int
    out: Path
    shards: int
    """1 for the single-process run."""
    seconds: float


def read_user_ids(path: Path) -> list[str]:
    """User ids from ``path``: a JSON list, else one id per line; duplicates and empty files are errors."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the users file {path}: {exc}") from None
    if text.lstrip().startswith(("[", "{")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path} starts like JSON but is not valid JSON: {exc}") from None
        if not isinstance(data, list) or not all(isinstance(u, str | int) and not isinstance(u, bool) for u in data):
            raise InputError(f"{path}: a JSON users file must be a list of ids (strings or whole numbers)")
        ids = [str(u).strip() for u in data]
    else:
        ids = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not ids or any(not u for u in ids):
        raise InputError(f"{path} holds no user ids (or an empty one); give one id per line or a JSON list")
    if len(ids) > MAX_USERS:
        raise InputError(f"{path} lists {len(ids):,} users; the limit is {MAX_USERS:,}")
    seen: set[str] = set()
    twice = sorted({u for u in ids if u in seen or seen.add(u)})  # type: ignore[func-returns-value]
    if twice:
        raise InputError(f"{path} lists these users more than once: {', '.join(twice[:10])}")
    return ids


def check_user_ids(catalog: Catalog, profiles: Mapping[str, Profile], ids: Sequence[str]) -> None:
    """Fail naming every id that is neither an example profile nor a user of the catalog's interactions."""
    known = set(profiles)
    if catalog.interactions is not None:
        known |= {str(u) for u in catalog.interactions.users()}
    unknown = [u for u in ids if u not in known]
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:20]) + (
            f" and {len(unknown) - 20} more" if len(unknown) > 20 else ""
        )
        kinds = "example profiles " + (", ".join(profiles) if profiles else "(none)")
        users = "" if catalog.interactions is None else " and the users of its interactions"
        raise InputError(f"{len(unknown)} user ids are not in {catalog.name} ({kinds}{users}): {shown}")


def trace_line(trace: RunTrace, user: str) -> str:
    """One user's JSON line (the module docstring shows its fields)."""
    items = []
    for item in trace.items:
        reason, verdict = item.reason, item.reason.verdict if item.reason is not None else None
        items.append(
            {
                "rank": item.rank,
                "item_id": item.item_id,
                "title": item.title,
                "score": item.score,
                "reason": reason.text if reason is not None else None,
                "generator": reason.generator if reason is not None else None,
                "fallback": reason.fallback if reason is not None else False,
                "verified": verdict.passed if verdict is not None else None,
                "problems": list(verdict.problems) if verdict is not None else [],
            }
        )
    line = {"user": user, "config": trace.config_name, "k": len(trace.items), "notices": trace.notices, "items": items}
    return json.dumps(line, ensure_ascii=False)


@dataclass
class _Job:
    config: PipelineConfig
    users: list[str]
    k: int | None
    embedder_factory: Callable[[str], Embedder]
    artifacts: dict[str, str]


def _explain_users(job: _Job, pipe: Pipeline | None = None) -> list[str]:
    catalog, profiles = load_catalog(job.config.data), load_profiles(job.config.data)
    pipe = pipe or Pipeline(job.config, job.embedder_factory)
    return [trace_line(pipe.run(user_or_profile_context(catalog, profiles, u), k=job.k), u) for u in job.users]


def _explain_shard(job: _Job, shard: Shard) -> list[str]:
    require_artifacts(job.artifacts)
    return _explain_users(job)


def batch_explain(
    config: PipelineConfig,
    users: Sequence[str],
    out: Path,
    k: int | None = None,
    *,
    ray: RayOptions | None = None,
    embedder_factory: Callable[[str], Embedder] = load_embedder,
) -> BatchResult:
    """Write ``out``: one line per user of ``users``, in that order. ``ray=None`` runs in this process."""
    started = time.perf_counter()
    catalog = load_catalog(config.data)
    check_user_ids(catalog, load_profiles(config.data), users)
    k = config.k if k is None else k
    if not 0 < k <= len(catalog):
        raise InputError(f"k must be between 1 and the {len(catalog)} items of {catalog.name}; got {k}")
    job = _Job(config, list(users), k, embedder_factory, {})
    if ray is None:
        lines, shards = _explain_users(job), 1
    else:
        with ray_session(ray):  # connected first: a cluster that cannot be reached fails before training
            # Trains once here, so every worker loads the same state. The driver writes no reasons, so its
            # build uses the template rather than loading a generator it would not call.
            driver = Pipeline(with_generator(config, "template", source=f"{config.name} (driver)"), embedder_factory)
            job.artifacts = {n: f for n, f in driver.artifact_paths.items() if (Path(f) / "manifest.json").is_file()}
            del driver
            planned = plan_shards(job.users, ray.shards or cluster_cpus())
            parts = run_shards(
                _explain_shard,
                planned,
                lambda s: _Job(config, job.users[s.start : s.stop], k, embedder_factory, job.artifacts),
                ray,
            )
        lines, shards = [line for part in parts for line in part], len(planned)
    _write_lines(out, lines)
    return BatchResult(len(lines), out, shards, round(time.perf_counter() - started, 2))


def _write_lines(out: Path, lines: list[str]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.writelines(line + "\n" for line in lines)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
