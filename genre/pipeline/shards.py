"""Sharded batch jobs on Ray: users split into contiguous shards, one task per shard, results merged in user order.

The evaluation (:mod:`genre.evaluation.sharded`) and ``batch-explain`` (:mod:`genre.pipeline.batch`) run
through :func:`run_shards`. The driver trains every component first (through the artifact store), so a
worker only ever loads that trained state: :func:`require_artifacts` fails a shard whose worker would
have to train it again, e.g. a cluster node that does not see the driver's ``GENRE_CACHE_DIR``.

Ray 2.60 has no ``local_mode`` any more (``ray.init(local_mode=True)`` raises), so "local" here is a real
Ray cluster started on this machine (``ray.init(num_cpus=...)``): its workers are separate processes, which
is also what a worker dying mid-job needs to be tested against. With an address, :func:`ray_session`
connects to a running cluster instead. Its nodes need this version of ``genre`` installed, the driver's
``GENRE_CACHE_DIR`` at the same path on shared storage (each task is told that path, ``HF_HUB_OFFLINE`` and
``GENRE_DEVICE``), and any other setting, such as ``GENRE_FEEDBACK_URL``, in their own environment: secrets
are never shipped with a task.

A worker that dies mid-shard is retried by Ray (``max_retries``); a shard still failing after that, or one
whose code raised, fails the whole job with :class:`~genre.core.errors.ShardError` naming the shard and its
users. ``GENRE_RAY_FAULT=SHARD:TIMES`` is the test hook: the worker running shard ``SHARD`` (1-based) exits
the process (``os._exit``) on its first ``TIMES`` attempts.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genre.core.errors import ConfigError, ShardError
from genre.core.paths import cache_dir

FAULT_ENV = "GENRE_RAY_FAULT"
"""Test hook: ``SHARD:TIMES`` makes the worker running shard SHARD die on its first TIMES attempts."""
FAULT_EXIT_CODE = 70
FORWARDED_ENV = ("HF_HUB_OFFLINE", "GENRE_DEVICE")
"""Driver settings a worker must share beyond the cache folder (which is always forwarded)."""


@dataclass(frozen=True)
class RayOptions:
    """Where and how a sharded job runs."""

    address: str | None = None
    """A running Ray cluster (``ray://host:10001``, ``host:6379`` or ``auto``); None starts a local one here."""
    shards: int | None = None
    """How many shards the users are split into; None: one per CPU of the cluster."""
    max_retries: int = 2
    """Times Ray reruns a shard whose worker died before the job fails naming it."""
    num_cpus: int | None = None
    """CPUs of a local cluster; None: all of this machine's."""
    temp_dir: Path | None = None
    """Ray's session folder for a local cluster (logs, sockets); None: Ray's default under the temp folder."""

    def __post_init__(self) -> None:
        if self.shards is not None and self.shards <= 0:
            raise ConfigError(f"the number of shards must be a positive number; got {self.shards}")
        if self.max_retries < 0:
            raise ConfigError(f"max_retries must be 0 or more; got {self.max_retries}")


@dataclass(frozen=True)
class Shard:
    """A contiguous block of a job's users: positions ``start`` to ``stop - 1`` of the job's user list."""

    number: int
    """1-based."""
    of: int
    start: int
    stop: int
    first_user: str
    last_user: str

    def describe(self) -> str:
        return (
            f"shard {self.number} of {self.of} (users {self.start + 1}-{self.stop} of the job, "
            f"{self.first_user!r} to {self.last_user!r})"
        )


def plan_shards(users: Sequence[str], shards: int) -> list[Shard]:
    """``users`` in at most ``shards`` contiguous blocks whose sizes differ by at most one (none empty)."""
    if not users:
        raise ShardError("the job has no users to shard")
    n = min(shards, len(users))
    size, extra = divmod(len(users), n)
    out, start = [], 0
    for i in range(n):
        stop = start + size + (1 if i < extra else 0)
        out.append(Shard(i + 1, n, start, stop, users[start], users[stop - 1]))
        start = stop
    return out


def init_kwargs(options: RayOptions) -> dict[str, Any]:
    """``ray.init`` arguments: a quiet local cluster whose workers import this ``genre``, or a cluster's address."""
    quiet: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.ERROR, "configure_logging": True}
    if options.address is not None:
        return {"address": options.address, **quiet}
    # Workers are fresh interpreters: without this they would import whichever genre the environment has
    # installed, not the one this driver runs (a checkout, a worktree).
    root = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    kwargs: dict[str, Any] = {
        "num_cpus": options.num_cpus or os.cpu_count() or 1,
        "include_dashboard": False,
        "runtime_env": {"env_vars": {"PYTHONPATH": path}},
        **quiet,
    }
    if options.temp_dir is not None:
        kwargs["_temp_dir"] = str(options.temp_dir)
    return kwargs


