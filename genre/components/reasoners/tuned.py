"""``tuned-local``: the grounded reasoner on SmolLM2 with a LoRA adapter, and how adapters are found and loaded.

An adapter directory (written by ``python -m genre train-reasoner``, see :mod:`genre.training`)
holds ``adapter_config.json`` and ``adapter_model.safetensors`` (peft ``save_pretrained``) and
``genre-card.json`` (base model and its fingerprint, data, settings, metrics). Loading checks the
card's base-model fingerprint against the prepared generator and every tensor's name and shape,
then merges the adapter into a fresh copy of the base; every way an adapter can be unusable is a
:class:`~genre.core.errors.ModelUnavailableError` naming the file.

The reasoner is :class:`~genre.components.reasoners.grounded.GroundedReasoner` with that merged
model: it writes slotted sentences (``{item}``, ``{hist1}``…) that code fills from the fact plan,
under the same constrained decoding, best-of-N judge and template fallback. The adapter was trained
(:mod:`genre.training.slotted_data`) on delexicalised reasons with exactly the grounded prompt and no
prefill, so it writes the whole slotted sentence itself.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any, ClassVar, cast

from pydantic import Field

from genre.components.env import Env
from genre.components.reasoners.grounded import GroundedConfig, GroundedReasoner
from genre.core.errors import ConfigError, ModelUnavailableError
from genre.core.paths import PROJECT_ROOT, cache_dir
from genre.models import (
    GENERATOR_NAME,
    Generator,
    _quiet_transformers,
    apply_precision,
    choose_precision,
    generator_cache_path,
    generator_is_prepared,
    resolve_device,
)

__all__ = [
    "ADAPTER_CONFIG",
    "ADAPTER_WEIGHTS",
    "CARD_FILE",
    "DEFAULT_ADAPTER",
    "SHIPPED_ADAPTERS",
    "TunedLocalConfig",
    "TunedLocalReasoner",
    "adapter_dir",
    "base_fingerprint",
    "load_base",
    "load_tuned_generator",
    "read_card",
    "require_base",
    "require_style",
    "resolve_adapter",
    "trained_styles",
]

CARD_FILE = "genre-card.json"
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"

DEFAULT_ADAPTER = "grounded"
"""The shipped project-data adapter (``assets/adapters/grounded``), trained by ``python -m genre train-reasoner
--config configs/products.toml --out assets/adapters/grounded --threads 1`` (150 steps) for every reason style:
one-line slotted sentences, and the points of short, bullets and compare reasons (its card lists them)."""


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


def require_base() -> Path:
    """The prepared base model's directory; a ModelUnavailableError saying how to prepare it when it is not."""
    path = generator_cache_path()
    if not generator_is_prepared():
        raise ModelUnavailableError(
            f"the generator has not been prepared (no {path}); run `make setup` (or `python -m genre prepare`) first"
        )
    return path


