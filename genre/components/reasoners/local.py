"""Reasons written by a local transformers model: the packaged SmolLM2 (``local-llm``) or any chat model (``hf-local``).

Every request gets the evidence-only prompt of :func:`~genre.components.reasoners.prompts.build_prompt`
in the model's chat template, optionally with the answer already begun ("Because you liked
<title>"). A batch is one ``generate`` call; :meth:`TransformersReasoner.stream` writes one
request after another and yields text as it arrives. Decoding is greedy, or sampled from a
generator made for the call from its ``seed`` (:mod:`genre.components.reasoners.decoding`), never
from the process-wide RNG.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import Field

from genre.components.env import Env
from genre.components.reasoners.attention import reason_evidence_attention
from genre.components.reasoners.decoding import seeded_sampling, stop_when_complete
from genre.components.reasoners.generated import GeneratedReasoner
from genre.components.reasoners.prompts import build_prompt, prompt_with_units, style_prefix, system_prompt
from genre.components.reasoners.styles import StyleOptions
from genre.core.component import ComponentConfig, ReasonBatch
from genre.core.errors import ModelUnavailableError
from genre.core.types import ReasonOut, ReasonRequest
from genre.models import Generator, load_generator
from genre.text.styled import clean_styled, style_complete

__all__ = [
    "HFLocalConfig",
    "HFLocalReasoner",
    "LocalLLMConfig",
    "LocalLLMReasoner",
    "TransformersReasoner",
    "encode_batch",
]


_TOKENS_PER_WORD = 1.6
"""Tokens a reason needs per word of its bound (SmolLM2's tokenizer on the templates: about 1.4)."""


def encode_batch(generator: Generator, texts: list[str]) -> Any:
    """``texts`` tokenized as one left-padded batch on the generator's device, ready for ``generate``."""
    tokenizer = generator.tokenizer
    # Left padding keeps every row's last prompt token adjacent to its first generated one.
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    # A chat template already writes the BOS token; adding it again would double it.
    special = not getattr(tokenizer, "chat_template", None)
    return tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=special).to(generator.device)


class LocalLLMConfig(StyleOptions):
    GENERATOR = "local-llm"

    max_new_tokens: int = Field(default=48, ge=8, le=256)
    """Most tokens the model may write per reason (a 35-word sentence is about 45 tokens). Styles other than
    one-line get at least 1.6 tokens per word of their length bound."""
    max_evidence: int = Field(default=3, ge=1, le=5)
    """How many history titles the prompt lists at most."""
    prefill: bool = True
    """Start each answer with "Because you liked <strongest history title>" and let the model go on.

    A 135M model asked to name a history title rarely does; written for it, the title is always real.
    """
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    """0: greedy decoding (the same evidence always gives the same sentence). Above 0: sampling at this
    temperature with nucleus ``top_p``, seeded by the call's seed (``seed`` when the caller gives none),
    so a run is reproducible."""
    top_p: float = Field(default=0.9, gt=0.0, le=1.0)
    """Nucleus sampling mass (only with temperature > 0)."""
    seed: int = Field(default=0, ge=0)
    """Random seed for sampling when the caller passes none (only with temperature > 0)."""
    attention: bool = True
    """Also record where the model looked while writing each reason (``RankedItem.generator_attention``):
    one extra batched forward pass over prompt + reason with eager attention, timed as its own step."""


class HFLocalConfig(LocalLLMConfig):
    GENERATOR = "hf-local"

    model_path: str = Field(min_length=1)
    """Directory of a local transformers causal LM, ideally with a chat template (config.json, weights, tokenizer)."""


