"""Shared helpers for benchmark scripts: machine description and RESULTS.md sections."""

from __future__ import annotations

import os
import platform
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from genre import Pipeline, load_config
from genre.components.reasoners.template import requests_from_trace
from genre.core.types import ReasonRequest
from genre.data import load_profiles
from genre.data.users import dataset_user_context, example_profile_context
from genre.text.verifier import Verifier

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
ROOT = Path(__file__).resolve().parent.parent


def machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{cpu}, {os.cpu_count()} cores, {gpu}, Python {platform.python_version()}, torch {torch.__version__}"


def write_section(name: str, body: str) -> None:
    """Replace (or append) the section between this benchmark's markers in RESULTS.md."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = f"{start}\n_Recorded {stamp} on {machine()}._\n\n{body.strip()}\n{end}"
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    RESULTS.write_text(text)


@dataclass
class Run:
    """One user's top-k: where it came from, its catalog's verifier and the requests the reasoners explain."""

    source: str
    verifier: Verifier
    requests: list[ReasonRequest]


def ranked_runs(
    k: int,
    movie_users: Sequence[str],
    profiles: int | None = None,
    domains: Sequence[str] = ("movies", "products", "news"),
) -> list[Run]:
    """Rank (without reasons) the given MovieLens users and the first ``profiles`` example profiles of the
    products and news configs (all of them when None), in ``domains`` order; movies is skipped without users."""
    out: list[Run] = []
    for name in domains:
        if name == "movies" and not movie_users:
            continue
        pipe = Pipeline(load_config(ROOT / "configs" / f"{name}.toml"))
        verifier = Verifier(pipe.catalog)
        if name == "movies":
            contexts = [(f"movies user {u}", dataset_user_context(pipe.catalog, u)) for u in movie_users]
        else:
            known = load_profiles(pipe.config.data)
            contexts = [
                (f"{name} {p}", example_profile_context(pipe.catalog, known, p)) for p in list(known)[:profiles]
            ]
        for label, ctx in contexts:
            trace = pipe.run(ctx, k=k, reasons=False)
            out.append(Run(label, verifier, requests_from_trace(trace, pipe.catalog)))
    return out
