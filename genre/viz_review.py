"""Plotly figures of blind side-by-side review results (pure functions of plain numbers, no store)."""

from __future__ import annotations

import html
from collections.abc import Sequence

import plotly.graph_objects as go


def win_rate_chart(
    labels: Sequence[str], rates: Sequence[float | None], lows: Sequence[float], highs: Sequence[float]
) -> go.Figure | None:
    """Arm A's win rate per pair of arms (a tie counts half) with its 95% interval as error bars.

    The dashed line at 50% is "no difference": a pair whose interval crosses it has no clear winner yet.
    Pairs without a rate (no judgements) are left out; None when nothing is left.
    """
    rows = [(lab, r, lo, hi) for lab, r, lo, hi in zip(labels, rates, lows, highs, strict=True) if r is not None]
    if not rows:
        return None
    # Plotly reads tags such as <a> and <br> in labels; arm labels carry typed options, so escape them.
    names = [html.escape(r[0]) for r in rows]
    values = [r[1] for r in rows]
    fig = go.Figure(
        go.Bar(
            x=values,
            y=names,
            orientation="h",
            error_x={
                "type": "data",
                "symmetric": False,
                "array": [hi - v for (_, v, _, hi) in rows],
                "arrayminus": [v - lo for (_, v, lo, _) in rows],
            },
            hovertemplate="%{y}<br>A wins %{x:.0%}<extra></extra>",
        )
    )
    fig.add_vline(x=0.5, line_dash="dash", line_color="gray")
    fig.update_layout(
        title={"text": "Win rate of arm A (95% interval)"},
        xaxis={"range": [0, 1], "tickformat": ".0%", "title": "arm A's win rate (ties count half)"},
        yaxis={"automargin": True},
        height=160 + 60 * len(rows),
        margin={"l": 10, "r": 30, "t": 50, "b": 40},  # room for the 100% tick label,
    )
    return fig
