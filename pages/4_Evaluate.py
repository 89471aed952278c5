"""Evaluate: the offline benchmark for chosen configs, with progress, a metrics table and charts."""

from __future__ import annotations

from dataclasses import asdict

import pandas as pd
import streamlit as st

from genre import GenreError, load_config
from genre.core.errors import BuildCancelled
from genre.data.users import dataset_user_ids
from genre.evaluation.explanations import evaluate_explanations
from genre.evaluation.harness import SLICE_COLUMNS, evaluate
from genre.registry import BUILTINS
from genre.viz import metrics_chart
from pages.common.auth import gate
from pages.common.simulated import simulated_banner
from pages.common.ui import cancelled_with_session, config_paths, get_catalog, md_escape, show_error, show_warning

st.set_page_config(page_title="GENRE · Evaluate", page_icon="📊", layout="wide")
gate()
st.title("Evaluate")
st.caption(
    "Every chosen config and each of its scorers on one shared split: protocol T hides each user's latest 20% "
    "of interactions, protocol R a random 25% (comparable with published ML-100K numbers)."
)

paths = config_paths()
configs = {}
problems = []
for name, path in paths.items():
    try:
        configs[name] = load_config(path)
    except GenreError as exc:
        problems.append(f"{path.name}: {exc}")
for p in problems:
    show_warning(f"Skipped a config that does not validate: {p}")
# Only a catalog with interactions has held-out items to measure against.
user_counts: dict[str, int] = {}
for name, cfg in configs.items():
    try:
        user_counts[name] = len(dataset_user_ids(get_catalog(cfg)))
    except GenreError as exc:
        show_warning(f"Skipped {name}: its catalog cannot be loaded ({exc})")
evaluable = [n for n, count in user_counts.items() if count]
if not evaluable:
    st.info("No config has interaction data to evaluate (catalogs without user histories cannot be held out).")
    st.stop()

default = [n for n in ("movies", "movies-weighted") if n in evaluable] or evaluable[:1]
chosen = st.multiselect("Configs (same dataset)", evaluable, default=default, key="eval_configs")
protocol = st.radio("Protocol", ["T", "R"], horizontal=True, key="eval_protocol")
simulated_banner(next((configs[n].data for n in chosen if configs[n].data.simulated), None))
total_users = max(user_counts[n] for n in (chosen or evaluable))
if total_users > 50:
    users = st.slider(
        f"Users to evaluate (all = {total_users:,})", 50, total_users, min(200, total_users), 50, key="eval_users"
    )
else:
    users = total_users
    st.caption(f"All {total_users} users are evaluated.")
with st.expander("Explanation metrics"):
    explain = st.checkbox("Also measure the reasons of the first config", key="eval_explain")
    generators = st.multiselect("Generators", sorted(BUILTINS["explain"]), default=["template"], key="eval_generators")
    explain_users = st.slider("Users for explanation metrics", 2, 50, 5, key="eval_explain_users")

if st.button("Run the benchmark", type="primary", key="eval_run", disabled=not chosen):
    bar = st.progress(0.0, text="Starting…")
    shown: list[tuple[float, str]] = [(0.0, "Starting…")]

    def progress(message: str, fraction: float) -> None:
        bar.progress(min(max(fraction, 0.0), 1.0), text=message)

    st.session_state.pop("eval_report", None)
    st.session_state.pop("eval_explanations", None)
    try:
        with cancelled_with_session() as cancel:
            report = evaluate(
                [configs[n] for n in chosen],
                protocol=protocol,
                max_users=None if users >= total_users else users,
                progress=progress,
                cancel=cancel,
            )
            st.session_state["eval_report"] = report
            st.session_state["eval_data"] = configs[chosen[0]].data
            if explain and generators and not cancel.is_set():
                bar.progress(1.0, text="Writing and checking reasons…")
                st.session_state["eval_explanations"] = evaluate_explanations(
                    configs[chosen[0]], generators, users=explain_users, k=5
                )
    except BuildCancelled as exc:
        show_warning(f"The benchmark stopped: {exc}.")
    except GenreError as exc:
        show_error(f"The benchmark could not run: {exc}")
    bar.empty()

report = st.session_state.get("eval_report")
if report is not None:
    st.markdown(
        f"**{md_escape(report.dataset)}**, protocol {report.protocol}: {report.users} users "
        f"({report.cold_users} cold), {report.train_interactions:,} training and {report.test_interactions:,} "
        f"test interactions, {report.seconds:.0f} s."
    )
    simulated_banner(st.session_state.get("eval_data"))
    slice_only = set(SLICE_COLUMNS) - {"ndcg@10", "coverage@10"}
    frame = pd.DataFrame(
        [
            {
                "name": r.name,
                "kind": r.kind,
                **{k: round(v, 4) for k, v in r.metrics.items() if k not in slice_only},
                "fit s": r.seconds,
            }
            for r in report.rows
        ]
    )
    st.dataframe(frame, hide_index=True, width="stretch", key="eval_table")
    st.markdown("**Popularity slices**")
    prop = (report.extras or {}).get("propensity", {})
    st.caption(
        "NDCG@10 on head / torso / tail test items by training popularity (head: the most popular items that hold "
        "20% of training interactions; tail: the least popular that hold at most 20%). IPS- and SNIPS-NDCG@10 "
        f"weight each hit by 1/p_i with p_i = max((n_i / max n)^{prop.get('eta', 0.5)}, {prop.get('clip', 0.01)}) "
        "from training counts; IPS can exceed 1, SNIPS is on the naive scale. Gini: inequality of how often each "
        "catalog item is shown in the top-10 lists (0 = evenly)."
    )
    slices = pd.DataFrame(
        [{"name": r.name, **{c: round(r.metrics.get(c, float("nan")), 4) for c in SLICE_COLUMNS}} for r in report.rows]
    )
    st.dataframe(slices, hide_index=True, width="stretch", key="eval_slices")
    rows = [{"name": r.name, "kind": r.kind, **r.metrics} for r in report.rows]
    left, right = st.columns(2)
    left.plotly_chart(metrics_chart(rows, "ndcg@10"), key="eval_ndcg", width="stretch")
    right.plotly_chart(metrics_chart(rows, "recall@20"), key="eval_recall", width="stretch")
    for key, value in (report.extras or {}).items():
        if key != "propensity":  # already in the slices caption
            st.caption(md_escape(f"{key}: {value}"))
    st.download_button("Download the report (JSON)", report.to_json(), file_name="genre-eval.json", key="eval_download")

explanations = st.session_state.get("eval_explanations")
if explanations is not None:
    st.subheader(f"Reasons: {explanations.users} users × top-{explanations.k}")
    st.dataframe(
        pd.DataFrame([asdict(r) for r in explanations.rows]).drop(columns=["notices"]),
        hide_index=True,
        key="eval_expl_table",
    )
    st.caption(
        f"Attribution fidelity: removing the top-attributed history item lowers the score in "
        f"{explanations.attribution_top_lowers:.0%} of cases, a random history item in "
        f"{explanations.attribution_random_lowers:.0%}."
    )
