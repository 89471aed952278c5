"""An adapter's card, ``genre-card.json``: what it was trained from, how, and how well it does.

The card records the reason styles the adapter was trained for (``tuned-local`` refuses any other), the base
model and its fingerprint (``tuned-local`` refuses an adapter of another
base), the data hash and where the examples came from, the settings and LoRA layout, the loss curve,
seconds, device and library versions, and metrics on held-out reference pairs. Adapters trained on
MovieLens data say so (``redistributable: false``): its license forbids sharing anything derived
from it, so they must stay in the cache.
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from genre.components.env import Env
from genre.components.reasoners.points import POINT_SYSTEM
from genre.components.reasoners.slotted import SYSTEM
from genre.components.reasoners.styles import STYLES
from genre.components.reasoners.tuned import CARD_FILE, TunedLocalConfig, TunedLocalReasoner, base_fingerprint
from genre.config import PipelineConfig
from genre.evaluation.explanations import (
    REFERENCE_BATCH,
    REFERENCE_HOLDOUT,
    REFERENCE_SPLIT_SEED,
    reference_cases,
    score_generator,
    token_counter,
)
from genre.models import GENERATOR_NAME
from genre.training.lora import ReasonTrainer, TuneSettings
from genre.training.reasoner_data import ReferenceSet, TrainingExample

__all__ = ["CARD_FORMAT", "MOVIELENS_LOADER", "adapter_card", "held_out_metrics", "is_movielens", "write_card"]

CARD_FORMAT = 1
PROMPT_KIND = "slotted"
"""The prompt an adapter was trained under: the grounded reasoner's slotted prompt without prefill."""
MOVIELENS_LOADER = "movielens-100k"


def write_card(out: Path, card: dict[str, Any]) -> None:
    """Write ``out/genre-card.json`` atomically: a reader never sees half a card."""
    tmp = out / (CARD_FILE + ".partial")
    tmp.write_text(json.dumps(card, indent=2))
    tmp.replace(out / CARD_FILE)


def system_prompt_sha() -> str:
    """A short hash of the system prompt the adapter was trained under (a changed prompt means retraining)."""
    return hashlib.sha256(SYSTEM.encode()).hexdigest()[:16]


def versions() -> dict[str, str]:
    """The library versions the adapter was trained with."""
    import peft
    import torch
    import transformers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
    }


def adapter_card(
    *,
    config: PipelineConfig,
    out: Path,
    base_dir: Path,
    examples: Sequence[TrainingExample],
    data_key: str,
    catalog: str,
    prompt: TunedLocalConfig,
    survival: dict[str, dict[str, int]] | None = None,
    trainer: ReasonTrainer,
    settings: TuneSettings,
    num_layers: int,
    device: str,
) -> dict[str, Any]:
    """The card of an adapter just trained into ``out`` (``held_out`` is None until it is scored)."""
    import torch

    movielens = is_movielens(config)
    trained = {ex.style for ex in examples}
    sources: dict[str, int] = {}
    for ex in examples:
        sources[ex.source] = sources.get(ex.source, 0) + 1
    return {
        "format": CARD_FORMAT,
        "name": out.name,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": config.name,
        "base_model": {"name": GENERATOR_NAME, "path": str(base_dir), "fingerprint": base_fingerprint(base_dir)},
        "data": {
            "hash": data_key,
            "examples": len(examples),
            "sources": sources,
            "style_examples": {
                style: sum(ex.style == style for ex in examples) for style in STYLES if style in trained
            },
            "catalog": catalog,
            "loader": config.data.loader,
            "movielens": movielens,
            "reference_holdout": {"fraction": REFERENCE_HOLDOUT, "seed": REFERENCE_SPLIT_SEED, "by": "item"},
            "survival": survival or {},
        },
        "redistributable": not movielens,
        "license_note": (
            "trained on MovieLens-100K data: keep it in the cache, never commit or share it"
            if movielens
            else "trained on the project's own sample data"
        ),
        "styles": [s for s in STYLES if s in trained],
        "prompt": {
            "kind": PROMPT_KIND,
            "system_prompt_sha": system_prompt_sha(),
            "point_system_sha": hashlib.sha256(POINT_SYSTEM.encode()).hexdigest()[:16],
            "prefill": False,
            "shots": prompt.shots,
            "vocabulary": prompt.vocabulary,
        },
        "steps": trainer.step,
        "epochs": round(trainer.step * settings.batch_size / len(examples), 2),
        "batch_size": settings.batch_size,
        "lr": settings.lr,
        "lora": {
            "r": settings.lora_r,
            "alpha": settings.lora_alpha,
            "dropout": settings.lora_dropout,
            "target_modules": list(settings.target_modules),
            "layers": list(range(max(0, num_layers - settings.tune_layers), num_layers)),
            "trainable_parameters": sum(p.numel() for p in trainer.params),
        },
        "settings": settings.model_dump(mode="json"),
        "cached_bottom_layers": trainer.split is not None,
        "resumed_from": trainer.resumed_from,
        "loss_curve": [[s, v] for s, v in trainer.loss_curve],
        "train_seconds": round(trainer.seconds, 1),
        "device": device,
        "threads": torch.get_num_threads(),
        "versions": versions(),
        "held_out": None,
    }


def is_movielens(config: PipelineConfig) -> bool:
    """Whether ``config`` trains on MovieLens data, whose license forbids redistributing the adapter."""
    return config.data.loader == MOVIELENS_LOADER


def held_out_metrics(out: Path, device: str, sets: Sequence[ReferenceSet], limit: int) -> dict[str, Any]:
    """The saved adapter, loaded as ``tuned-local`` does, scored on up to ``limit`` held-out reference pairs.

    Each domain is scored with a reasoner prepared on its own catalog (the judge checks claims against it);
    the figures are the mean over domains weighted by their pairs.
    """
    per_domain = math.ceil(limit / max(len(sets), 1))
    count_tokens, unit = token_counter()
    rows: list[tuple[int, dict[str, Any]]] = []
    for ref in sets:
        cases = reference_cases(ref.catalog, pairs=ref.one_line())[:per_domain]
        if not cases:
            continue
        reasoner = TunedLocalReasoner({"adapter_path": str(out)})
        reasoner.prepare(Env(ref.catalog, device))
        batches = [cases[i : i + REFERENCE_BATCH] for i in range(0, len(cases), REFERENCE_BATCH)]
        row = score_generator(TunedLocalReasoner.name, reasoner, batches, count_tokens)
        rows.append((len(cases), {k: v for k, v in row.__dict__.items() if k not in ("generator", "notices")}))
    total = sum(n for n, _ in rows)
    metrics: dict[str, Any] = {}
    for key in rows[0][1] if rows else ():
        values = [(n, m[key]) for n, m in rows if isinstance(m[key], int | float)]
        metrics[key] = sum(n * v for n, v in values) / total if values and total else None
    return {"pairs": total, "token_unit": unit, **metrics}
