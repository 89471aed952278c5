"""The RunTrace's charts beside the list and the detail of one item, each downloadable (PNG or CSV)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from genre.core.types import RunTrace
from genre.viz import (
    attention_heatmap,
    attribution_heatmap,
    contributions_chart,
    generator_attention_chart,
    intent_chart,
    timings_chart,
    token_attention_chart,
)
from pages.common.downloads import csv_download, plotly_config
from pages.common.ui import md_escape, show_warning


def render_charts(trace: RunTrace, key: str) -> None:
    """Contributions, attention, attribution, intent and timings as tabs beside the list."""
    tabs = st.tabs(["Contributions", "Attention", "Attribution", "Intent", "Timings"])
    with tabs[0]:
        st.plotly_chart(
            contributions_chart(trace), key=f"{key}_contrib", width="stretch", config=png(trace, "contributions")
        )
    with tabs[1]:
        fig = attention_heatmap(trace)
        if fig is None:
            st.caption("No sequential scorer in this pipeline reports attention over the history.")
        else:
            st.plotly_chart(fig, key=f"{key}_attention", width="stretch", config=png(trace, "attention"))
        tokens = _profile_tokens(trace)
        token_fig = token_attention_chart(tokens)
        if token_fig is not None:
            st.plotly_chart(token_fig, key=f"{key}_tokens", width="stretch", config=png(trace, "profile-attention"))
    with tabs[2]:
        fig = attribution_heatmap(trace)
        if fig is None:
            st.caption("Attribution needs a history and is switched on in the config's [attribution] section.")
        else:
            st.plotly_chart(fig, key=f"{key}_attribution", width="stretch", config=png(trace, "attribution"))
    with tabs[3]:
        if trace.intent.summary:
            st.markdown("**What this user wants now:** " + md_escape(trace.intent.summary))
        fig = intent_chart(trace)
        if fig is None:
            st.caption(f"Intent stage: {md_escape(trace.intent.source)} (no labels).")
        else:
            st.plotly_chart(fig, key=f"{key}_intent", width="stretch", config=png(trace, "intent"))
    with tabs[4]:
        st.plotly_chart(timings_chart(trace), key=f"{key}_timings", width="stretch", config=png(trace, "timings"))


def png(trace: RunTrace, chart: str) -> dict[str, Any]:
    """The chart's plotly config: its modebar downloads it as ``genre-<run>-<chart>.png``."""
    return plotly_config(f"genre-{trace.run_id}-{chart}")


def _profile_tokens(trace: RunTrace) -> list[tuple[str, float]]:
    attention = getattr(trace, "profile_attention", None)
    if attention is None:
        return []
    tokens = getattr(attention, "tokens", attention)
    out = []
    for t in tokens:
        word = getattr(t, "token", None) or getattr(t, "word", None) or ""
        out.append((str(word), float(getattr(t, "weight", 0.0))))
    return out


def render_item_detail(trace: RunTrace, key: str) -> None:
    """Evidence, attribution and generator attention for one chosen item."""
    if not trace.items:
        return
    labels = {i.rank: f"{i.rank}. {i.title}" for i in trace.items}
    rank = st.selectbox("Inspect an item", list(labels), format_func=labels.__getitem__, key=f"{key}_inspect")
    item = next(i for i in trace.items if i.rank == rank)
    left, right = st.columns(2)
    with left:
        rows = [
            {"scorer": name, "evidence": e.label, "kind": e.kind, "weight": round(e.weight, 4)}
            for name, evs in item.evidence.items()
            for e in evs
        ]
        st.markdown("**Evidence per scorer**")
        st.dataframe(rows or [{"scorer": "-", "evidence": "none", "kind": "", "weight": 0.0}], hide_index=True)
        csv_download("Evidence (CSV)", rows, f"genre-{trace.run_id}-evidence-{rank}.csv", f"{key}_evidence_csv")
        if item.attribution:
            st.markdown("**Leave-one-out over the history** (score change without each item)")
            loo = [
                {"without": a.label, "score change": round(a.score_delta, 4), "rank change": a.rank_delta}
                for a in item.attribution[:10]
            ]
            st.dataframe(loo, hide_index=True)
            csv_download("Leave-one-out (CSV)", loo, f"genre-{trace.run_id}-leave-one-out-{rank}.csv", f"{key}_loo_csv")
    with right:
        fig = generator_attention_chart(item, getattr(item, "generator_attention", None))
        if fig is not None:
            st.plotly_chart(
                fig, key=f"{key}_genattn_{rank}", width="stretch", config=png(trace, f"generator-attention-{rank}")
            )
        verdict = item.reason.verdict if item.reason is not None else None
        outside = [c.text for c in verdict.claims if c.error in ("invented_title", "wrong_title")] if verdict else []
        if outside:
            show_warning("Names titles outside the evidence: " + ", ".join(dict.fromkeys(outside)))
