"""What the explorer offers to download: every table as CSV, every chart as PNG from its own modebar.

Charts are turned into PNG in the browser by plotly's modebar ("Download plot as a png"), so no
image library (kaleido) is needed on the server. Tables become CSV here, from the same rows the
page shows, so a download always matches the screen.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from genre.core.types import RunTrace
from genre.feedback.store import neutralise_cell


def plotly_config(filename: str) -> dict[str, Any]:
    """Plotly's config for a chart whose modebar downloads it as ``<filename>.png``.

    The modebar shows on hover (plotly's default), with no plotly logo; the file name has only
    letters, digits, '-' and '_' so every browser keeps it as given.
    """
    safe = re.sub(r"[^A-Za-z0-9_-]+", "-", filename).strip("-") or "genre-chart"
    return {"toImageButtonOptions": {"format": "png", "filename": safe, "scale": 2}, "displaylogo": False}


def csv_bytes(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """Rows as UTF-8 CSV with a header (columns in first-seen order).

    Text cells that a spreadsheet would run as a formula (a bullet reason starts with ``- ``)
    are neutralised the way the store's exports are.
    """
    frame = pd.DataFrame(list(rows)).map(lambda v: neutralise_cell(v) if isinstance(v, str) else v)
    return frame.to_csv(index=False).encode("utf-8")


def csv_download(label: str, rows: Sequence[Mapping[str, Any]], file_name: str, key: str) -> None:
    """A download button for ``rows`` as CSV; nothing when there are no rows."""
    if not rows:
        return
    # "ignore": a download is no reason to rerun the page.
    st.download_button(
        label,
        csv_bytes(rows),
        file_name=file_name,
        mime="text/csv",
        key=key,
        icon=":material/download:",
        on_click="ignore",
    )


def ranked_rows(trace: RunTrace) -> list[dict[str, Any]]:
    """The ranked list as a table: rank, item, score, each component's contribution, the reason and its verdict."""
    rows = []
    for item in trace.items:
        reason = item.reason
        problems = reason.verdict.problems if reason is not None and reason.verdict is not None else []
        rows.append(
            {
                "rank": item.rank,
                "item_id": item.item_id,
                "title": item.title,
                "score": item.score,
                **{f"contribution: {name}": value for name, value in item.contributions.items()},
                "reason": reason.text if reason is not None else "",
                "generator": reason.generator if reason is not None else "",
                "faithful": reason.faithful if reason is not None else None,
                "fallback": reason.fallback if reason is not None else None,
                "problems": "; ".join(problems),
            }
        )
    return rows


def claim_rows(trace: RunTrace) -> list[dict[str, Any]]:
    """Every checked claim of every shown reason (the verdict tables of the list, in one table)."""
    rows = []
    for item in trace.items:
        verdict = item.reason.verdict if item.reason is not None else None
        for claim in verdict.claims if verdict is not None else []:
            rows.append(
                {
                    "rank": item.rank,
                    "title": item.title,
                    "claim": claim.text,
                    "kind": claim.kind,
                    "supported": claim.supported,
                    "why": claim.evidence or claim.problem or "",
                }
            )
    return rows


def rejected_rows(trace: RunTrace) -> list[dict[str, Any]]:
    """What the generator wrote and was not shown, for every item, with why each candidate was rejected."""
    return [
        {"rank": item.rank, "title": item.title, "candidate": r.text, "rejected because": "; ".join(r.problems)}
        for item in trace.items
        if item.reason is not None
        for r in item.reason.rejected
    ]
