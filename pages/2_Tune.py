"""Tune: choose components and parameters, preview the effect live, save configs, and A/B compare two of them."""

from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from genre import GenreError, load_config, parse_config, save_config
from genre.access import Action
from genre.config import PipelineConfig, with_generator
from genre.core.errors import ConfigError
from genre.core.types import RankedItem, RunTrace, UserContext, stable_hash
from genre.data import load_profiles
from genre.data.users import dataset_user_context, dataset_user_ids, example_profile_context
from genre.evaluation.holdout import score_heldout
from genre.pipeline import Pipeline
from genre.registry import BUILTINS
from genre.viz import compare_ranks, rank_movement_chart
from pages.common.auth import allowed, gate, operators_only
from pages.common.params import edit_params
from pages.common.simulated import simulated_banner
from pages.common.ui import (
    config_paths,
    faithfulness_badge,
    get_holdout,
    get_pipeline,
    get_split_pipeline,
    md_escape,
    pick_config,
    reason_markdown,
    render_verdict,
    saved_config_dir,
    shipped_config_names,
    show_error,
)

st.set_page_config(page_title="GENRE · Tune", page_icon="🎛️", layout="wide")
gate()
st.title("Tune")
st.caption("Pick components per stage and their parameters; the preview re-ranks as you move a slider.")

picked = pick_config("tune_config", "Start from config")
if picked is None:
    st.stop()
base_name, base = picked
raw = base.model_dump(mode="json", exclude_none=True)
problems: list[str] = []
prefix = f"tune_{base_name}"

# ---- the editor -----------------------------------------------------------------------------
edit, preview = st.columns([5, 6])
with edit:
    st.subheader("Components")
    spec: dict = {**raw, "name": f"{base_name}-tuned"}
    for stage in ("context", "intent", "candidates"):
        with st.expander(f"{stage}: {md_escape(raw[stage]['component'])}"):
            names = sorted(BUILTINS[stage])
            component = st.selectbox(
                "component", names, index=names.index(raw[stage]["component"]), key=f"{prefix}_{stage}"
            )
            current = raw[stage].get("config", {}) if component == raw[stage]["component"] else {}
            params, bad = edit_params(stage, component, current, f"{prefix}_{stage}_{component}")
            problems += bad
            spec[stage] = {"component": component, "config": params}

    scorers: dict = {}
    with st.expander("scorers", expanded=False):
        for name, s in raw["scorers"].items():
            label = md_escape(f"{name} ({s['component']})")  # names from a config file
            if not st.checkbox(label, value=True, key=f"{prefix}_use_{name}"):
                continue
            params, bad = edit_params("scorers", s["component"], s.get("config", {}), f"{prefix}_scorer_{name}")
            problems += bad
            scorers[name] = {"component": s["component"], "config": params}
        unused = sorted(set(BUILTINS["scorers"]) - {s["component"] for s in raw["scorers"].values()})
        extra = st.selectbox("Add a scorer", ["—", *unused], key=f"{prefix}_add")
        if extra != "—":
            scorers[extra] = {"component": extra, "config": {}}
    if not scorers:
        problems.append("choose at least one scorer")
    spec["scorers"] = scorers

    st.markdown("**Fusion**")
    fusion_names = sorted(BUILTINS["fusion"])
    fusion = st.selectbox(
        "fusion", fusion_names, index=fusion_names.index(raw["fusion"]["component"]), key=f"{prefix}_fusion"
    )
    fusion_current = raw["fusion"].get("config", {}) if fusion == raw["fusion"]["component"] else {}
    fusion_params, bad = edit_params("fusion", fusion, fusion_current, f"{prefix}_fusion_{fusion}")
    problems += bad
    if fusion == "weighted":
        weights = dict(fusion_current.get("weights", {}))
        for name in scorers:
            weights[name] = st.slider(
                f"weight: {md_escape(name)}", 0.0, 3.0, float(weights.get(name, 1.0)), 0.05, key=f"{prefix}_w_{name}"
            )
        fusion_params["weights"] = {n: w for n, w in weights.items() if n in scorers}
    spec["fusion"] = {"component": fusion, "config": fusion_params}

    current_rerank = [r["component"] for r in raw.get("rerank", [])]
    rerank = st.multiselect(
        "Re-rankers, in order", sorted(BUILTINS["rerank"]), default=current_rerank, key=f"{prefix}_rerank"
    )
    spec["rerank"] = []
    for n, name in enumerate(rerank):
        with st.expander(f"rerank: {name}"):
            old = next((r.get("config", {}) for r in raw.get("rerank", []) if r["component"] == name), {})
            params, bad = edit_params("rerank", name, old, f"{prefix}_rerank_{n}_{name}")
            problems += bad
            spec["rerank"].append({"component": name, "config": params})

    explain_names = sorted(BUILTINS["explain"])
    with st.expander(f"explain: {md_escape(raw['explain']['component'])}"):
        explain = st.selectbox(
            "Reason generator",
            explain_names,
            index=explain_names.index(raw["explain"]["component"]),
            key=f"{prefix}_explain",
            help="Its options below are the generator's own (style, length, sampling, adapter, endpoint); "
            "the preview shows template reasons only, the A/B compare below can write these.",
        )
        explain_current = raw["explain"].get("config", {}) if explain == raw["explain"]["component"] else {}
        explain_params, bad = edit_params("explain", explain, explain_current, f"{prefix}_explain_{explain}")
        problems += bad
        spec["explain"] = {"component": explain, "config": explain_params}

