"""Plotly figures built from a RunTrace (pure functions: the explorer renders them, tests read their specs).

Every figure takes trace data only, so what a page shows is exactly what the library computed.
Titles are shortened for axes but full titles stay in the hover text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from genre.core.types import RankedItem, RunTrace

__all__ = [
    "attention_heatmap",
    "attribution_heatmap",
    "compare_ranks",
    "contributions_chart",
    "generator_attention_chart",
    "highlight_segments",
    "intent_chart",
    "metrics_chart",
    "rank_movement_chart",
    "review_chart",
    "timings_chart",
    "token_attention_chart",
]

# One colour per scorer name, stable across figures and runs (plotly's qualitative palette).
_PALETTE = [
    "#636EFA", "#EF553B", "#00CC96", "#AB63FA", "#FFA15A", "#19D3F3", "#FF6692", "#B6E880", "#FF97FF", "#FECB52",
]  # fmt: skip


def _short(title: str, n: int = 32) -> str:
    return title if len(title) <= n else title[: n - 1].rstrip() + "…"


def _label(item: RankedItem) -> str:
    return f"{item.rank}. {_short(item.title)}"


def scorer_colors(names: Sequence[str]) -> dict[str, str]:
    return {name: _PALETTE[i % len(_PALETTE)] for i, name in enumerate(names)}


def _layout(fig: go.Figure, title: str, height: int | None = None) -> go.Figure:
    fig.update_layout(
        title=title, margin={"l": 10, "r": 10, "t": 40, "b": 10}, legend={"orientation": "h", "y": -0.15}, height=height
    )
    return fig


def contributions_chart(trace: RunTrace) -> go.Figure:
    """Stacked horizontal bars: how much each component added to each item's fused score (rank 1 on top).

    Besides the scorers a fusion may add terms of its own (a learning-to-rank model's context features
    and base value, SHAP values that can be negative): each is a bar of its own, so the bars of a row
    still add up to its score, and only a scorer's hover shows a raw score.
    """
    items = list(reversed(trace.items))
    names = list(dict.fromkeys(n for item in trace.items for n in item.contributions))
    colors = scorer_colors(names)
    fig = go.Figure()
    for name in names:
        raw = "<br>raw %{customdata[1]}" if name in trace.scorers else ""
        fig.add_bar(
            name=name,
            orientation="h",
            y=[_label(i) for i in items],
            x=[i.contributions.get(name, 0.0) for i in items],
            marker_color=colors[name],
            customdata=[[i.title, i.scores.get(name), i.normalized.get(name)] for i in items],
            hovertemplate="%{customdata[0]}<br>" + name + ": %{x:+.3f}" + raw + "<extra></extra>",
        )
    fig.update_layout(barmode="relative", xaxis_title="contribution to the fused score")
    return _layout(fig, "Per-component contributions", height=120 + 32 * len(items))


def attention_heatmap(trace: RunTrace, scorer: str | None = None) -> go.Figure | None:
    """Items × history positions: the sequential scorer's attention for each recommended item.

    None when no scorer in the trace reports attention.
    """
    names = [n for n in dict.fromkeys(n for i in trace.items for n in i.attention) if scorer in (None, n)]
    if not names:
        return None
    name = names[0]
    rows = [i for i in trace.items if name in i.attention]
    history_ids = rows[0].attention[name].item_ids
    titles = {h.item_id: h.title for h in trace.history}
    x = [f"{p + 1}. {_short(titles.get(h, h), 22)}" for p, h in enumerate(history_ids)]
    fig = go.Figure(
        go.Heatmap(
            z=[i.attention[name].weights for i in rows],
            x=x,
            y=[_label(i) for i in rows],
            colorscale="Blues",
            colorbar={"title": "attention"},
            hovertemplate="%{y}<br>history %{x}<br>attention %{z:.3f}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(tickangle=-45, title="history, oldest → newest")
    return _layout(fig, f"{name}: attention over the history", height=160 + 28 * len(rows))


def attribution_heatmap(trace: RunTrace, top_history: int = 12) -> go.Figure | None:
    """Items × history items: how much removing each past item lowers each recommendation's score.

    Positive cells mean the history item supported the recommendation. Only the history items
    that matter most overall are shown. None when the run computed no attribution.
    """
    rows = [i for i in trace.items if i.attribution]
    if not rows:
        return None
    support: dict[str, float] = {}
    labels: dict[str, str] = {}
    for item in rows:
        for a in item.attribution:
            key = a.item_id or a.label
            support[key] = support.get(key, 0.0) + abs(a.score_delta)
            labels[key] = a.label
    keys = sorted(support, key=lambda k: -support[k])[:top_history]
    z = []
    for item in rows:
        by_key = {(a.item_id or a.label): -a.score_delta for a in item.attribution}
        z.append([by_key.get(k, 0.0) for k in keys])
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[_short(labels[k], 24) for k in keys],
            y=[_label(i) for i in rows],
            colorscale="RdBu",
            zmid=0.0,
            colorbar={"title": "support"},
            hovertemplate="%{y}<br>without %{x}: score changes by %{z:.3f} (negated)<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(tickangle=-45)
    return _layout(fig, "Which past items drove each recommendation (leave-one-out)", height=160 + 28 * len(rows))


def intent_chart(trace: RunTrace) -> go.Figure | None:
    labels = sorted(trace.intent.labels, key=lambda lbl: lbl.probability)
    if not labels:
        return None
    fig = go.Figure(
        go.Bar(
            x=[lbl.probability for lbl in labels],
            y=[lbl.label for lbl in labels],
            orientation="h",
            marker_color="#AB63FA",
            hovertemplate="%{y}: %{x:.2f}<extra></extra>",
        )
    )
    fig.update_xaxes(range=[0, 1], title="probability")
    return _layout(fig, f"Intent ({trace.intent.source})", height=80 + 30 * len(labels))


def timings_chart(trace: RunTrace) -> go.Figure:
    """One bar per stage step, in run order, with the device in the title."""
    labels = [f"{t.stage}: {t.component}" for t in trace.timings]
    fig = go.Figure(
        go.Bar(
            x=[t.ms for t in trace.timings],
            y=labels,
            orientation="h",
            marker_color="#00CC96",
            hovertemplate="%{y}: %{x:.1f} ms<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title="milliseconds")
    title = f"Stage timings on {trace.device}: {trace.total_ms():.0f} ms in all"
    return _layout(fig, title, height=120 + 24 * len(labels))


def token_attention_chart(
    tokens: Sequence[tuple[str, float]], title: str = "Embedder attention on the profile text"
) -> go.Figure | None:
    """A one-row heatmap over the profile's words: which words the embedder attended to."""
    if not tokens:
        return None
    words = [t for t, _ in tokens]
    # Duplicate words would merge on a categorical axis, so positions carry the words as tick labels.
    fig = go.Figure(
        go.Heatmap(
            z=[[w for _, w in tokens]],
            x=list(range(len(words))),
            y=["profile"],
            text=[words],
            texttemplate="%{text}",
            colorscale="Oranges",
            showscale=False,
            hovertemplate="%{text}: %{z:.3f}<extra></extra>",
        )
    )
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    return _layout(fig, title, height=140)


