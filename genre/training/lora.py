"""The LoRA trainer of the reason generator: seeded, checkpointed, resumable, fast on 2 CPU cores.

**Fast on 2 CPU cores.** The LoRA adapters sit on the top ``tune_layers`` decoder layers only.
The layers below are frozen and get no gradient, so each example's hidden state after them is
computed once and cached; a step then runs only the top layers, and the output head only on the
answer positions (a 49k-word vocabulary over ~200 prompt positions would cost more than the layers).

**Checkpoints.** ``checkpoint/`` beside the adapter holds the adapter, optimizer state, torch RNG
and step of the last checkpoint, for ``--resume``; a resumed run continues exactly as if it had
never stopped.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, Field

from genre.components.reasoners.tuned import ADAPTER_WEIGHTS, first_line
from genre.core.errors import ConfigError, InputError
from genre.training.reasoner_data import TrainingExample

__all__ = ["CHECKPOINT_DIR", "ReasonTrainer", "TuneSettings", "lora_config"]

CHECKPOINT_DIR = "checkpoint"
_OPTIMIZER_FILE = "optimizer.safetensors"
_STATE_FILE = "trainer-state.json"


class TuneSettings(BaseModel):
    """Everything that shapes an adapter; recorded in its card."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    steps: int = Field(default=150, ge=1, le=100_000)
    """Optimizer steps (each over ``batch_size`` examples)."""
    batch_size: int = Field(default=8, ge=1, le=512)
    """Examples per optimizer step (gradients are accumulated one example at a time)."""
    lr: float = Field(default=2e-3, gt=0.0, le=0.1)
    """Peak learning rate (AdamW), reached after ``warmup_steps`` and decayed to a tenth by a cosine."""
    warmup_steps: int = Field(default=6, ge=0)
    """Steps of linear learning-rate warmup."""
    lora_r: int = Field(default=16, ge=1, le=256)
    """LoRA rank."""
    lora_alpha: int = Field(default=32, ge=1)
    """LoRA scaling numerator (the update is scaled by alpha / r)."""
    lora_dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    """Dropout on the LoRA input."""
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    """Linear layers of each tuned decoder layer that get an adapter."""
    tune_layers: int = Field(default=8, ge=1)
    """Decoder layers, counted from the top, that get adapters; the frozen ones below are computed once."""
    template_users: int = Field(default=40, ge=0)
    """Users of the config's catalog whose recommendations become template-reason examples."""
    template_items: int = Field(default=4, ge=1, le=50)
    """Top items explained per such user."""
    composed: int = Field(default=2, ge=0, le=10)
    """Composed slotted sentences per training request (:mod:`genre.training.composed`); 0 leaves them out."""
    seed: int = 0
    """Seeds the example order, the user sample and torch."""
    eval_pairs: int = Field(default=40, ge=0)
    """Held-out reference pairs (split over the domains) scored for the card after training; 0 skips."""
    checkpoint_every: int = Field(default=10, ge=1)
    """Steps between checkpoints (one is also written on interrupt and at the end)."""
    max_grad_norm: float = Field(default=1.0, gt=0.0)
    """Gradient clipping norm."""

    def resumable(self) -> dict[str, Any]:
        """The settings a resumed run must share with the checkpoint (``steps`` may grow)."""
        return self.model_dump(mode="json", exclude={"steps", "eval_pairs", "checkpoint_every"})


@dataclass
class _Split:
    """A decoder-only model cut below its tuned layers: frozen bottom, trainable top, final norm and head."""

    embed: Any
    rotary: Any
    bottom: list[Any]
    top: list[Any]
    norm: Any
    head: Any