edited: PipelineConfig | None = None
if problems:
    for p in problems:
        show_error(p)
else:
    try:
        edited = parse_config(spec, source="the Tune page")
    except GenreError as exc:
        show_error(f"This combination does not validate: {exc}")

# ---- live preview ----------------------------------------------------------------------------


def profile_picker(catalog_users: list[str], key: str, config: PipelineConfig) -> tuple[str, str] | None:
    """('user', id) or ('profile', id): who the preview and the A/B comparison are for."""
    kinds = (["Dataset user"] if catalog_users else []) + ["Example profile"]
    kind = st.radio("Profile", kinds, horizontal=True, key=f"{key}_kind")
    if kind == "Dataset user":
        # MovieLens' user 1 where it exists, else the log's first user (e.g. a simulated one).
        first = "1" if "1" in catalog_users else catalog_users[0]
        return "user", st.text_input("User id", value=first, key=f"{key}_user").strip()
    profiles = load_profiles(config.data)
    if not profiles:
        st.info("This config names no example profiles.")
        return None
    pid = st.selectbox(
        "Example profile", list(profiles), format_func=lambda p: profiles[p].name or p, key=f"{key}_profile"
    )
    return "profile", pid


def context_for(choice: tuple[str, str], pipeline: Pipeline, config: PipelineConfig) -> UserContext:
    kind, ident = choice
    if kind == "user":
        return dataset_user_context(pipeline.catalog, ident)
    return example_profile_context(pipeline.catalog, load_profiles(config.data), ident)


def ranked_table(trace: RunTrace) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "rank": i.rank,
                "title": i.title,
                "score": round(i.score, 3),
                **{n: round(c, 3) for n, c in i.contributions.items()},
            }
            for i in trace.items
        ]
    )


with preview:
    st.subheader("Live preview")
    if edited is not None:
        try:
            # The preview shows only the ranking: leave-one-out attribution (most of a run's time)
            # and profile attention are skipped so it follows a slider in well under a second.
            # The template stands in for the generator too: a language model is not loaded to rank.
            ranker = (
                edited if edited.explain.component == "template" else with_generator(edited, "template", options={})
            )
            quick = ranker.model_copy(
                update={
                    "attribution": edited.attribution.model_copy(update={"enabled": False, "profile_attention": False})
                }
            )
            pipeline = get_pipeline(quick)
            who = profile_picker(dataset_user_ids(pipeline.catalog), "tune_preview", edited)
            if who is not None:
                # Template reasons only, for the same reason.
                trace = pipeline.run(context_for(who, pipeline, edited), reasons=False)
                reused = ", ".join(pipeline.reused) or "none"
                st.caption(f"{trace.total_ms():.0f} ms on {trace.device}; reused unchanged components: {reused}")
                st.dataframe(ranked_table(trace), hide_index=True, width="stretch", key="tune_preview_table")
        except GenreError as exc:
            show_error(exc)

    st.subheader("Save")
    name = st.text_input("Config name", value=f"{base_name}-tuned", key="tune_save_name")
    may_save = allowed(Action.SAVE_CONFIG)
    clicked = st.button("Save config", key="tune_save", disabled=edited is None or not may_save)
    if not may_save:
        operators_only(Action.SAVE_CONFIG)
    if clicked and may_save:
        assert edited is not None
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,47}", name or ""):
            st.error(
                "Name the config with 1-48 lower-case letters, digits, '-' or '_' (starting with a letter or digit)."
            )
        elif name in shipped_config_names():
            show_error(f"{name!r} is a shipped config and stays as shipped; choose another name.")
        else:
            try:
                path = save_config(edited.model_copy(update={"name": name}), saved_config_dir() / f"{name}.toml")
            except (GenreError, OSError) as exc:
                show_error(f"Could not save: {exc}")
            else:
                st.success(md_escape(f"Saved {path.name} in {path.parent}; it is now selectable on every page."))

