"""Feedback simulation on MovieLens-100K protocol T: do likes and dislikes make the next list better?

Usage: .venv/bin/python bench/feedback_sim.py [--config tests/fixtures/movies-fast.toml] [--users 200]
       [--rounds 5] [--k 10] [--seed 42] [--no-update] [--write]

The pipeline is trained on the protocol-T training split. For a seeded sample of test users, each
round recommends the top k; the simulated user likes the shown items that are still in their
held-out set and dislikes the others. Two arms run side by side:

- **without feedback**: the pipeline sees only the training history; items already shown are
  excluded (no list repeats itself), but the likes and dislikes are not given to it;
- **with feedback**: every event so far goes through ``Pipeline.run(..., feedback=...)``, i.e.
  :func:`genre.feedback.apply_feedback`, the immediate update.

NDCG@k of a round is measured on each user's remaining held-out items: those the user liked in
earlier rounds of that arm are removed from the target set. Users with nothing left are skipped.
Unless ``--no-update``, the with-feedback events are then stored and folded into the models by
the retraining path (:func:`genre.training.feedback_update.update_models`, into a temporary version
registry) and one more round is measured with the immediate update alone and with the retrained
models. Feedback events are timestamped just after each user's last training event, so the
dataset's clock runs on.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from genre.core.types import UserContext
from genre.data.splits import Split
from genre.evaluation.harness import user_contexts
from genre.feedback import FeedbackEvent
from genre.metrics import ndcg_at_k
from genre.pipeline import Pipeline

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = ROOT / "tests" / "fixtures" / "movies-fast.toml"


@dataclass
class RoundResult:
    """One round of both arms."""

    round: int
    ndcg_without: float
    ndcg_with: float
    users_without: int
    """Users with held-out items left in the without-feedback arm (the mean is over them)."""
    users_with: int
    hits_without: float
    """Mean liked (relevant) items per measured user in the round."""
    hits_with: float
    seconds_without: float
    seconds_with: float
    ndcg_retrained: float | None = None
    """Final round only, with ``update``: the with-feedback arm on the retrained models."""
    seconds_retrained: float | None = None


@dataclass
class UserSim:
    """One simulated user: training context, held-out items and what each arm has seen so far."""

    ctx: UserContext
    targets: set[str]
    clock: datetime
    shown_without: list[str] = field(default_factory=list)
    liked_without: set[str] = field(default_factory=set)
    events: list[FeedbackEvent] = field(default_factory=list)
    liked_with: set[str] = field(default_factory=set)


def sample_users(split: Split, n: int | None, seed: int = 42) -> list[str]:
    """A seeded sample of test users that also have training events (sorted)."""
    train_users = set(split.train.users().tolist())
    users = sorted(u for u in split.test_items_by_user() if u in train_users)
    if n is not None and n < len(users):
        users = sorted(np.random.default_rng(seed).choice(users, size=n, replace=False).tolist())
    return users


def make_users(pipe: Pipeline, split: Split, users: list[str]) -> list[UserSim]:
    catalog = pipe.catalog
    held_out = split.test_items_by_user()
    out = []
    for ctx in user_contexts(split.train, catalog, users):
        assert ctx.user_id is not None
        last = max((e.timestamp for e in ctx.history if e.timestamp is not None), default=datetime.now(UTC))
        targets = {catalog.items[int(i)].item_id for i in held_out[ctx.user_id]}
        out.append(UserSim(ctx=ctx, targets=targets, clock=last))
    return out


def _ndcg(shown: list[str], remaining: set[str], k: int) -> float:
    return ndcg_at_k(np.array(shown, dtype=str), np.array(sorted(remaining), dtype=str), k)


def _arm_without(pipe: Pipeline, sims: list[UserSim], k: int) -> tuple[list[float], list[int]]:
    scores, hits = [], []
    for sim in sims:
        remaining = sim.targets - sim.liked_without
        ctx = sim.ctx.model_copy(update={"exclude": list(sim.shown_without)})
        shown = [i.item_id for i in pipe.run(ctx, k, reasons=False).items]
        sim.shown_without += shown
        if remaining:
            scores.append(_ndcg(shown, remaining, k))
            hits.append(len(remaining.intersection(shown)))
        sim.liked_without |= remaining.intersection(shown)
    return scores, hits


def _arm_with(
    pipe: Pipeline, sims: list[UserSim], k: int, round_no: int, record: bool = True
) -> tuple[list[float], list[int]]:
    scores, hits = [], []
    for sim in sims:
        remaining = sim.targets - sim.liked_with
        shown = [i.item_id for i in pipe.run(sim.ctx, k, reasons=False, feedback=sim.events).items]
        if remaining:
            scores.append(_ndcg(shown, remaining, k))
            hits.append(len(remaining.intersection(shown)))
        if not record:
            continue
        when = sim.clock + timedelta(minutes=round_no)
        for item_id in shown:
            kind = "like" if item_id in remaining else "dislike"
            sim.events.append(
                FeedbackEvent(
                    user=sim.ctx.user_id or "anonymous",
                    item_id=item_id,
                    kind=kind,
                    config_name=pipe.config.name,
                    created_at=when,
                )
            )
        sim.liked_with |= remaining.intersection(shown)
    return scores, hits


def _mean(values: list[float] | list[int]) -> float:
    return float(np.mean(values)) if values else 0.0


def _result(
    r: int, without: tuple[list[float], list[int], float], with_: tuple[list[float], list[int], float]
) -> RoundResult:
    return RoundResult(
        round=r,
        ndcg_without=_mean(without[0]),
        ndcg_with=_mean(with_[0]),
        users_without=len(without[0]),
        users_with=len(with_[0]),
        hits_without=_mean(without[1]),
        hits_with=_mean(with_[1]),
        seconds_without=without[2],
        seconds_with=with_[2],
    )


def simulate(
    pipe: Pipeline,
    split: Split,
    users: list[str],
    rounds: int = 5,
    k: int = 10,
    retrained: Callable[[list[FeedbackEvent]], Pipeline] | None = None,
    log: Callable[[str], None] | None = None,
) -> list[RoundResult]:
    """Run both arms for ``rounds`` rounds on ``pipe`` (trained on ``split.train``); one row per round.

    ``retrained`` (given every with-feedback event, returns a pipeline retrained on them) adds a
    final round that compares the immediate update with the retrained models.
    """
    say = log or (lambda message: None)
    sims = make_users(pipe, split, users)
    results: list[RoundResult] = []
    for r in range(1, rounds + 1):
        t0 = time.perf_counter()
        s_without, h_without = _arm_without(pipe, sims, k)
        t1 = time.perf_counter()
        s_with, h_with = _arm_with(pipe, sims, k, r)
        t2 = time.perf_counter()
        results.append(_result(r, (s_without, h_without, t1 - t0), (s_with, h_with, t2 - t1)))
        say(f"round {r}: NDCG@{k} without {results[-1].ndcg_without:.4f}, with {results[-1].ndcg_with:.4f}")
    if retrained is not None:
        events = [e for sim in sims for e in sim.events]
        t0 = time.perf_counter()
        new = retrained(events)
        train_s = time.perf_counter() - t0
        r = rounds + 1
        t0 = time.perf_counter()
        s_without, h_without = _arm_without(pipe, sims, k)
        t1 = time.perf_counter()
        # Both with-feedback variants see the same state: measure the retrained one before recording.
        s_re, _ = _arm_with(new, sims, k, r, record=False)
        t2 = time.perf_counter()
        s_with, h_with = _arm_with(pipe, sims, k, r, record=False)
        t3 = time.perf_counter()
        row = _result(r, (s_without, h_without, t1 - t0), (s_with, h_with, t3 - t2))
        row.ndcg_retrained, row.seconds_retrained = _mean(s_re), train_s + t2 - t1
        results.append(row)
        say(f"round {r}: with {results[-1].ndcg_with:.4f}, with + retrained {results[-1].ndcg_retrained:.4f}")
    return results


def to_markdown(results: list[RoundResult], k: int) -> str:
    rows = [
        f"| round | users left (without / with) | NDCG@{k} without feedback | NDCG@{k} with feedback "
        f"| with feedback + retrained | relevant shown per user (without / with) | s (without / with / retrained) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        retrained = f"{r.ndcg_retrained:.4f}" if r.ndcg_retrained is not None else "—"
        secs = f"{r.seconds_without:.1f} / {r.seconds_with:.1f}"
        if r.seconds_retrained is not None:
            secs += f" / {r.seconds_retrained:.1f}"
        rows.append(
            f"| {r.round} | {r.users_without} / {r.users_with} | {r.ndcg_without:.4f} | {r.ndcg_with:.4f} "
            f"| {retrained} | {r.hits_without:.2f} / {r.hits_with:.2f} | {secs} |"
        )
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--epochs", type=int, default=3, help="warm-start epochs of the retraining path")
    ap.add_argument("--no-update", action="store_true", help="skip the retraining path")
    ap.add_argument("--write", action="store_true", help="record the table in bench/RESULTS.md")
    args = ap.parse_args()

    from bench.common import write_section
    from genre.config import load_config
    from genre.data import load_catalog
    from genre.data.splits import temporal_split
    from genre.feedback.store import FeedbackStore
    from genre.feedback.versions import VersionRegistry
    from genre.training.feedback_update import update_models

    started = time.perf_counter()
    config = load_config(args.config)
    # Attribution is not what is measured here and costs most of a run: off for both arms.
    config = config.model_copy(
        update={"attribution": config.attribution.model_copy(update={"enabled": False, "profile_attention": False})}
    )
    catalog = load_catalog(config.data)
    assert catalog.interactions is not None, "the feedback simulation needs a catalog with interactions"
    split = temporal_split(catalog.interactions, 0.2)
    train_catalog = catalog.with_interactions(split.train)
    users = sample_users(split, args.users, args.seed)
    t0 = time.perf_counter()
    pipe = Pipeline(config, catalog=train_catalog, version="base")
    pipe.run(user_contexts(split.train, train_catalog, users[:1])[0], reasons=False)  # loads the embedder
    build_s = time.perf_counter() - t0
    tmp = Path(tempfile.mkdtemp(prefix="genre-feedback-sim-"))

    def retrained(events: list[FeedbackEvent]) -> Pipeline:
        with FeedbackStore(f"sqlite:///{tmp / 'feedback.sqlite3'}") as store:
            store.add_events(events)
            version = update_models(
                config, store, catalog=train_catalog, epochs=args.epochs,
                registry=VersionRegistry(config.name, root=tmp / "versions"), log=print,
            )  # fmt: skip
        assert version is not None
        return Pipeline(config, catalog=train_catalog, version=version)

    results = simulate(
        pipe, split, users, args.rounds, args.k, retrained=None if args.no_update else retrained, log=print
    )
    wall = time.perf_counter() - started
    table = to_markdown(results, args.k)
    rel = args.config.resolve().relative_to(ROOT) if args.config.resolve().is_relative_to(ROOT) else args.config
    flags = f" --users {args.users} --rounds {args.rounds}" + (" --no-update" if args.no_update else "")
    body = (
        f"{table}\n\n"
        f"Config `{rel}` trained on the protocol-T training split ({len(split.train):,} interactions; built and "
        f"warmed up in {build_s:.1f} s); {len(users)} seeded test users (seed {args.seed}); top {args.k} per round; "
        f"{wall:.0f} s wall in all. Each round the simulated user likes the shown items that are in their held-out "
        "set and dislikes the rest. *Without feedback* the pipeline only stops repeating shown items; *with "
        "feedback* every event so far goes through the immediate update (liked items join the history, disliked ones "
        "are excluded and push the user vector away). NDCG is on each user's remaining held-out items (earlier "
        "likes removed), over the users who have any left."
        + (
            ""
            if args.no_update
            else " The last round also folds all with-feedback events into the models once (`update`: the likes "
            "become extra interactions and every learned component refits; BPR and SASRec would warm-start for "
            f"{args.epochs} epochs) and measures the retrained pipeline with the same feedback; its time includes "
            "the retraining."
        )
        + f"\n\nCommand: `.venv/bin/python bench/feedback_sim.py --config {rel}{flags} --write`"
    )
    print(body)
    if args.write:
        write_section("feedback_sim", "## Feedback simulation (MovieLens-100K, protocol T)\n\n" + body)


if __name__ == "__main__":
    main()