def load_base(device: str) -> tuple[Any, Any]:
    """A fresh fp32 copy of the prepared base model (never the shared one local-llm uses) and its tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = require_base()
    _quiet_transformers()
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    return cast(Any, model).to(device), tokenizer


class TunedLocalConfig(GroundedConfig):
    GENERATOR: ClassVar[str] = "tuned-local"
    adapter_path: str = Field(default=DEFAULT_ADAPTER, min_length=1)
    """A directory written by `python -m genre train-reasoner`, or a bare name for one under the cache's
    adapters/ folder (`train-reasoner --config configs/NAME.toml` writes adapters/NAME). The default is the
    shipped project-data adapter, trained on delexicalised product and news reasons (slotted sentences)."""
    variety: float = Field(default=1.0, ge=0.0, le=10.0)
    """How much a passing candidate loses for reusing the wording of reasons already chosen in the same call
    (see the grounded reasoner). The adapter learned a few sentence shapes; at 0 the most fluent one wins
    for most items of a run."""
    shots: bool = False
    """Worked examples before the plan. Off: the adapter learned the form from its training sentences, and the
    prompt without them is a quarter as long (146 tokens, not 533), so training and writing are that much faster."""
    prefill: bool = True
    """Start each candidate with an opening written from the plan ("Because you liked {hist1},"), a different
    one per candidate. The adapter also writes whole sentences without one, but on fresh runs (bench/
    grounded_fresh.py) the prefilled candidates passed more often (92% vs 90% shown generated) and read more
    varied (distinct-2 0.290 vs 0.252)."""


_memo_lock = threading.Lock()
_tuned: dict[tuple[str, str, int, str, str], Generator] = {}


def adapter_problem(path: Path, detail: str) -> ModelUnavailableError:
    """The error for an unusable adapter file: what is wrong with it, and how to get a good one."""
    return ModelUnavailableError(
        f"{path}: {detail}; retrain it with `python -m genre train-reasoner --config <pipeline.toml>` "
        "or set the explain option adapter_path"
    )


def read_card(directory: Path) -> dict[str, Any]:
    """An adapter's ``genre-card.json``, or a ModelUnavailableError naming the file and what is wrong."""
    card = directory / CARD_FILE
    if not card.is_file():
        raise adapter_problem(card, "not found (not an adapter written by train-reasoner)")
    try:
        data = json.loads(card.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise adapter_problem(card, f"is not valid JSON ({exc})") from exc
    base = data.get("base_model") if isinstance(data, dict) else None
    if not isinstance(base, dict) or not isinstance(base.get("fingerprint"), str):
        raise adapter_problem(card, "has no base_model.fingerprint")
    return data


def load_tuned_generator(device: str, adapter: Path, precision: str = "auto") -> Generator:
    """The prepared SmolLM2 with the adapter merged in, loaded once per device, precision and adapter version.

    The adapter is merged into fp32 weights first; only the merged model is converted to ``precision``
    (int8 weights on CPU: quantizing before merging would round the base and lose the adapter's small deltas).

    Every way an adapter can be unusable is a :class:`ModelUnavailableError` naming the file: a
    missing directory or file, an unreadable card, config or weights, an adapter trained on another
    base model, or tensors whose names or shapes do not fit this one.
    """
    dev = resolve_device(device)
    prec = choose_precision(precision, dev)
    if not adapter.is_dir():
        raise ModelUnavailableError(
            f"adapter directory {adapter} does not exist; train it with "
            "`python -m genre train-reasoner --config configs/products.toml` (or point adapter_path at one)"
        )
    config_file, weights_file = adapter / ADAPTER_CONFIG, adapter / ADAPTER_WEIGHTS
    for required in (config_file, weights_file):
        if not required.is_file():
            raise adapter_problem(required, "not found")
    card = read_card(adapter)
    base_dir = require_base()
    fingerprint = base_fingerprint(base_dir)
    trained_on = card["base_model"]
    if trained_on["fingerprint"] != fingerprint:
        raise adapter_problem(
            adapter / CARD_FILE,
            f"the adapter was trained on base model {trained_on.get('name', '?')} (fingerprint "
            f"{trained_on['fingerprint']}), but the prepared generator at {base_dir} has fingerprint {fingerprint}",
        )
    key = (dev, str(adapter.resolve()), weights_file.stat().st_mtime_ns, fingerprint, prec)
    with _memo_lock:
        if key not in _tuned:
            _tuned[key] = _merge_adapter(dev, prec, adapter, config_file, weights_file)
        return _tuned[key]


def _merge_adapter(dev: str, precision: str, adapter: Path, config_file: Path, weights_file: Path) -> Generator:
    from peft import LoraConfig, get_peft_model, get_peft_model_state_dict, set_peft_model_state_dict
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        lora = LoraConfig.from_pretrained(str(adapter))
    except (OSError, ValueError, TypeError) as exc:
        raise adapter_problem(config_file, f"is not a valid LoRA config ({first_line(exc)})") from exc
    try:
        weights = load_file(str(weights_file))
    except (OSError, ValueError, SafetensorError) as exc:
        raise adapter_problem(weights_file, f"cannot be read ({first_line(exc)}); the file may be truncated") from exc
    model, tokenizer = load_base("cpu")
    try:
        peft_model = get_peft_model(model, lora)
    except (ValueError, TypeError, KeyError) as exc:
        raise adapter_problem(config_file, f"does not fit the base model ({first_line(exc)})") from exc
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
        raise adapter_problem(weights_file, f"does not fit the base model: {detail}")
    set_peft_model_state_dict(peft_model, weights)
    merged = apply_precision(peft_model.merge_and_unload().eval(), precision).to(dev)
    name = f"{GENERATOR_NAME}+{adapter.name}"
    return Generator(model=merged, tokenizer=tokenizer, device=dev, name=name, precision=precision)


def first_line(exc: BaseException) -> str:
    """An exception's first line of text (its type name when it has none), for one-line error messages."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class TunedLocalReasoner(GroundedReasoner):
    """The grounded reasoner (slots, constrained decoding, best of N, template fallback) on SmolLM2 with a
    LoRA adapter trained to write slotted sentences."""

    Config = TunedLocalConfig
    config: TunedLocalConfig
    name = "tuned-local"

    def _load(self, env: Env) -> Generator:
        adapter = resolve_adapter(self.config.adapter_path)
        if (adapter / CARD_FILE).is_file():
            require_style(adapter, self.config.style)
        return load_tuned_generator(env.device, adapter, env.precision_for_generator())


def trained_styles(card: dict[str, Any]) -> list[str]:
    """The reason styles an adapter's card says it was trained for (a card from before styles: one-line)."""
    styles = card.get("styles", ["one-line"])
    return [str(s) for s in styles] if isinstance(styles, list) else ["one-line"]


def require_style(adapter: Path, style: str) -> None:
    """Nothing when the adapter at ``adapter`` was trained for ``style``; else a ConfigError naming its styles."""
    styles = trained_styles(read_card(adapter))
    if style not in styles:
        raise ConfigError(
            f"{adapter / CARD_FILE}: the adapter was trained for the styles {', '.join(styles)}, not {style!r}; "
            f"set style to one of those, or retrain it with `python -m genre train-reasoner --config <pipeline.toml>` "
            "(which trains every style)"
        )