def _split_model(model: Any, tuned: int) -> _Split | None:
    """The layer stack of a Llama-style causal LM (SmolLM2), or None when it is shaped otherwise."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    inner = getattr(base, "model", None)
    parts = [getattr(inner, name, None) for name in ("embed_tokens", "rotary_emb", "layers", "norm")]
    head = base.get_output_embeddings() if hasattr(base, "get_output_embeddings") else None
    if inner is None or head is None or any(p is None for p in parts):
        return None
    embed, rotary, layers, norm = cast(list[Any], parts)
    cut = len(layers) - min(tuned, len(layers))
    return _Split(embed, rotary, list(layers[:cut]), list(layers[cut:]), norm, head)


def _run_layers(layers: list[Any], hidden: Any, positions: tuple[Any, Any, Any]) -> Any:
    rotary, position_ids, mask = positions
    for layer in layers:
        out = layer(hidden, attention_mask=mask, position_embeddings=rotary, position_ids=position_ids)
        hidden = out[0] if isinstance(out, tuple) else out
    return hidden


def _lr_at(step: int, settings: TuneSettings) -> float:
    """Learning rate for (0-based) ``step``: linear warmup, then cosine decay to a tenth of the peak."""
    if step < settings.warmup_steps:
        return settings.lr * (step + 1) / settings.warmup_steps
    span = max(1, settings.steps - settings.warmup_steps)
    progress = min(1.0, (step - settings.warmup_steps) / span)
    return settings.lr * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress)))


def lora_config(settings: TuneSettings, num_layers: int) -> Any:
    from peft import LoraConfig

    first = max(0, num_layers - settings.tune_layers)
    return LoraConfig(
        r=settings.lora_r,
        lora_alpha=settings.lora_alpha,
        lora_dropout=settings.lora_dropout,
        target_modules=list(settings.target_modules),
        layers_to_transform=list(range(first, num_layers)),
        layers_pattern="layers",
        task_type="CAUSAL_LM",
    )


class ReasonTrainer:
    """LoRA training over :class:`TrainingExample` s: seeded, checkpointed, resumable.

    The example order is a seeded shuffle per epoch, and step ``s`` always takes examples
    ``s * batch_size ... (s + 1) * batch_size - 1`` of that endless sequence, so a run resumed
    from a checkpoint at step ``s`` continues exactly as if it had never stopped.
    """

    def __init__(
        self,
        model: Any,
        examples: Sequence[TrainingExample],
        settings: TuneSettings,
        device: str,
        checkpoint: Path,
        data_key: str,
    ) -> None:
        """``model`` is a peft-wrapped causal LM; ``checkpoint`` the directory checkpoints go to."""
        import torch

        if not examples:
            raise InputError("there are no training examples: no reference pairs and no template reasons")
        self.model = model
        self.examples = list(examples)
        self.settings = settings
        self.device = device
        self.checkpoint = checkpoint
        self.data_key = data_key
        self.step = 0
        self.loss_curve: list[tuple[int, float]] = []
        self.seconds = 0.0
        self.resumed_from: int | None = None
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(self.params, lr=settings.lr, weight_decay=0.0)
        self._features: dict[int, Any] = {}
        self._orders: dict[int, list[int]] = {}
        self.split = _split_model(model, settings.tune_layers)
        if self.split is not None and not self._split_matches():
            self.split = None

    # -- the forward pass --

    def _positions(self, length: int, dtype: Any) -> tuple[Any, Any, Any]:
        import torch

        assert self.split is not None
        position_ids = torch.arange(length, device=self.device).unsqueeze(0)
        mask = torch.full((length, length), float("-inf"), device=self.device, dtype=dtype).triu(1)[None, None]
        probe = torch.zeros(1, length, 1, device=self.device, dtype=dtype)
        return self.split.rotary(probe, position_ids), position_ids, mask

    def _bottom(self, index: int) -> Any:
        """Hidden state after the frozen layers, computed once per example (no gradient flows there)."""
        import torch

        if index not in self._features:
            assert self.split is not None
            ids = torch.tensor([self.examples[index].input_ids], device=self.device)
            with torch.no_grad():
                hidden = self.split.embed(ids)
                self._features[index] = _run_layers(
                    self.split.bottom, hidden, self._positions(ids.shape[1], hidden.dtype)
                )
        return self._features[index]

    def _answer_logits(self, index: int) -> tuple[Any, Any]:
        """Logits at the positions that predict answer tokens, and those tokens."""
        import torch

        ex = self.examples[index]
        labels = torch.tensor(ex.labels[1:], device=self.device)
        keep = (labels != -100).nonzero().squeeze(-1)
        if self.split is not None:
            hidden = self._bottom(index)
            hidden = _run_layers(self.split.top, hidden, self._positions(hidden.shape[1], hidden.dtype))
            hidden = self.split.norm(hidden)[0, :-1]
            return self.split.head(hidden.index_select(0, keep)), labels.index_select(0, keep)
        ids = torch.tensor([ex.input_ids], device=self.device)
        logits = self.model(input_ids=ids).logits[0, :-1]
        return logits.index_select(0, keep), labels.index_select(0, keep)

    def _split_matches(self) -> bool:
        """Whether the cut model reproduces the whole model's logits (else train through the whole model)."""
        import torch

        self.model.eval()
        try:
            with torch.no_grad():
                ex = self.examples[0]
                ids = torch.tensor([ex.input_ids], device=self.device)
                full = self.model(input_ids=ids).logits[0, :-1]
                labels = torch.tensor(ex.labels[1:], device=self.device)
                keep = (labels != -100).nonzero().squeeze(-1)
                cut, _ = self._answer_logits(0)
                ok = bool(torch.allclose(cut, full.index_select(0, keep), atol=1e-3, rtol=1e-3))
        except (TypeError, ValueError, RuntimeError, AttributeError):
            ok = False
        self._features.clear()
        return ok

    # -- the loop --

    def _order(self, epoch: int) -> list[int]:
        if epoch not in self._orders:
            order = list(range(len(self.examples)))
            random.Random(f"{self.settings.seed}:{epoch}").shuffle(order)
            self._orders = {epoch: order}  # only the current epoch is needed
        return self._orders[epoch]

    def batch(self, step: int) -> list[int]:
        """Example indices of (0-based) ``step``."""
        n, size = len(self.examples), self.settings.batch_size
        return [self._order(g // n)[g % n] for g in range(step * size, (step + 1) * size)]

    def train_step(self) -> float:
        """One optimizer step; returns the mean loss per answer token."""
        import torch

        self.model.train()
        indices = self.batch(self.step)
        tokens = sum(sum(1 for label in self.examples[i].labels if label != -100) for i in indices)
        total = 0.0
        for index in indices:
            logits, targets = self._answer_logits(index)
            loss = torch.nn.functional.cross_entropy(logits.float(), targets, reduction="sum")
            (loss / tokens).backward()
            total += float(loss.detach())
        torch.nn.utils.clip_grad_norm_(self.params, self.settings.max_grad_norm)
        for group in self.optimizer.param_groups:
            group["lr"] = _lr_at(self.step, self.settings)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        return total / tokens

    def train(self, progress: bool = False, on_step: Callable[[int, float], None] | None = None) -> None:
        """Run to ``settings.steps``, checkpointing every ``checkpoint_every`` steps and on interrupt."""
        from tqdm import tqdm

        bar = tqdm(
            total=self.settings.steps, initial=self.step, desc="train-reasoner", unit="step", disable=not progress
        )
        started = time.perf_counter()
        try:
            while self.step < self.settings.steps:
                loss = self.train_step()
                self.loss_curve.append((self.step, round(loss, 4)))
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.3f}")
                if self.step % self.settings.checkpoint_every == 0 or self.step == self.settings.steps:
                    self.seconds += time.perf_counter() - started
                    started = time.perf_counter()
                    self.save_checkpoint()
                if on_step is not None:
                    on_step(self.step, loss)
        except KeyboardInterrupt:
            self.seconds += time.perf_counter() - started
            started = time.perf_counter()
            self.save_checkpoint()
            raise
        finally:
            bar.close()
            self.seconds += time.perf_counter() - started

    # -- checkpoints --

    def save_checkpoint(self) -> None:
        """Adapter, optimizer state, torch RNG and step, written to a fresh directory then swapped in."""
        import torch
        from safetensors.torch import save_file

        tmp = self.checkpoint.with_name(self.checkpoint.name + ".partial")
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        self.model.save_pretrained(str(tmp))
        (tmp / "README.md").unlink(missing_ok=True)
        state = self.optimizer.state_dict()
        tensors = {"rng.cpu": torch.get_rng_state()}
        for index, values in state["state"].items():
            for key, value in values.items():
                tensor = value if torch.is_tensor(value) else torch.tensor(value)
                tensors[f"state.{index}.{key}"] = tensor.detach().cpu().contiguous()
        save_file(tensors, str(tmp / _OPTIMIZER_FILE))
        meta = {
            "step": self.step,
            "loss_curve": self.loss_curve,
            "seconds": round(self.seconds, 2),
            "data_hash": self.data_key,
            "settings": self.settings.resumable(),
            "param_groups": state["param_groups"],
        }
        (tmp / _STATE_FILE).write_text(json.dumps(meta, indent=1))
        if self.checkpoint.exists():
            shutil.rmtree(self.checkpoint)
        tmp.rename(self.checkpoint)

    def load_checkpoint(self) -> bool:
        """Continue from the checkpoint when there is one; False when there is none to resume."""
        import torch
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        state_file = self.checkpoint / _STATE_FILE
        if not state_file.is_file():
            return False
        try:
            meta = json.loads(state_file.read_text())
            adapter = load_file(str(self.checkpoint / ADAPTER_WEIGHTS))
            tensors = load_file(str(self.checkpoint / _OPTIMIZER_FILE))
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"checkpoint {self.checkpoint} cannot be read ({first_line(exc)}); drop --resume to start over"
            ) from exc
        if meta.get("data_hash") != self.data_key or meta.get("settings") != self.settings.resumable():
            raise ConfigError(
                f"checkpoint {self.checkpoint} was written for other training data or settings; "
                "drop --resume to start over, or pass another --out"
            )
        set_peft_model_state_dict(self.model, adapter)
        per_param: dict[int, dict[str, Any]] = {}
        for name, tensor in tensors.items():
            if name.startswith("state."):
                _, index, key = name.split(".", 2)
                per_param.setdefault(int(index), {})[key] = tensor
        self.optimizer.load_state_dict({"state": per_param, "param_groups": meta["param_groups"]})
        if "rng.cpu" in tensors:
            torch.set_rng_state(tensors["rng.cpu"])
        self.step = int(meta["step"])
        self.loss_curve = [(int(s), float(v)) for s, v in meta["loss_curve"]]
        self.seconds = float(meta.get("seconds", 0.0))
        self.resumed_from = self.step
        return True