# ---- A/B compare ------------------------------------------------------------------------------
st.divider()
st.subheader("A/B compare")
paths = config_paths()
# Always offered: a choice that vanished while an option is being fixed would move A to another config.
options = ["(edited above)", *paths]
col_a, col_b = st.columns(2)
# Keyed by the base config, so picking another base resets the comparison to (edited, base).
choice_a = col_a.selectbox("Config A", options, index=0, key=f"ab_a_{base_name}")
choice_b = col_b.selectbox("Config B", options, index=options.index(base_name), key=f"ab_b_{base_name}")


def config_of(choice: str) -> PipelineConfig:
    if choice == "(edited above)":
        if edited is None:
            raise ConfigError("the edited config has problems (named above); fix them to compare it")
        return edited
    return load_config(paths[choice])


def reason_cell(item: RankedItem, label: str) -> None:
    """One config's reason for a shared item: its rank there, the coloured reason, the badges and the verdict."""
    with st.container(border=True):
        st.markdown(f"**{label}: rank {item.rank}** · score {item.score:.3f}")
        generator = item.reason.generator if item.reason is not None else "none"
        st.markdown(f"{reason_markdown(item)}  \n{faithfulness_badge(item)} :blue-badge[{md_escape(generator)}]")
        if item.reason is not None:
            render_verdict(item.reason.verdict)


def render_ab_reasons(
    names: tuple[str, str],
    configs: tuple[PipelineConfig, PipelineConfig],
    traces: tuple[RunTrace, RunTrace],
    stale: bool,
) -> None:
    """The items both configs ranked, each config's reason side by side; writing generated ones on request.

    ``stale``: the configs now chosen are not those that made ``traces``, so nothing is written with them.
    """
    (name_a, name_b), (trace_a, trace_b) = names, traces
    in_b = {i.item_id: i for i in trace_b.items}
    shared = [(a, in_b[a.item_id]) for a in trace_a.items if a.item_id in in_b]
    if not shared:
        st.info("A and B ranked no item in common, so no reasons can be compared on the same item.")
        return
    pending = {
        "A": [a.rank for a, _ in shared if a.rank in trace_a.pending_reasons],
        "B": [b.rank for _, b in shared if b.rank in trace_b.pending_reasons],
    }
    total = len(pending["A"]) + len(pending["B"])
    # The offer to write them goes once they are written, in the same run.
    ask = st.empty()
    if total:
        with ask.container():
            st.caption(
                f"{total} of these reasons are template stand-ins for a generator that has not written yet. A "
                "language model takes seconds per reason on CPU, so they are written only when asked."
            )
            if stale:
                st.caption("Press Compare first: the reasons must come from the configs now chosen.")
                clicked = False
            else:
                clicked = st.button(f"Write {total} reasons", key="ab_reasons_run", icon=":material/edit_note:")
        if clicked:
            bar = st.progress(0.0, text=f"Writing {total} reasons…")
            done = 0
            try:
                for label, cfg, trace in zip(("A", "B"), configs, traces, strict=True):
                    if not pending[label]:
                        continue
                    for _ in get_pipeline(cfg).iter_reasons(trace, pending[label]):
                        done += 1
                        bar.progress(done / total, text=f"Wrote {done} of {total} reasons ({label})")
            except GenreError as exc:
                show_error(f"Reason generation stopped: {exc}")
            else:
                ask.empty()
            bar.empty()
    head_a, head_b = st.columns(2)
    head_a.markdown(f"**A: {md_escape(name_a)}**")
    head_b.markdown(f"**B: {md_escape(name_b)}**")
    for a, b in shared:
        st.markdown(f"**{md_escape(a.title)}**")
        left, right = st.columns(2)
        with left:
            reason_cell(a, "A")
        with right:
            reason_cell(b, "B")
    only_a = [i.title for i in trace_a.items if i.item_id not in in_b]
    shared_ids = {a.item_id for a, _ in shared}
    only_b = [i.title for i in trace_b.items if i.item_id not in shared_ids]
    notes = [
        f"only A ranked {', '.join(only_a)}" if only_a else "",
        f"only B ranked {', '.join(only_b)}" if only_b else "",
    ]
    if any(notes):
        st.caption(md_escape("Not compared: " + "; ".join(n for n in notes if n) + "."))