def generator_attention_chart(item: RankedItem, weights: Mapping[str, float] | None) -> go.Figure | None:
    """Bars: the share of the reason's attention that went to each evidence unit of the prompt."""
    if not weights:
        return None
    pairs = sorted(weights.items(), key=lambda kv: kv[1])
    fig = go.Figure(
        go.Bar(
            x=[v for _, v in pairs],
            y=[_short(k, 40) for k, _ in pairs],
            orientation="h",
            marker_color="#FFA15A",
            hovertemplate="%{y}: %{x:.1%}<extra></extra>",
        )
    )
    fig.update_xaxes(tickformat=".0%", title="share of reason → prompt attention")
    return _layout(fig, f"What the generator looked at for {_short(item.title, 40)}", height=100 + 28 * len(pairs))


def compare_ranks(a: RunTrace, b: RunTrace) -> dict[str, Any]:
    """Rank movement between two runs on the same user: overlap@k and each item's rank in both."""
    ranks_a = {i.item_id: i.rank for i in a.items}
    ranks_b = {i.item_id: i.rank for i in b.items}
    titles = {i.item_id: i.title for i in [*a.items, *b.items]}
    k = max(len(a.items), len(b.items), 1)
    rows = [
        {
            "item_id": item_id,
            "title": titles[item_id],
            "rank_a": ranks_a.get(item_id),
            "rank_b": ranks_b.get(item_id),
            "movement": (ranks_a[item_id] - ranks_b[item_id]) if item_id in ranks_a and item_id in ranks_b else None,
        }
        for item_id in dict.fromkeys([*ranks_a, *ranks_b])
    ]
    return {"overlap": len(set(ranks_a) & set(ranks_b)) / k, "k": k, "rows": rows}