@contextmanager
def ray_session(options: RayOptions) -> Iterator[None]:
    """Ray for the length of a job: the session already started in this process (left running), else a new
    local cluster or a connection to ``options.address`` (shut down at the end)."""
    import ray

    if ray.is_initialized():
        yield
        return
    if options.address is not None:
        _probe(options.address)
    try:
        ray.init(**init_kwargs(options))
    except (OSError, ValueError, RuntimeError) as exc:  # ConnectionError is an OSError
        where = f"the Ray cluster at {options.address!r}" if options.address else "a local Ray cluster"
        raise ShardError(f"could not start or reach {where}: {exc}") from None
    try:
        yield
    finally:
        ray.shutdown()


def _probe(address: str) -> None:
    """Fail at once when nothing listens at a ``host:port`` address: Ray itself keeps retrying for minutes."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit() or not host:
        return  # "auto" and other forms Ray resolves itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as exc:
        raise ShardError(
            f"nothing answers at the Ray address {address!r} ({exc}); start the cluster (`ray start --head`) "
            "or pass its address, or use --ray alone for a local cluster"
        ) from None


def cluster_cpus() -> int:
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))


@dataclass(frozen=True)
class FaultPlan:
    """The ``GENRE_RAY_FAULT`` hook: which shard's worker dies, on how many attempts (counted in ``folder``)."""

    shard: int
    times: int
    folder: str

    def strike(self, shard: Shard) -> None:
        if shard.number != self.shard:
            return
        folder = Path(self.folder)
        folder.mkdir(parents=True, exist_ok=True)
        attempt = len(list(folder.glob(f"shard{shard.number}-*")))
        (folder / f"shard{shard.number}-{attempt}").touch()
        if attempt < self.times:
            os._exit(FAULT_EXIT_CODE)  # a worker dying, not an exception Ray could report


def fault_from_env() -> FaultPlan | None:
    value = os.environ.get(FAULT_ENV, "").strip()
    if not value:
        return None
    shard, _, times = value.partition(":")
    if not (shard.isdigit() and times.isdigit()):
        raise ConfigError(f"{FAULT_ENV} must be SHARD:TIMES (e.g. 1:1); got {value!r}")
    return FaultPlan(int(shard), int(times), str(cache_dir() / "ray-faults" / uuid.uuid4().hex))


def _shard_task(
    fn: Callable[[Any, Shard], Any], payload: Any, shard: Shard, env: Mapping[str, str], fault: FaultPlan | None
) -> Any:
    """What a Ray worker runs: the driver's settings, the fault hook, then ``fn`` on its shard."""
    os.environ.update(env)
    if fault is not None:
        fault.strike(shard)
    return fn(payload, shard)


def run_shards(
    fn: Callable[[Any, Shard], Any],
    shards: list[Shard],
    payload_for: Callable[[Shard], Any],
    options: RayOptions,
) -> list[Any]:
    """``fn(payload_for(shard), shard)`` on a Ray worker per shard; the results in shard order.

    ``fn`` must be a module-level function (workers import it by name). Large inputs every shard shares
    belong in ``ray.put`` before ``payload_for`` hands them out. Needs an active :func:`ray_session`.
    """
    import ray
    from ray.exceptions import RayError, RayTaskError

    env = {"GENRE_CACHE_DIR": str(cache_dir())}
    env.update({k: os.environ[k] for k in FORWARDED_ENV if k in os.environ})
    fault = fault_from_env()
    task = ray.remote(_shard_task).options(num_cpus=1, max_retries=options.max_retries, retry_exceptions=False)
    refs = [task.remote(fn, payload_for(shard), shard, env, fault) for shard in shards]
    results = []
    try:
        for shard, ref in zip(shards, refs, strict=True):
            try:
                results.append(ray.get(ref))
            except RayTaskError as exc:
                cause = exc.cause if isinstance(exc.cause, Exception) else exc
                raise ShardError(f"{shard.describe()} failed: {_first_line(cause)}") from None
            except RayError as exc:
                attempts = options.max_retries + 1
                raise ShardError(
                    f"{shard.describe()} failed after {attempts} attempt{'s' if attempts > 1 else ''}: "
                    f"its worker died ({type(exc).__name__}: {_first_line(exc)})"
                ) from None
    except ShardError:
        for ref in refs:
            ray.cancel(ref, force=True)
        raise
    finally:
        if fault is not None:
            shutil.rmtree(fault.folder, ignore_errors=True)
    return results


def _first_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def require_artifacts(folders: Mapping[str, str]) -> None:
    """In a worker, before building: fail if any trained state the driver saved is not visible here.

    A worker that would train a component itself could end with other weights than the driver's (another
    machine, another thread count), and its shard's results would then differ from a single-process run.
    """
    missing = [name for name, folder in folders.items() if not (Path(folder) / "manifest.json").is_file()]
    if missing:
        raise ShardError(
            f"the worker on {socket.gethostname()} cannot see the trained state of {', '.join(missing)} under "
            f"{cache_dir()}: give every Ray node the driver's GENRE_CACHE_DIR on shared storage"
        )


__all__ = [
    "FAULT_ENV",
    "RayOptions",
    "Shard",
    "ShardError",
    "cluster_cpus",
    "init_kwargs",
    "plan_shards",
    "ray_session",
    "require_artifacts",
    "run_shards",
]
