"""Int8 weights for the generator on CPU: every linear layer but the output head keeps int8 weights.

Why weight-only and not ``torch.ao.quantization.quantize_dynamic``: dynamic quantization also rounds
each layer's input activations to int8, and SmolLM2's activations have outliers (worst at the MLP's
``down_proj``), so its greedy next token agreed with fp32's on only 32-41% of the positions of fp32's
own answers to four prompts; int8 weights alone agree on 98% (``bench/generator_speed.py`` prints it).
The matrix product is torch's ``_weight_int8pack_mm`` kernel, which is fast only for bf16 inputs (for
fp32 inputs it was slower than fp32 weights), so each layer casts its input to bf16 and its output back:
the residual stream, norms, attention and the logits stay fp32.

The output head (tied to the token embeddings) stays fp32: quantizing it too decoded faster (84 vs 54
tok/s on 2 busy cores) but moved top-1 agreement from 98% to 94%, at the one step that picks every word.
"""

from __future__ import annotations

from typing import Any

import torch

KEEP_FP32 = ("lm_head",)
"""Linear layers (by attribute name) left in fp32."""
DEQUANTIZE_ROWS = 256
"""Past this many rows (a prompt's prefill, not a decoding step) a layer multiplies by its weights dequantized
to bf16 instead: ``_weight_int8pack_mm`` ran on one thread there, and a 36 x 150-token prefill took 9.7 s
with it against 4.5 s dequantized (6.7-9.5 s in fp32) on 2 busy cores."""


class Int8Linear(torch.nn.Module):
    """``nn.Linear`` with symmetric per-output-channel int8 weights and bf16 scales."""

    def __init__(self, weight: torch.Tensor, bias: torch.nn.Parameter | None) -> None:
        """``weight`` as ``nn.Linear`` holds it: (out_features, in_features)."""
        super().__init__()
        weight = weight.detach().float()
        scales = weight.abs().amax(dim=1).clamp(min=1e-8) / 127.0
        q = torch.round(weight / scales[:, None]).clamp(-127, 127).to(torch.int8)
        self.qweight: torch.Tensor
        self.scales: torch.Tensor
        self.register_buffer("qweight", q.contiguous())
        self.register_buffer("scales", scales.to(torch.bfloat16).contiguous())
        self.bias = bias
        self.out_features, self.in_features = weight.shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, self.in_features).to(torch.bfloat16).contiguous()
        if flat.shape[0] > DEQUANTIZE_ROWS:
            weight = self.qweight.to(torch.bfloat16) * self.scales[:, None]
            out = torch.nn.functional.linear(flat, weight).to(x.dtype)
        else:
            out = torch.ops.aten._weight_int8pack_mm(flat, self.qweight, self.scales).to(x.dtype)
        if self.bias is not None:
            out = out + self.bias
        return out.reshape(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8 weights"


def quantize_int8(model: Any, keep: tuple[str, ...] = KEEP_FP32) -> Any:
    """Replace every linear layer of an fp32 CPU model (except those named in ``keep``) with :class:`Int8Linear`.

    Linear layers are ``nn.Linear`` and transformers' ``Conv1D`` (GPT-2's, weight stored transposed).
    In place; returns the model. Each fp32 weight is released once its int8 copy replaces it.
    """
    from transformers.pytorch_utils import Conv1D

    # Only the parents are listed: a list holding the fp32 layers too would keep every fp32 weight alive to the end.
    parents = [m for m in model.modules() if not isinstance(m, (torch.nn.Linear, Conv1D))]
    for module in parents:
        for name, child in list(module.named_children()):
            if name in keep:
                continue
            if isinstance(child, torch.nn.Linear):
                setattr(module, name, Int8Linear(child.weight, child.bias))
            elif isinstance(child, Conv1D):
                setattr(module, name, Int8Linear(child.weight.t(), child.bias))
    return model


def count_int8_linears(model: Any) -> int:
    """How many linear layers of ``model`` hold int8 weights."""
    return sum(isinstance(m, Int8Linear) for m in model.modules())
