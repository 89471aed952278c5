"""A minimal RunTrace holding given reasons, for the metrics tests."""

from __future__ import annotations

from datetime import UTC, datetime

from genre.core.types import Intent, RankedItem, ReasonOut, RunTrace, StageTiming, UserContext


def trace_with(reasons: list[ReasonOut]) -> RunTrace:
    items = [
        RankedItem(
            rank=n,
            item_id=f"i{n}",
            title=f"Item {n}",
            categories=[],
            score=1.0,
            scores={},
            normalized={},
            contributions={},
            evidence={},
            reason=reason,
        )
        for n, reason in enumerate(reasons, start=1)
    ]
    return RunTrace(
        run_id="r", created_at=datetime.now(UTC), config_name="t", config={}, device="cpu", user=UserContext(),
        history=[], intent=Intent(), candidates={"count": 1}, scorers=[], items=items,
        timings=[StageTiming(stage="rank", component="fusion", ms=2.0)],
    )  # fmt: skip
