"""Shared explorer glue: config choice, cached pipelines, safe text, and the RunTrace views.

Everything here only collects input, calls ``genre`` and renders what it returns; the logic
lives in the library. Model-heavy objects are cached per process with ``st.cache_resource``.
Every string a visitor, a file or a catalog supplies reaches the page through :func:`md_escape`
(or the ``show_*`` helpers), so it is shown as typed and never as markdown, LaTeX or HTML.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from genre import GenreError, Pipeline, load_config
from genre.config import DataConfig, PipelineConfig
from genre.core.paths import cache_dir
from genre.core.types import Catalog, RankedItem, ReasonOut
from genre.core.verdict import Claim, Verdict
from genre.data import load_catalog
from genre.data.users import new_session_id
from genre.evaluation.holdout import HoldoutSplit, holdout_split
from genre.pipeline import PipelinePool

ROOT = Path(__file__).resolve().parents[2]
FEEDBACK_SESSION = "genre_feedback_session"
"""Session-state key of this browser session's anonymous feedback id (shared by every page)."""
BUILTIN_CONFIGS = ROOT / "configs"
MAX_PIPELINES = 6


def saved_config_dir() -> Path:
    """Where the Tune page saves user-named configs: ``$GENRE_CONFIG_DIR``, else ``<cache>/configs``.

    Never ``configs/`` by default: a saved config must not replace a shipped one.
    """
    env = os.environ.get("GENRE_CONFIG_DIR")
    return Path(env).expanduser() if env else cache_dir() / "configs"


def shipped_config_names() -> set[str]:
    """Names of the configs shipped in ``configs/``; the Tune page refuses to save under them."""
    return {p.stem for p in BUILTIN_CONFIGS.glob("*.toml")}


def config_paths() -> dict[str, Path]:
    """Every config a page may pick: the shipped ones, then the saved ones (a shipped name always wins)."""
    paths = {p.stem: p for p in sorted(BUILTIN_CONFIGS.glob("*.toml"))}
    for path in sorted(saved_config_dir().glob("*.toml")):
        paths.setdefault(path.stem, path)
    return paths


def pick_config(key: str, label: str = "Pipeline config", sidebar: bool = True) -> tuple[str, PipelineConfig] | None:
    """A config selectbox shared across pages (the choice follows the user from page to page)."""
    paths = config_paths()
    if not paths:
        show_error(f"No pipeline configs found in {BUILTIN_CONFIGS}. Restore configs/*.toml from the repository.")
        return None
    names = list(paths)
    current = st.session_state.get("config_name", "movies")
    index = names.index(current) if current in names else 0
    box = st.sidebar if sidebar else st
    name = box.selectbox(label, names, index=index, key=key)
    st.session_state["config_name"] = name
    try:
        return name, load_config(paths[name])
    except GenreError as exc:
        show_error(f"The config {paths[name].name} does not validate: {exc}")
        return None


@st.cache_resource(show_spinner=False)
def _pipeline_pool() -> PipelinePool:
    """One pool per server process: every browser session shares its built pipelines, both those on
    the config's data and those on an evaluation split (up to ``MAX_PIPELINES`` of each)."""
    return PipelinePool(max_size=2 * MAX_PIPELINES)


def reset_pipelines() -> None:
    """Forget every built pipeline, in every session: the next one built for a config loads its current
    model version (after an update or a rollback). Trained state stays cached on disk, so rebuilding is quick."""
    _pipeline_pool.clear()


def get_pipeline(config: PipelineConfig) -> Pipeline:
    """One prepared pipeline per distinct config, built from the last one over the same data.

    A changed weight or generator rebuilds only that component (``Pipeline(reuse=...)``), so a
    slider move costs milliseconds, and reasons already generated are reused. A build shows its
    progress here; other sessions keep running their own pipelines meanwhile.
    """
    return _pooled(config)


def get_split_pipeline(config: PipelineConfig, holdout: HoldoutSplit) -> Pipeline:
    """The config built on the evaluation split's training part only (for held-out metrics)."""
    return _pooled(config, holdout.train_catalog)


def _pooled(config: PipelineConfig, catalog: Catalog | None = None) -> Pipeline:
    pool = _pipeline_pool()
    ready = pool.peek(config, catalog=catalog)
    if ready is not None:
        return ready
    # Progress text renders markdown; a saved config's name is user text.
    label = f"Preparing the {md_escape(config.name)} pipeline"
    bar = st.progress(0.0, text=label)

    def show(stage: str, fraction: float) -> None:
        bar.progress(fraction, text=f"{label}: {md_escape(stage)}")

    try:
        return pool.get(config, catalog=catalog, on_progress=show)
    finally:
        bar.empty()