try:
    cfg_a, cfg_b = config_of(choice_a), config_of(choice_b)
except GenreError as exc:
    show_error(exc)
    st.stop()
if cfg_a.data.model_dump(exclude={"profiles"}) != cfg_b.data.model_dump(exclude={"profiles"}):
    st.error("A and B must use the same catalog ([data] section) to be compared on one profile.")
    st.stop()
try:
    pipe_a = get_pipeline(cfg_a)
except GenreError as exc:
    show_error(f"Config A cannot start: {exc}")
    st.stop()
who = profile_picker(dataset_user_ids(pipe_a.catalog), "ab", cfg_a)
# What a comparison was made from: one whose configs or profile differ from the current ones is stale.
ab_inputs = stable_hash([cfg_a.model_dump_json(), cfg_b.model_dump_json(), who])
if who is not None and st.button("Compare", type="primary", key="ab_run"):
    # A failed comparison leaves no earlier result on screen as if it answered these inputs.
    st.session_state.pop("ab_result", None)
    st.session_state.pop("ab_heldout", None)
    try:
        pipe_b = get_pipeline(cfg_b)
        ctx = context_for(who, pipe_a, cfg_a)
        st.session_state["ab_result"] = (
            choice_a,
            choice_b,
            pipe_a.run(ctx, reasons=False),
            pipe_b.run(ctx, reasons=False),
            who,
            ab_inputs,
        )
        if who[0] == "user":
            # Held-out quality: both configs rebuilt on the training split, the user's later items hidden.
            holdout = get_holdout(cfg_a)
            split_ctx = holdout.context(who[1])
            scores = {}
            with st.spinner("Scoring both configs on the user's held-out items (trains once per config)…"):
                for label, cfg in (("A", cfg_a), ("B", cfg_b)):
                    split_trace = get_split_pipeline(cfg, holdout).run(split_ctx, k=10, reasons=False)
                    scores[label] = score_heldout(split_trace, holdout)
            st.session_state["ab_heldout"] = scores
            st.session_state["ab_data"] = cfg_a.data
    except GenreError as exc:
        st.session_state.pop("ab_result", None)
        st.session_state.pop("ab_heldout", None)
        show_error(exc)

result = st.session_state.get("ab_result")
if result is not None:
    name_a, name_b, trace_a, trace_b, _, made_from = result
    if made_from != ab_inputs:
        st.warning(
            "This comparison no longer matches the inputs: a config or the profile changed since it was made. "
            "Press Compare to update it.",
            icon=":material/history:",
        )
    comparison = compare_ranks(trace_a, trace_b)
    st.metric(f"Overlap@{comparison['k']}", f"{comparison['overlap']:.0%}")
    left, mid, right = st.columns([4, 4, 5])
    left.markdown(f"**A: {md_escape(name_a)}**")
    left.dataframe(ranked_table(trace_a)[["rank", "title", "score"]], hide_index=True, key="ab_table_a")
    mid.markdown(f"**B: {md_escape(name_b)}**")
    mid.dataframe(ranked_table(trace_b)[["rank", "title", "score"]], hide_index=True, key="ab_table_b")
    right.plotly_chart(rank_movement_chart(trace_a, trace_b, "A", "B"), key="ab_movement", width="stretch")
    heldout = st.session_state.get("ab_heldout")
    if heldout:
        st.markdown(f"**Held-out quality for user {md_escape(result[4][1])}** (protocol T: their latest 20% hidden)")
        simulated_banner(st.session_state.get("ab_data"))
        cols = st.columns(2)
        for col, label in zip(cols, ("A", "B"), strict=True):
            r = heldout[label]
            other = heldout["B" if label == "A" else "A"]
            col.metric(f"{label}: NDCG@10", f"{r.ndcg:.3f}", delta=f"{r.ndcg - other.ndcg:+.3f}")
            col.caption(f"{len(r.hits)} of {r.heldout} held-out items in the top 10; Recall@10 {r.recall:.3f}")

    # ---- both configs' reasons for the same items ----
    if st.toggle(
        "With reasons",
        key="ab_with_reasons",
        help="Both configs' reasons for the items both ranked, side by side, each with its verifier verdict.",
    ):
        render_ab_reasons((name_a, name_b), (cfg_a, cfg_b), (trace_a, trace_b), stale=made_from != ab_inputs)
