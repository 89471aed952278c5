"""A LoRA-tuned SmolLM2 that writes faithful reasons: ``python -m genre train-reasoner`` and ``tuned-local``.

**Training data.** Every example is a (:class:`ReasonRequest`, reason) pair:

* the hand-written reference pairs of each reference domain (products, news), minus the
  recommended items :func:`reference_split` holds out (20%, by item) for evaluation;
* template reasons for real requests: the config's pipeline ranks items for a sample of users
  (dataset users outside the explanation-evaluation sample, or short synthetic histories for a
  catalog without interactions) and the template generator explains them. For MovieLens configs
  this is what teaches the model film titles and genres.

**Same prompt as inference.** An example's input is exactly what the ``tuned-local`` reasoner
feeds the model (:meth:`TunedLocalReasoner._input_text`: system prompt, the evidence-only prompt of
:func:`~genre.components.reasoners.generators.build_prompt`, the chat template, no prefill), tokenized the same
way; the loss covers only the answer tokens (the reason and the end-of-turn token).

**Fast on 2 CPU cores.** The LoRA adapters sit on the top ``tune_layers`` decoder layers only.
The layers below are frozen and get no gradient, so each example's hidden state after them is
computed once and cached; a step then runs only the top layers, and the output head only on the
answer positions (a 49k-word vocabulary over ~200 prompt positions would cost more than the layers).

**Files.** An adapter directory holds ``adapter_config.json`` and ``adapter_model.safetensors``
(peft ``save_pretrained``) and ``genre-card.json`` (base model and its fingerprint, data hash,
settings, loss curve, held-out metrics, seconds, device). ``checkpoint/`` beside them holds the
adapter, optimizer state and step of the last checkpoint, for ``--resume``. Adapters trained on
MovieLens data record it in the card and must stay in the cache: its license forbids
redistributing anything derived from it.
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
import random
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from genre.components.env import Env
from genre.components.reasoners.generators import (
    LocalLLMConfig,
    _named_history,
    _TransformersReasoner,
    clean_reason,
    mentioned_evidence,
)
from genre.components.reasoners.template import TemplateReasoner, requests_from_trace
from genre.core.errors import ConfigError, InputError, ModelUnavailableError
from genre.core.paths import PROJECT_ROOT, cache_dir
from genre.core.types import Catalog, HistoryEvent, ReasonOut, ReasonRequest, UserContext
from genre.models import (
    GENERATOR_NAME,
    Generator,
    _quiet_transformers,
    generator_cache_path,
    generator_is_prepared,
    resolve_device,
)
from genre.text.faithfulness import FaithfulnessChecker

if TYPE_CHECKING:
    from genre.config import PipelineConfig
    from genre.data.references import ReferencePair
    from genre.pipeline import Pipeline

__all__ = [
    "DEFAULT_ADAPTER",
    "SHIPPED_ADAPTERS",
    "ReasonTrainer",
    "TrainingExample",
    "TrainingPair",
    "TuneSettings",
    "TunedLocalConfig",
    "TunedLocalReasoner",
    "adapter_dir",
    "build_example",
    "load_tuned_generator",
    "reference_split",
    "resolve_adapter",
    "train_reasoner",
]

CARD_FILE = "genre-card.json"
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
CHECKPOINT_DIR = "checkpoint"
_OPTIMIZER_FILE = "optimizer.safetensors"
_STATE_FILE = "trainer-state.json"
CARD_FORMAT = 1

DEFAULT_ADAPTER = "products"
"""The project-data adapter: what ``train-reasoner --config configs/products.toml`` writes."""
REFERENCE_DOMAINS = ("products", "news")
"""Domains whose ``sample_data/reasons/<domain>.jsonl`` reference pairs every adapter trains on."""
REFERENCE_HOLDOUT = 0.2
REFERENCE_SPLIT_SEED = 0
EXCLUDED_EVAL_USERS = 200
"""Dataset users reserved for explanation evaluation (the first of its permutation), never trained on."""
MOVIELENS_LOADER = "movielens-100k"


# ---- paths and the base model -------------------------------------------------------------


def adapter_dir(name: str) -> Path:
    """Where ``train-reasoner`` writes an adapter by default: ``<cache>/adapters/<name>``."""
    return cache_dir() / "adapters" / name


SHIPPED_ADAPTERS = PROJECT_ROOT / "assets" / "adapters"
"""Adapters trained only on the project's own sample data, committed so ``tuned-local`` works from a clone."""