def rank_movement_chart(a: RunTrace, b: RunTrace, name_a: str = "A", name_b: str = "B") -> go.Figure:
    """A slope chart: each item's rank under config A (left) and B (right); items in only one list end at the edge."""
    comparison = compare_ranks(a, b)
    k = comparison["k"]
    fig = go.Figure()
    for row in comparison["rows"]:
        ra, rb = row["rank_a"], row["rank_b"]
        color = "#636EFA" if ra and rb else "#EF553B" if ra else "#00CC96"
        fig.add_scatter(
            x=[name_a, name_b],
            y=[ra if ra else k + 1, rb if rb else k + 1],
            mode="lines+markers",
            line={"color": color},
            name=_short(row["title"], 28),
            hovertemplate=row["title"].replace("%", "%%") + "<br>rank %{y}<extra></extra>",
            showlegend=False,
        )
    fig.update_yaxes(autorange="reversed", title="rank (k+1 = not in the list)", dtick=1)
    return _layout(fig, f"Rank movement, overlap@{k} = {comparison['overlap']:.0%}", height=420)


def metrics_chart(rows: Sequence[Mapping[str, Any]], metric: str = "ndcg@10") -> go.Figure:
    """Bars of one metric per evaluated row (scorers and fused configs), best first."""
    ordered = sorted(rows, key=lambda r: -float(r.get(metric, 0.0) or 0.0))
    fig = go.Figure(
        go.Bar(
            x=[r["name"] for r in ordered],
            y=[r.get(metric) for r in ordered],
            marker_color=["#EF553B" if r.get("kind") == "fusion" else "#636EFA" for r in ordered],
            hovertemplate="%{x}: %{y:.4f}<extra></extra>",
        )
    )
    fig.update_yaxes(title=metric)
    return _layout(fig, f"{metric} per scorer (blue) and fused config (red)", height=380)


def review_chart(summary: Mapping[str, Mapping[str, Any]]) -> go.Figure | None:
    """Mean reviewer rating and faithful-vote rate per generator."""
    if not summary:
        return None
    names = list(summary)
    fig = go.Figure()
    fig.add_bar(name="mean rating (1-5)", x=names, y=[summary[n].get("mean_rating") for n in names], yaxis="y")
    fig.add_bar(
        name="judged faithful",
        x=names,
        y=[summary[n].get("faithful_rate") for n in names],
        yaxis="y2",
        offsetgroup=1,
    )
    fig.update_layout(
        yaxis={"title": "mean rating", "range": [0, 5]},
        yaxis2={"title": "faithful", "overlaying": "y", "side": "right", "range": [0, 1], "tickformat": ".0%"},
        barmode="group",
    )
    return _layout(fig, "Reviews per generator", height=360)


def highlight_segments(text: str, phrases: Sequence[str]) -> list[tuple[str, bool]]:
    """``text`` cut into (segment, is_evidence) pieces where any of ``phrases`` occurs (case-insensitive).

    Longer phrases win where two overlap, so "The Godfather: Part II" is not split by "The Godfather".
    """
    wanted = sorted({p.strip() for p in phrases if p and p.strip()}, key=len, reverse=True)
    if not wanted or not text:
        return [(text, False)] if text else []
    pattern = re.compile("|".join(re.escape(p) for p in wanted), re.IGNORECASE)
    out: list[tuple[str, bool]] = []
    pos = 0
    for match in pattern.finditer(text):
        if match.start() > pos:
            out.append((text[pos : match.start()], False))
        out.append((match.group(0), True))
        pos = match.end()
    if pos < len(text):
        out.append((text[pos:], False))
    return out