@st.cache_resource(show_spinner=False)
def _catalog(data_json: str) -> Catalog:
    return load_catalog(DataConfig.model_validate_json(data_json))


def get_catalog(config: PipelineConfig) -> Catalog:
    """The config's catalog, shared by every config over the same data."""
    return _catalog(config.data.model_dump_json())


@st.cache_resource(show_spinner=False)
def _holdout(data_json: str, protocol: str) -> HoldoutSplit:
    return holdout_split(load_catalog(DataConfig.model_validate_json(data_json)), protocol)


def get_holdout(config: PipelineConfig, protocol: str = "T") -> HoldoutSplit:
    """The evaluation split of the config's data (computed once per process)."""
    return _holdout(config.data.model_dump_json(), protocol)


# Escaped wherever they stand: emphasis, code, links and images, HTML and autolinks, LaTeX,
# strikethrough, tables and e-mail autolinks. Only in the positions where they act: "_" at a
# word edge (snake_case stays readable), ":" before a non-space (":rocket:", ":red[...]",
# "https://"), "&" opening an entity ("&amp;"), the "." of "www." (a bare-domain autolink).
_MD_INLINE = re.compile(r"[\\`*\[\]<>$~|!@{}]|(?<![^\W_])_|_(?![^\W_])|:(?=\S)|&(?=#?\w+;)|(?<=www)\.", re.IGNORECASE)
# A heading, quote, list item or ordered-list number only counts at the start of a line.
_MD_BLOCK_START = re.compile(r"^(\s*)([#+\-=]|\d+(?=[.)]))")


def md_escape(text: object) -> str:
    """Any text (a visitor's, a file's, a catalog's or a model's) as one line that markdown shows verbatim.

    Every markdown, LaTeX, emoji-code and HTML construct is escaped with a backslash, so
    ``st.markdown``, ``st.caption``, ``st.error`` and widget labels show the characters as typed.
    """
    line = " ".join(str(text).splitlines())
    escaped = _MD_INLINE.sub(lambda m: "\\" + m.group(0), line)
    return _MD_BLOCK_START.sub(_escape_block_marker, escaped)


def _escape_block_marker(match: re.Match[str]) -> str:
    indent, marker = match.groups()
    # "3." becomes "3\.", "-" becomes "\-": the escaped character is the one that makes the block.
    return indent + (marker + "\\" if marker[0].isdigit() else "\\" + marker)


def show_error(message: object) -> None:
    """``st.error`` for a message that may quote what a visitor typed or uploaded (shown verbatim)."""
    st.error(md_escape(message))


def show_warning(message: object) -> None:
    """``st.warning``, the message shown verbatim."""
    st.warning(md_escape(message))


def show_info(message: object) -> None:
    """``st.info``, the message shown verbatim."""
    st.info(md_escape(message))


def claim_segments(text: str, claims: list[Claim]) -> list[tuple[str, bool | None]]:
    """``text`` cut into (segment, supported) pieces: True inside a supported claim, False inside an
    unsupported one (it wins where claims overlap), None outside every claim."""
    marks: list[bool | None] = [None] * len(text)
    for claim in sorted(claims, key=lambda c: c.supported, reverse=True):
        for i in range(max(claim.start, 0), min(claim.end, len(text))):
            marks[i] = claim.supported and marks[i] is not False
    out: list[tuple[str, bool | None]] = []
    for i, mark in enumerate(marks):
        if out and out[-1][1] is mark:
            out[-1] = (out[-1][0] + text[i], mark)
        else:
            out.append((text[i], mark))
    return out


def reason_markdown(item: RankedItem, reason: ReasonOut | None = None) -> str:
    """A reason (the item's shown reason by default) with its verified claims coloured: supported claims
    green, unsupported ones red. Every piece is escaped first, so the text shows exactly as written."""
    reason = reason if reason is not None else item.reason
    if reason is None:
        return ""
    claims = reason.verdict.claims if reason.verdict is not None else []
    parts = []
    for segment, supported in claim_segments(reason.text, claims):
        escaped = md_escape(segment)
        if supported is None or not escaped.strip():
            parts.append(escaped)
        else:
            parts.append(f":{'green' if supported else 'red'}-background[{escaped}]")
    return "".join(parts)


def faithfulness_badge(item: RankedItem) -> str:
    """The verdict badge: "faithful" when the reason passed the verifier, "not faithful" with its problems."""
    reason = item.reason
    if reason is None or reason.faithful is None:
        return ":gray-badge[not checked]"
    if reason.faithful:
        return ":green-badge[faithful]"
    problems = "; ".join(reason.verdict.problems if reason.verdict else []) or "failed verification"
    return f":red-badge[not faithful] {md_escape(problems)}"