def resolve_adapter(value: str) -> Path:
    """A config's ``adapter_path``: a directory path, or a bare name for ``<cache>/adapters/<name>``.

    A bare name not trained here falls back to the shipped ``assets/adapters/<name>``; one you train
    (into the cache) takes precedence.
    """
    if "/" in value or "\\" in value or value.startswith(("~", ".")):
        return Path(value).expanduser()
    trained = adapter_dir(value)
    shipped = SHIPPED_ADAPTERS / value
    return shipped if not trained.is_dir() and shipped.is_dir() else trained


def base_fingerprint(directory: Path) -> str:
    """A cheap identity of a model directory: its config plus sampled bytes of every weight file.

    Hashing 540 MB in full would add a second to every load; 16 spread-out 64 KiB samples, the
    safetensors header and the size tell any two different checkpoints apart just as well.
    """
    digest = hashlib.sha256()
    config = directory / "config.json"
    if config.is_file():
        digest.update(config.read_bytes())
    for weights in sorted(directory.glob("*.safetensors")):
        size = weights.stat().st_size
        digest.update(f"{weights.name}:{size}".encode())
        with weights.open("rb") as fh:
            digest.update(fh.read(1 << 16))
            for k in range(1, 17):
                fh.seek(max(0, size * k // 17 - (1 << 15)))
                digest.update(fh.read(1 << 16))
    return digest.hexdigest()[:16]


def _require_base() -> Path:
    path = generator_cache_path()
    if not generator_is_prepared():
        raise ModelUnavailableError(
            f"the generator has not been prepared (no {path}); run `make setup` (or `python -m genre prepare`) first"
        )
    return path


def _load_base(device: str) -> tuple[Any, Any]:
    """A fresh fp32 copy of the prepared base model (never the shared one local-llm uses) and its tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = _require_base()
    _quiet_transformers()
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    return model.to(device), tokenizer


# ---- the generator ------------------------------------------------------------------------


class TunedLocalConfig(LocalLLMConfig):
    adapter_path: str = Field(default=DEFAULT_ADAPTER, min_length=1)
    """A directory written by `python -m genre train-reasoner`, or a bare name for one under the cache's
    adapters/ folder (`train-reasoner --config configs/NAME.toml` writes adapters/NAME). The default is the
    project-data adapter (products pipeline plus the product and news reference reasons)."""
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    """Sampling temperature (0: greedy). Greedy decoding gave the same sentence for similar evidence
    (MovieLens: 4 in 100 duplicated); seeded sampling at 0.7 kept every reason faithful and removed them."""
    prefill: bool = False
    """Start each answer with "Because you liked <title>". Off: the adapter was trained to write the whole
    sentence itself, from exactly the prompt it sees here."""
    repair: bool = True
    """When the model's own sentence names none of the history titles in its prompt, or fails the faithfulness
    check (e.g. names a title outside the evidence), write that reason again from the prefill "Because you liked
    <strongest title>" (one more batched generate, for those items only). A streamed reason is held back until
    it names a history title; the whole-sentence check applies to batched reasons."""


_memo_lock = threading.Lock()
_tuned: dict[tuple[str, str, int, str], Generator] = {}


def _adapter_problem(path: Path, detail: str) -> ModelUnavailableError:
    return ModelUnavailableError(
        f"{path}: {detail}; retrain it with `python -m genre train-reasoner --config <pipeline.toml>` "
        "or set the explain option adapter_path"
    )


def read_card(directory: Path) -> dict[str, Any]:
    """An adapter's ``genre-card.json``, or a ModelUnavailableError naming the file and what is wrong."""
    card = directory / CARD_FILE
    if not card.is_file():
        raise _adapter_problem(card, "not found (not an adapter written by train-reasoner)")
    try:
        data = json.loads(card.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise _adapter_problem(card, f"is not valid JSON ({exc})") from exc
    base = data.get("base_model") if isinstance(data, dict) else None
    if not isinstance(base, dict) or not isinstance(base.get("fingerprint"), str):
        raise _adapter_problem(card, "has no base_model.fingerprint")
    return data


def load_tuned_generator(device: str, adapter: Path) -> Generator:
    """The prepared SmolLM2 with the adapter merged in, loaded once per device and adapter version.

    Every way an adapter can be unusable is a :class:`ModelUnavailableError` naming the file: a
    missing directory or file, an unreadable card, config or weights, an adapter trained on another
    base model, or tensors whose names or shapes do not fit this one.
    """
    dev = resolve_device(device)
    if not adapter.is_dir():
        raise ModelUnavailableError(
            f"adapter directory {adapter} does not exist; train it with "
            "`python -m genre train-reasoner --config configs/products.toml` (or point adapter_path at one)"
        )
    config_file, weights_file = adapter / ADAPTER_CONFIG, adapter / ADAPTER_WEIGHTS
    for required in (config_file, weights_file):
        if not required.is_file():
            raise _adapter_problem(required, "not found")
    card = read_card(adapter)
    base_dir = _require_base()
    fingerprint = base_fingerprint(base_dir)
    trained_on = card["base_model"]
    if trained_on["fingerprint"] != fingerprint:
        raise _adapter_problem(
            adapter / CARD_FILE,
            f"the adapter was trained on base model {trained_on.get('name', '?')} (fingerprint "
            f"{trained_on['fingerprint']}), but the prepared generator at {base_dir} has fingerprint {fingerprint}",
        )
    key = (dev, str(adapter.resolve()), weights_file.stat().st_mtime_ns, fingerprint)
    with _memo_lock:
        if key not in _tuned:
            _tuned[key] = _merge_adapter(dev, adapter, config_file, weights_file)
        return _tuned[key]


def _merge_adapter(dev: str, adapter: Path, config_file: Path, weights_file: Path) -> Generator:
    import torch
    from peft import LoraConfig, get_peft_model, get_peft_model_state_dict, set_peft_model_state_dict
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        lora = LoraConfig.from_pretrained(str(adapter))
    except (OSError, ValueError, TypeError) as exc:
        raise _adapter_problem(config_file, f"is not a valid LoRA config ({_first_line(exc)})") from exc
    try:
        weights = load_file(str(weights_file))
    except (OSError, ValueError, SafetensorError) as exc:
        raise _adapter_problem(weights_file, f"cannot be read ({_first_line(exc)}); the file may be truncated") from exc
    model, tokenizer = _load_base("cpu")
    try:
        peft_model = get_peft_model(model, lora)
    except (ValueError, TypeError, KeyError) as exc:
        raise _adapter_problem(config_file, f"does not fit the base model ({_first_line(exc)})") from exc
    expected = {k: tuple(v.shape) for k, v in get_peft_model_state_dict(peft_model).items()}
    missing = sorted(set(expected) - set(weights))
    extra = sorted(set(weights) - set(expected))
    wrong = [(k, tuple(weights[k].shape), s) for k, s in expected.items() if k in weights and weights[k].shape != s]
    if missing or extra or wrong:
        if wrong:
            name, got, want = wrong[0]
            detail = f"tensor {name} has shape {list(got)} but the base model needs {list(want)}"
        elif missing:
            detail = f"{len(missing)} tensors the config asks for are missing (first: {missing[0]})"
        else:
            detail = f"{len(extra)} tensors do not belong to this base model (first: {extra[0]})"
        raise _adapter_problem(weights_file, f"does not fit the base model: {detail}")
    set_peft_model_state_dict(peft_model, weights)
    merged = peft_model.merge_and_unload()
    if dev == "cuda":
        merged = merged.to(torch.float16)
    merged = merged.to(dev).eval()
    return Generator(model=merged, tokenizer=tokenizer, device=dev, name=f"{GENERATOR_NAME}+{adapter.name}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class TunedLocalReasoner(_TransformersReasoner):
    """Reasons written by SmolLM2-135M-Instruct with a LoRA adapter trained on faithful reasons."""

    Config = TunedLocalConfig
    config: TunedLocalConfig
    name = "tuned-local"
    last_repaired: int = 0
    """How many reasons of the last call were rewritten from the prefill (``repair``)."""
    _checker: FaithfulnessChecker | None = None

    def _load(self, env: Env) -> Generator:
        return load_tuned_generator(env.device, resolve_adapter(self.config.adapter_path))

    def _unfaithful(self, req: ReasonRequest, out: ReasonOut) -> bool:
        """Whether a model-written reason fails the faithfulness check against the prepared catalog.

        Only for items of that catalog: a request from another catalog (the reference sets of other
        domains) is judged by whether it names a history title alone.
        """
        catalog = getattr(getattr(self, "env", None), "catalog", None)
        index = catalog.index_of(req.item.item_id) if catalog is not None else None
        if index is None or catalog.items[index].title != req.item.title:
            return False
        if self._checker is None or self._checker.catalog is not catalog:
            self._checker = FaithfulnessChecker(catalog)
        return not self._checker.check(out.text, req).faithful

    def _repair_prefix(self, req: ReasonRequest) -> str:
        """The prefill a repaired reason starts from; empty when repair is off or already prefilled."""
        if not self.config.repair or self.prefix(req):
            return ""
        named = _named_history(req, 1)
        return f"Because you liked {named[0].title}" if named else ""

    def prefix_of(self, req: ReasonRequest, text: str) -> str:
        repair = self._repair_prefix(req)
        return repair if repair and text.startswith(repair) else self.prefix(req)

    def __call__(self, requests: list[ReasonRequest]) -> list[ReasonOut]:
        """Reasons from one batched generate, then one more for those that named no history title."""
        outs = super().__call__(requests)
        redo = [
            i
            for i, (req, out) in enumerate(zip(requests, outs, strict=True))
            if out.generator == self.name
            and self._repair_prefix(req)
            and (not out.evidence_ids or self._unfaithful(req, out))
        ]
        self.last_repaired = len(redo)
        if redo:
            prefixes = [self._repair_prefix(requests[i]) for i in redo]
            texts = [self._input_text(requests[i], p) for i, p in zip(redo, prefixes, strict=True)]
            for i, prefix, generated in zip(redo, prefixes, self._generate(texts, prefixes), strict=True):
                outs[i] = self._finish(requests[i], generated, prefix)
            self.last_notices = []
            self._empty_notice(sum(o.generator != self.name for o in outs), len(outs))
        return outs

    def _reason_stream(self, req: ReasonRequest) -> Iterator[str]:
        """The model's own sentence, held back until it names a history title; if it never does, the
        rewrite from the repair prefill streams instead (the template reason if that fails too)."""
        repair = self._repair_prefix(req)
        if not repair:
            yield from super()._reason_stream(req)
            return

        def names_history(text: str) -> bool:
            return bool(mentioned_evidence(req, clean_reason(text), self.config.max_evidence))

        shown = False
        for delta in self._held_stream(req, "", names_history):
            shown = True
            yield delta
        if not shown:
            yield from self._stream_or_template(req, repair)


# ---- training data ------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingPair:
    """One request and the reason the model should write for it."""

    request: ReasonRequest
    target: str
    source: str
    """Where the pair came from: ``reference:<domain>`` or ``template:<catalog>``."""


@dataclass(frozen=True)
class TrainingExample:
    """Token ids of prompt + answer, and labels that are -100 on the prompt (no loss there)."""

    input_ids: list[int]
    labels: list[int]
    prompt: str
    """The exact text the reasoner gives the model at inference."""
    target: str
    source: str

    @property
    def prompt_length(self) -> int:
        return next(i for i, label in enumerate(self.labels) if label != -100)


def build_example(reasoner: _TransformersReasoner, pair: TrainingPair) -> TrainingExample:
    """Tokenize a pair exactly as ``reasoner`` prompts at inference, with the loss on the answer only."""
    tokenizer = reasoner.generator.tokenizer
    prefix = reasoner.prefix(pair.request)
    target = pair.target.strip()
    if prefix:
        if not target.startswith(prefix):
            raise ValueError(f"with prefill on, the target must start with {prefix!r}. Got {target!r}")
        target = target[len(prefix) :]
    prompt = reasoner._input_text(pair.request, prefix)
    special = not getattr(tokenizer, "chat_template", None)  # as _TransformersReasoner._encode
    prompt_ids = list(tokenizer(prompt, add_special_tokens=special)["input_ids"])
    answer_ids = list(tokenizer(target, add_special_tokens=False)["input_ids"])
    if tokenizer.eos_token_id is None:
        raise ModelUnavailableError("the base model's tokenizer has no end-of-turn (eos) token to train on")
    answer_ids.append(int(tokenizer.eos_token_id))
    return TrainingExample(
        input_ids=prompt_ids + answer_ids,
        labels=[-100] * len(prompt_ids) + answer_ids,
        prompt=prompt,
        target=pair.target,
        source=pair.source,
    )


def reference_split(pairs: Sequence[ReferencePair]) -> tuple[list[ReferencePair], list[ReferencePair]]:
    """(train, held out): the split every trainer and evaluation uses, 20% of recommended items held out."""
    from genre.data.references import split_by_item

    return split_by_item(pairs, holdout=REFERENCE_HOLDOUT, seed=REFERENCE_SPLIT_SEED)


@dataclass
class ReferenceSet:
    """One domain's reference pairs with the catalog their ids refer to."""

    domain: str
    catalog: Catalog
    pairs: list[ReferencePair]


def load_reference_sets(domains: Sequence[str] = REFERENCE_DOMAINS) -> list[ReferenceSet]:
    """Each domain's reference file read against its catalog (``configs/<domain>.toml``).

    A malformed row raises the loader's :class:`DataError`, which names the file and line.
    """
    from genre.config import load_config
    from genre.data import load_catalog
    from genre.data.references import load_references, reference_path

    sets = []
    for domain in domains:
        config = load_config(PROJECT_ROOT / "configs" / f"{domain}.toml")
        catalog = load_catalog(config.data)
        sets.append(ReferenceSet(domain, catalog, load_references(reference_path(domain), catalog)))
    return sets


def reference_pairs(sets: Sequence[ReferenceSet]) -> list[TrainingPair]:
    """One training pair per reference reason of the training side of each domain's split."""
    from genre.data.references import to_request

    out = []
    for ref in sets:
        train, _ = reference_split(ref.pairs)
        for pair in train:
            request = to_request(pair, ref.catalog)
            out += [TrainingPair(request, reason, f"reference:{ref.domain}") for reason in pair.reasons]
    return out


def _synthetic_contexts(catalog: Catalog, n: int, rng: np.random.Generator) -> list[UserContext]:
    """Short histories for a catalog without users: an item and 1-3 others sharing its first category."""
    by_category: dict[str, list[int]] = {}
    for index, item in enumerate(catalog.items):
        for c in item.categories[:1]:
            by_category.setdefault(c, []).append(index)
    out = []
    for _ in range(n):
        anchor = int(rng.integers(len(catalog)))
        item = catalog.items[anchor]
        pool = [i for i in by_category.get(item.categories[0], []) if i != anchor] if item.categories else []
        if not pool:
            pool = [i for i in range(len(catalog)) if i != anchor]
        extra = rng.choice(pool, size=min(len(pool), int(rng.integers(1, 4))), replace=False).tolist()
        picks = [anchor, *extra]
        out.append(UserContext(history=[HistoryEvent(item_id=catalog.items[i].item_id) for i in picks]))
    return out


def training_contexts(catalog: Catalog, n: int, seed: int) -> list[UserContext]:
    """Users to explain recommendations for: dataset users the explanation metrics never use, else synthetic."""
    from genre.data.profiles import interactions_to_context
    from genre.evaluation.explanations import eval_user_ids

    rng = np.random.default_rng(seed)
    inter = catalog.interactions
    if inter is None or len(inter) == 0:
        return _synthetic_contexts(catalog, n, rng)
    reserved = set(eval_user_ids(inter, EXCLUDED_EVAL_USERS))
    pool = sorted(str(u) for u in inter.users() if str(u) not in reserved)
    picked = rng.choice(len(pool), size=min(n, len(pool)), replace=False)
    return [interactions_to_context(catalog, pool[i]) for i in sorted(picked.tolist())]


def template_pairs(pipe: Pipeline, users: int, items: int, seed: int) -> list[TrainingPair]:
    """Template reasons for the top ``items`` the pipeline recommends to each of ``users`` users."""
    spec = pipe.config.explain
    template = TemplateReasoner(spec.config if spec.component == "template" else {})
    out = []
    for ctx in training_contexts(pipe.catalog, users, seed):
        trace = pipe.run(ctx, k=min(items, len(pipe.catalog)), reasons=False)
        requests = [r for r in requests_from_trace(trace, pipe.catalog) if not r.cold_start]
        for request, reason in zip(requests, template(requests), strict=True):
            out.append(TrainingPair(request, reason.text, f"template:{pipe.catalog.name}"))
    return out


def data_hash(examples: Sequence[TrainingExample]) -> str:
    digest = hashlib.sha256()
    for ex in examples:
        digest.update(json.dumps([ex.source, ex.prompt, ex.target]).encode())
    return digest.hexdigest()[:16]


# ---- training -----------------------------------------------------------------------------


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
    embed, rotary, layers, norm = parts
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
                f"checkpoint {self.checkpoint} cannot be read ({_first_line(exc)}); drop --resume to start over"
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


# ---- the command --------------------------------------------------------------------------


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


def _write_card(out: Path, card: dict[str, Any]) -> None:
    tmp = out / (CARD_FILE + ".partial")
    tmp.write_text(json.dumps(card, indent=2))
    tmp.replace(out / CARD_FILE)


def _versions() -> dict[str, str]:
    import peft
    import torch
    import transformers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
    }


def train_reasoner(
    config: PipelineConfig,
    settings: TuneSettings | None = None,
    out: Path | None = None,
    resume: bool = False,
    progress: bool = False,
    pipeline: Pipeline | None = None,
    references: Sequence[ReferenceSet] | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> TrainResult:
    """Train (or resume) an adapter for ``config``'s catalog and write it with its card to ``out``.

    ``out`` defaults to ``<cache>/adapters/<config name>``. ``references`` defaults to every
    reference domain's pairs; a malformed reference row raises a DataError naming file and line.
    """
    import torch
    from peft import get_peft_model

    settings = settings or TuneSettings()
    started = time.perf_counter()
    device = resolve_device(config.device)
    out = (out or adapter_dir(config.name)).expanduser()
    movielens = config.data.loader == MOVIELENS_LOADER
    if movielens and _inside(out, PROJECT_ROOT):
        raise ConfigError(
            f"--out {out} is inside the repository, but this adapter is trained on MovieLens data, whose license "
            "forbids redistribution; leave --out at its default (the cache) or pick a folder outside the repository"
        )
    notes: list[str] = []
    sets = list(references) if references is not None else load_reference_sets()
    pairs = reference_pairs(sets)
    if pipeline is None:
        from genre.pipeline import Pipeline

        pipeline = Pipeline(config, progress=progress)
    pairs += template_pairs(pipeline, settings.template_users, settings.template_items, settings.seed)

    torch.manual_seed(settings.seed)
    base_dir = _require_base()
    model, tokenizer = _load_base(device)
    prompter = TunedLocalReasoner({"adapter_path": str(out)})
    prompter.generator = Generator(model=model, tokenizer=tokenizer, device=device, name=GENERATOR_NAME)
    examples = [build_example(prompter, p) for p in pairs]
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
    sources: dict[str, int] = {}
    for ex in examples:
        sources[ex.source] = sources.get(ex.source, 0) + 1
    card: dict[str, Any] = {
        "format": CARD_FORMAT,
        "name": out.name,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": config.name,
        "base_model": {"name": GENERATOR_NAME, "path": str(base_dir), "fingerprint": base_fingerprint(base_dir)},
        "data": {
            "hash": key,
            "examples": len(examples),
            "sources": sources,
            "catalog": pipeline.catalog.name,
            "loader": config.data.loader,
            "movielens": movielens,
            "reference_holdout": {"fraction": REFERENCE_HOLDOUT, "seed": REFERENCE_SPLIT_SEED, "by": "item"},
        },
        "redistributable": not movielens,
        "license_note": (
            "trained on MovieLens-100K data: keep it in the cache, never commit or share it"
            if movielens
            else "trained on the project's own sample data"
        ),
        "prompt": {
            "system_prompt_sha": hashlib.sha256(_system_prompt().encode()).hexdigest()[:16],
            "max_evidence": prompter.config.max_evidence,
            "prefill": prompter.config.prefill,
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
        "versions": _versions(),
        "held_out": None,
    }
    _write_card(out, card)
    del trainer, peft_model, model
    if settings.eval_pairs > 0:
        card["held_out"] = held_out_metrics(out, device, sets, settings.eval_pairs)
    card["total_seconds"] = round(time.perf_counter() - started, 1)
    _write_card(out, card)
    return TrainResult(out, card, notes)


def _system_prompt() -> str:
    from genre.components.reasoners.generators import SYSTEM_PROMPT

    return SYSTEM_PROMPT


def held_out_metrics(out: Path, device: str, sets: Sequence[ReferenceSet], limit: int) -> dict[str, Any]:
    """The saved adapter, loaded as ``tuned-local`` does, scored on up to ``limit`` held-out reference pairs."""
    from genre.evaluation.explanations import REFERENCE_BATCH, reference_cases, score_generator, token_counter

    reasoner = TunedLocalReasoner({"adapter_path": str(out)})
    reasoner.generator = load_tuned_generator(device, out)
    per_domain = math.ceil(limit / max(len(sets), 1))
    cases = []
    for ref in sets:
        cases += reference_cases(ref.catalog, pairs=ref.pairs)[:per_domain]
    cases = cases[:limit]
    batches = [cases[i : i + REFERENCE_BATCH] for i in range(0, len(cases), REFERENCE_BATCH)]
    count_tokens, unit = token_counter()
    row = score_generator(TunedLocalReasoner.name, reasoner, batches, count_tokens)
    metrics = {k: v for k, v in row.__dict__.items() if k not in ("generator", "notices")}
    return {"pairs": len(cases), "token_unit": unit, **metrics}


def settings_from(**overrides: Any) -> TuneSettings:
    """Settings with the given overrides; a bad value is an InputError naming it."""
    try:
        return TuneSettings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InputError(f"invalid {'.'.join(str(p) for p in err['loc'])}: {err['msg']}") from None
