"""``python -m genre train-reasoner``: train (or resume) a LoRA adapter that writes faithful reasons.

The steps: training pairs from the reference reasons and the config's pipeline
(:mod:`genre.training.reasoner_data`), delexicalised into slotted sentences
(:mod:`genre.training.slotted_data`) and tokenized exactly as ``tuned-local`` prompts; LoRA training
on the prepared SmolLM2 (:mod:`genre.training.lora`); the adapter saved with its card and scored
on held-out reference pairs through :mod:`genre.evaluation.explanations` (:mod:`genre.training.card`).
``tuned-local`` (:mod:`genre.components.reasoners.tuned`) then loads it by name or path.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from genre.components.reasoners.tuned import (
    TunedLocalReasoner,
    adapter_dir,
    load_base,
    require_base,
)
from genre.core.errors import ConfigError, InputError
from genre.core.paths import PROJECT_ROOT
from genre.models import GENERATOR_NAME, Generator, resolve_device
from genre.training.card import adapter_card, held_out_metrics, is_movielens, write_card
from genre.training.lora import CHECKPOINT_DIR, ReasonTrainer, TuneSettings, lora_config
from genre.training.reasoner_data import ReferenceSet, data_hash, load_reference_sets, template_pairs
from genre.training.slotted_data import SlottedPair, build_slotted_example, grounded_pairs

if TYPE_CHECKING:
    from genre.config import PipelineConfig
    from genre.pipeline import Pipeline

__all__ = ["TrainResult", "settings_from", "train_reasoner"]


@dataclass
class TrainResult:
    out: Path
    card: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def train_reasoner(
    config: PipelineConfig,
    settings: TuneSettings | None = None,
    out: Path | None = None,
    resume: bool = False,
    progress: bool = False,
    pipeline: Pipeline | None = None,
    references: Sequence[ReferenceSet] | None = None,
    on_step: Callable[[int, float], None] | None = None,
    extra: Sequence[SlottedPair] = (),
    extra_survival: dict[str, dict[str, int]] | None = None,
    extra_repeat: int = 1,
) -> TrainResult:
    """Train (or resume) an adapter for ``config``'s catalog and write it with its card to ``out``.

    ``out`` defaults to ``<cache>/adapters/<config name>``. ``references`` defaults to every
    reference domain's pairs; a malformed reference row raises a DataError naming file and line.
    ``extra`` are already slotted pairs from elsewhere (reviews, :mod:`genre.training.review_data`),
    each used ``extra_repeat`` times; ``extra_survival`` adds their outcomes to the card.
    """
    import torch
    from peft import get_peft_model

    settings = settings or TuneSettings()
    started = time.perf_counter()
    device = resolve_device(config.device)
    out = (out or adapter_dir(config.name)).expanduser()
    if is_movielens(config) and _inside(out, PROJECT_ROOT):
        raise ConfigError(
            f"--out {out} is inside the repository, but this adapter is trained on MovieLens data, whose license "
            "forbids redistribution; leave --out at its default (the cache) or pick a folder outside the repository"
        )
    notes: list[str] = []
    sets = list(references) if references is not None else load_reference_sets()
    if pipeline is None:
        from genre.pipeline import Pipeline

        pipeline = Pipeline(config, progress=progress)
    templates = template_pairs(pipeline, settings.template_users, settings.template_items, settings.seed)
    pairs, survival = grounded_pairs(sets, templates, pipeline.catalog, settings.composed, settings.seed)
    # A few reviewed reasons among hundreds of generated pairs would barely move the adapter: repeat them.
    pairs += [p for p in extra for _ in range(extra_repeat)]
    survival |= extra_survival or {}

    # Training, not generation: the LoRA initialization is seeded here, and the checkpoint keeps the RNG.
    torch.manual_seed(settings.seed)
    base_dir = require_base()
    model, tokenizer = load_base(device)
    prompter = TunedLocalReasoner({"adapter_path": str(out)})
    prompter.generator = Generator(model=model, tokenizer=tokenizer, device=device, name=GENERATOR_NAME)
    examples = [build_slotted_example(prompter, p) for p in pairs]
    key = data_hash(examples)
    num_layers = int(model.config.num_hidden_layers)
    peft_model = get_peft_model(model, lora_config(settings, num_layers))
    trainer = ReasonTrainer(peft_model, examples, settings, device, out / CHECKPOINT_DIR, key)
    if trainer.split is None:
        notes.append("the model could not be cut below its tuned layers; training ran through the whole model")
    if resume and trainer.load_checkpoint():
        notes.append(f"resumed from the checkpoint at step {trainer.resumed_from}")
    elif resume:
        notes.append(f"no checkpoint in {out / CHECKPOINT_DIR}; started from step 0")
    out.mkdir(parents=True, exist_ok=True)
    trainer.train(progress=progress, on_step=on_step)

    peft_model.save_pretrained(str(out))
    (out / "README.md").unlink(missing_ok=True)
    card = adapter_card(
        config=config,
        out=out,
        base_dir=base_dir,
        examples=examples,
        data_key=key,
        catalog=pipeline.catalog.name,
        prompt=prompter.config,
        survival=survival,
        trainer=trainer,
        settings=settings,
        num_layers=num_layers,
        device=device,
    )
    write_card(out, card)
    del trainer, peft_model, model
    if settings.eval_pairs > 0:
        card["held_out"] = held_out_metrics(out, device, sets, settings.eval_pairs)
    card["total_seconds"] = round(time.perf_counter() - started, 1)
    write_card(out, card)
    return TrainResult(out, card, notes)


def settings_from(**overrides: Any) -> TuneSettings:
    """Settings with the given overrides; a bad value is an InputError naming it."""
    try:
        return TuneSettings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InputError(f"invalid {'.'.join(str(p) for p in err['loc'])}: {err['msg']}") from None