class TransformersReasoner(GeneratedReasoner, ABC):
    """Reasons from a transformers causal LM loaded through :func:`genre.models.load_generator`."""

    config: LocalLLMConfig
    _generator: Generator | None = None
    _ATTENTION_MEMO = 256
    """Evidence shares remembered per exact prompt + reason text (the pipeline re-serves cached reasons)."""

    def __init__(self, config: ComponentConfig | dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self._attention_memo: OrderedDict[str, dict[str, float] | None] = OrderedDict()

    @abstractmethod
    def _load(self, env: Env) -> Generator:
        """The model this reasoner generates with."""

    def prepare(self, env: Env) -> None:
        super().prepare(env)
        self._generator = self._load(env)

    @property
    def generator(self) -> Generator:
        """The loaded model; tests may assign a stand-in."""
        if self._generator is None:
            raise RuntimeError(f"{type(self).__name__}.prepare(env) must run before generating reasons")
        return self._generator

    @generator.setter
    def generator(self, value: Generator) -> None:
        self._generator = value

    def prefix(self, req: ReasonRequest) -> str:
        """The words the answer starts with, in the style's shape (empty when prefill is off or no history item
        drove the score)."""
        return style_prefix(req, self.config.style) if self.config.prefill else ""

    def prefix_of(self, req: ReasonRequest, text: str) -> str:
        """The prefill a finished reason was written from (a subclass may prefill only some answers)."""
        return self.prefix(req)

    def __call__(self, requests: list[ReasonRequest], *, seed: int | None = None) -> ReasonBatch:
        """Reasons for all requests from one batched generate call (greedy, or sampled from ``seed``)."""
        if not requests:
            return ReasonBatch([])
        prefixes = [self.prefix(r) for r in requests]
        texts = [self._input_text(r, p) for r, p in zip(requests, prefixes, strict=True)]
        generated = self._generate(texts, prefixes, self._seed(seed))
        outs = [self._finish(r, g, p) for r, g, p in zip(requests, generated, prefixes, strict=True)]
        return ReasonBatch(outs, self._empty_notice(sum(o.generator != self.name for o in outs), len(outs)))

    def stream(self, requests: list[ReasonRequest], *, seed: int | None = None) -> Iterator[tuple[int, str]]:
        """Yield ``(request index, text delta)`` as tokens arrive, one request after another.

        A request's deltas concatenate to its raw text (prefill included): ``clean_styled`` of that (in the
        config's style and bound) is its reason, as ``__call__`` would write it. When the model writes nothing
        usable, the request's only delta is the template reason. Closing the iterator early stops the
        generation in progress.
        """
        for index, req in enumerate(requests):
            for delta in self._reason_stream(req, self._seed(seed)):
                yield index, delta

    def _seed(self, seed: int | None) -> int:
        return self.config.seed if seed is None else seed

    def _reason_stream(self, req: ReasonRequest, seed: int) -> Iterator[str]:
        """One request's deltas: the model's reason from its prefill, or the template reason."""
        return self._stream_or_template(req, self.prefix(req), seed)

    def _stream_or_template(self, req: ReasonRequest, prefix: str, seed: int) -> Iterator[str]:
        """The model's reason from ``prefix`` once it is usable; the template reason if it never is."""
        shown = False
        style, bound = self._style()
        for delta in self._held_stream(req, prefix, lambda text: bool(clean_styled(text, style, bound)), seed):
            shown = True
            yield delta
        if not shown:
            yield self.template.write(req).text

    def _held_stream(self, req: ReasonRequest, prefix: str, usable: Callable[[str], bool], seed: int) -> Iterator[str]:
        """Deltas of one generation from ``prefix``, held back until ``usable(generated text)``.

        The first delta carries the prefill and everything held so far; a generation that never
        becomes usable yields nothing, so a fallback is never shown glued to the model's false start.
        """
        pending: list[str] | None = [prefix]
        generated = ""
        for delta in self._stream_one(self._input_text(req, prefix), prefix, seed):
            generated += delta
            if pending is None:
                yield delta
                continue
            pending.append(delta)
            if usable(generated):
                yield "".join(pending)
                pending = None

    def generator_attention(
        self, requests: list[ReasonRequest], reasons: list[ReasonOut]
    ) -> list[dict[str, float] | None]:
        """Per reason, each prompt evidence unit's share of the attention the reason gave the prompt.

        The model reads its own prompt again with the reason written after it, exactly as it
        generated (chat prompt, prefill, continuation), in one batched forward pass with eager
        attention; attention is averaged over all layers and heads and over the tokens the
        model wrote itself (the prefilled "Because you liked <title>" is ours, so it is read but
        not weighed), then summed per evidence unit of :func:`prompt_with_units` and normalized
        over those units. None where the reason is the template fallback, when ``attention``
        is off, or when the prompt cannot be located in the model's input text.
        """
        out: list[dict[str, float] | None] = [None] * len(requests)
        if not self.config.attention:
            return out
        rows: list[int] = []
        keys: list[str] = []
        texts: list[str] = []
        starts: list[int] = []
        spans: list[list[tuple[str, int, int]]] = []
        for index, (req, reason) in enumerate(zip(requests, reasons, strict=True)):
            if reason.generator != self.name or not reason.text:
                continue
            prompt, units = prompt_with_units(
                req, self.config.max_evidence, self.config.style, self.config.prompt_words
            )
            prefix = self.prefix_of(req, reason.text)
            with_prefix = self._input_text(req, prefix)
            stem = with_prefix[: len(with_prefix) - len(prefix)]
            base = stem.find(prompt)
            if base < 0 or not units:
                continue
            # The plain layout ends "Answer:"; chat templates end the assistant header with a newline.
            joiner = "" if not stem or stem[-1].isspace() or stem[-1] == ">" else " "
            written = len(prefix) if prefix and reason.text.startswith(prefix) else 0
            if written >= len(reason.text):
                continue
            text, start = stem + joiner + reason.text, len(stem) + len(joiner) + written
            key = f"{self.generator.name}\0{start}\0{text}"
            if key in self._attention_memo:
                out[index] = self._attention_memo[key]
                continue
            rows.append(index)
            keys.append(key)
            texts.append(text)
            starts.append(start)
            spans.append([(u.label, base + u.start, base + u.end) for u in units])
        special = not getattr(self.generator.tokenizer, "chat_template", None)
        shares = reason_evidence_attention(self.generator, texts, starts, spans, add_special_tokens=special)
        for index, key, share in zip(rows, keys, shares, strict=True):
            out[index] = share
            self._attention_memo[key] = share
        while len(self._attention_memo) > self._ATTENTION_MEMO:
            self._attention_memo.popitem(last=False)
        return [dict(share) if share is not None else None for share in out]

    # -- model plumbing --

    def _input_text(self, req: ReasonRequest, prefix: str) -> str:
        """The chat-formatted prompt with the prefill already written as the start of the answer."""
        cfg = self.config
        prompt = build_prompt(req, cfg.max_evidence, cfg.style, cfg.prompt_words)
        system = system_prompt(cfg.style)
        tokenizer = self.generator.tokenizer
        if not getattr(tokenizer, "chat_template", None):
            # Base models without a chat template get a plain instruction layout.
            return f"{system}\n\n{prompt}\n\nAnswer:" + (f" {prefix}" if prefix else "")
        messages = [{"role": "system", "content": system}, {"role": "user", "content": prompt}]
        try:
            text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        except Exception:
            # Some templates (Gemma's, for one) reject a system turn; fold it into the user turn.
            merged = [{"role": "user", "content": f"{system}\n\n{prompt}"}]
            text = tokenizer.apply_chat_template(merged, add_generation_prompt=True, tokenize=False)
        return str(text) + prefix

    def _encode(self, texts: list[str]) -> Any:
        return encode_batch(self.generator, texts)

    def _decoding(self) -> dict[str, Any]:
        """The decoding the config asks for: greedy, or nucleus sampling at ``temperature``."""
        cfg = self.config
        tokens = cfg.max_new_tokens
        if cfg.style != "one-line":
            # Several sentences or points need room: about 1.6 tokens a word, up to the style's bound.
            tokens = max(tokens, round(cfg.word_bound * _TOKENS_PER_WORD))
        if cfg.temperature <= 0:
            return {"max_new_tokens": tokens, "do_sample": False}
        return {
            "max_new_tokens": tokens,
            "do_sample": True,
            "temperature": cfg.temperature,
            "top_p": cfg.top_p,
        }

    def _generate_args(self, seed: int) -> dict[str, Any]:
        """``generate`` arguments for :meth:`_decoding`; sampling runs in a processor seeded by ``seed``."""
        decoding = self._decoding()
        if not decoding["do_sample"]:
            return decoding
        sampler = seeded_sampling(decoding["temperature"], decoding["top_p"], seed)
        return {"max_new_tokens": decoding["max_new_tokens"], "do_sample": False, "logits_processor": sampler}

    def _generate(self, texts: list[str], prefixes: list[str], seed: int) -> list[str]:
        """The new text for every input, from one batched ``generate`` call (see :meth:`_generate_args`)."""
        import torch

        gen = self.generator
        batch = self._encode(texts)
        prompt_len = int(batch["input_ids"].shape[1])
        with torch.inference_mode():
            out = gen.model.generate(
                **batch,
                **self._generate_args(seed),
                pad_token_id=gen.tokenizer.pad_token_id,
                stopping_criteria=stop_when_complete(
                    gen.tokenizer, prompt_len, prefixes, None, style_complete(self.config.style)
                ),
            )
        return list(gen.tokenizer.batch_decode(out[:, prompt_len:], skip_special_tokens=True))

    def _stream_one(self, text: str, prefix: str, seed: int) -> Iterator[str]:
        """Raw text deltas for one input, generated in a background thread (see :meth:`_generate_args`)."""
        import torch
        from transformers import TextIteratorStreamer

        gen = self.generator
        streamer = TextIteratorStreamer(gen.tokenizer, skip_prompt=True, skip_special_tokens=True)
        batch = self._encode([text])
        stop = threading.Event()
        criteria = stop_when_complete(
            gen.tokenizer, int(batch["input_ids"].shape[1]), [prefix], stop, style_complete(self.config.style)
        )
        failure: list[BaseException] = []

        def run() -> None:
            try:
                with torch.inference_mode():
                    gen.model.generate(
                        **batch,
                        **self._generate_args(seed),
                        pad_token_id=gen.tokenizer.pad_token_id,
                        streamer=streamer,
                        stopping_criteria=criteria,
                    )
            except BaseException as exc:  # re-raised in the reader's thread below
                failure.append(exc)
                # Without this the reader would wait forever for a token that never comes.
                streamer.end()

        worker = threading.Thread(target=run, name="genre-reason-stream", daemon=True)
        worker.start()
        try:
            for delta in streamer:
                if delta:
                    yield delta
        finally:
            # Also reached when the reader closes the iterator early: stop generating, then wait.
            stop.set()
            worker.join()
        if failure:
            raise failure[0]


class LocalLLMReasoner(TransformersReasoner):
    """Reasons written by the packaged SmolLM2-135M-Instruct from the scorers' evidence."""

    Config = LocalLLMConfig
    name = "local-llm"

    def _load(self, env: Env) -> Generator:
        return load_generator(env.device, precision=env.precision_for_generator())


class HFLocalReasoner(TransformersReasoner):
    """Reasons written by any local transformers chat model, given by directory."""

    Config = HFLocalConfig
    config: HFLocalConfig
    name = "hf-local"

    def _load(self, env: Env) -> Generator:
        path = Path(self.config.model_path).expanduser()
        if not path.is_dir():
            raise ModelUnavailableError(
                f"hf-local model_path {path} does not exist or is not a directory; "
                "point it at a local transformers model directory (config.json, weights and tokenizer)"
            )
        try:
            return load_generator(env.device, path, precision=env.precision_for_generator())
        except ModelUnavailableError:
            raise
        except (OSError, ValueError, KeyError) as exc:
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ModelUnavailableError(f"hf-local could not load a transformers model from {path}: {detail}") from exc