def render_verdict(verdict: Verdict | None) -> None:
    """The verdict in an expander: each problem, then each claim with what supports it or why it does not."""
    if verdict is None:
        return
    label = "Verdict: passed" if verdict.passed else f"Verdict: {len(verdict.problems)} problem(s)"
    with st.expander(label, expanded=False):
        for problem in verdict.problems:
            st.markdown("- " + md_escape(problem))
        rows = [
            {"claim": c.text, "kind": c.kind, "supported": c.supported, "why": c.evidence or c.problem or ""}
            for c in verdict.claims
        ]
        if rows:
            # No key: an item's slot is drawn twice in one run (pending, then written).
            st.dataframe(rows, hide_index=True)
        elif not verdict.problems:
            st.caption("No checkable claims.")


def rejected_rows(reason: ReasonOut) -> list[dict[str, str]]:
    """What the model wrote and was not shown, one row per candidate with why it was rejected."""
    return [{"candidate": r.text, "rejected because": "; ".join(r.problems)} for r in reason.rejected]


def render_rejected(reason: ReasonOut) -> None:
    """The generated candidates that were not shown, on demand (stakeholders should see what the model wrote)."""
    rows = rejected_rows(reason)
    if not rows:
        return
    with st.expander(f"What the model wrote and was not shown ({len(rows)})", expanded=False):
        st.dataframe(rows, hide_index=True)


def render_item(item: RankedItem, slot: Any | None = None, pending: bool = False) -> None:
    """One ranked item: title, score, the reason with its claims coloured, the verdict badge and its
    expander, and the template reason when another reason is shown."""
    target = slot if slot is not None else st
    with target.container(border=True):
        st.markdown(f"**{item.rank}. {md_escape(item.title)}** · score {item.score:.3f}")
        if item.categories:
            st.caption(md_escape(", ".join(item.categories)))
        if pending:
            st.caption("Writing the generated reason…")
            st.markdown(md_escape(item.reason.text if item.reason else ""))
            return
        generator = item.reason.generator if item.reason else "none"
        fallback = ""
        if item.reason is not None and item.reason.fallback:
            fallback = " :orange-badge[fallback: no generated reason passed]"
        st.markdown(
            f"{reason_markdown(item)}  \n{faithfulness_badge(item)} :blue-badge[{md_escape(generator)}]{fallback}"
        )
        if item.reason is not None:
            render_verdict(item.reason.verdict)
            render_rejected(item.reason)
        template = item.template_reason
        if template is not None and item.reason is not None and template.text != item.reason.text:
            st.caption("Template reason: " + reason_markdown(item, template))


def session_feedback_id() -> str:
    """This browser session's anonymous feedback id, made on first use and kept in the session state."""
    if FEEDBACK_SESSION not in st.session_state:
        st.session_state[FEEDBACK_SESSION] = new_session_id()
    return str(st.session_state[FEEDBACK_SESSION])


def _session_is_active(session_id: str) -> bool:
    return not Runtime.exists() or Runtime.instance().is_active_session(session_id)


@contextmanager
def cancelled_with_session(poll_s: float = 0.5) -> Iterator[threading.Event]:
    """An event that is set once this browser session has gone (tab closed or reloaded).

    Long library calls take it as their ``cancel`` event, so their work stops with the page; a
    watcher thread asks the runtime, because the library's worker never returns to the script.
    """
    cancel = threading.Event()
    done = threading.Event()
    ctx = get_script_run_ctx(suppress_warning=True)
    if ctx is not None and not _session_is_active(ctx.session_id):
        cancel.set()
    elif ctx is not None:
        session_id = ctx.session_id

        def watch() -> None:
            while not done.wait(poll_s):
                if not _session_is_active(session_id):
                    cancel.set()
                    return

        threading.Thread(target=watch, name="genre-session-watch", daemon=True).start()
    try:
        yield cancel
    finally:
        done.set()


@st.cache_resource(show_spinner=False)
def _store(url: str | None) -> Any:
    from genre.feedback import FeedbackStore

    return FeedbackStore(url)


def get_store() -> Any | None:
    """The feedback store, or None with a visible warning when it cannot be opened (pages keep working)."""
    try:
        return _store(os.environ.get("GENRE_FEEDBACK_URL"))
    except GenreError as exc:
        show_warning(f"Feedback is off for now: {exc}")
        return None
