"""FP8 linear layers for the ``fast`` and ``turbo`` presets: dynamic row-wise scales for activations and weights.

:class:`Float8RowwiseLinear` runs the scheme on torch's own ``torch._scaled_mm`` (kernel ``scaled_mm``, the default
on CUDA with compute capability 8.9+ and on the CPU):

* weight ``W`` ``(N, K)``: ``s_w[n] = max|W[n, :]| / 448``, ``W8 = e4m3(W / s_w)`` once, at quantization time;
* activation ``x`` ``(M, K)``: ``s_x[m] = max|x[m, :]| / 448``, ``x8 = e4m3(x / s_x)`` on every call;
* ``y = (x8 @ W8.T) * s_x * s_w + b``, accumulated in float32.

Kernel ``torchao`` is the same scheme through torchao's ``Float8DynamicActivationFloat8WeightConfig(granularity=
PerRow())``. Both run the same cuBLAS FP8 GEMMs; on an H200 an A14B block took 63.3 ms with ``scaled_mm`` and 63.5 ms
with torchao, but compiling it took 8.5 s against 204 s (torchao's tensor subclass also needs ``fullgraph=False``;
docs/BENCHMARKS.md), so the engine uses ``scaled_mm``. The embedders and the output head stay in bf16.

A GPU test checks that the two agree (tests/gpu/test_storymem_presets_gpu.py).
"""

from __future__ import annotations

import torch
from torch import nn

FP8 = torch.float8_e4m3fn
FP8_MAX = torch.finfo(FP8).max  # 448


def _rowwise(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``t`` ``(R, K)`` -> (e4m3 ``(R, K)``, float32 scales ``(R, 1)``)."""
    t32 = t.float()
    scale = t32.abs().amax(dim=-1, keepdim=True).clamp(min=1e-12) / FP8_MAX  # (R, 1)
    return (t32 / scale).clamp(-FP8_MAX, FP8_MAX).to(FP8), scale


class Float8RowwiseLinear(nn.Module):
    """``nn.Linear`` with FP8 weights and per-call FP8 activations, both with row-wise scales (see the module
    docstring). Input ``(..., K)`` -> output ``(..., N)`` in the input's dtype."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        weight, scale = _rowwise(linear.weight.detach())
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.register_buffer("weight_fp8", weight)  # (N, K)
        self.register_buffer("weight_scale", scale.reshape(1, -1))  # (1, N)
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().clone(), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x8, x_scale = _rowwise(x.reshape(-1, shape[-1]))  # (M, K), (M, 1)
        bias = None if self.bias is None else self.bias.to(x.dtype)
        out = torch._scaled_mm(
            x8, self.weight_fp8.t(), scale_a=x_scale, scale_b=self.weight_scale, out_dtype=x.dtype, bias=bias
        )  # (M, N)
        return out.reshape(*shape[:-1], self.out_features)


def _in_blocks(fqn: str) -> bool:
    return fqn.startswith("blocks.")


def quantize_linears(transformer: nn.Module, kernel: str) -> int:
    """Make every ``nn.Linear`` in ``transformer.blocks`` FP8 with ``kernel`` (``torchao`` or ``scaled_mm``).
    Returns the number of layers changed. Call after any LoRA is fused (the LoRA update is part of what is
    quantized)."""
    linears = [name for name, m in transformer.named_modules() if isinstance(m, nn.Linear) and _in_blocks(name)]
    if kernel == "torchao":
        try:
            from torchao.quantization import Float8DynamicActivationFloat8WeightConfig, PerRow, quantize_
        except ImportError:
            from engine.base import EngineError

            raise EngineError("FP8 linear layers (--preset fast/turbo) need torchao (a dependency of dailies): pip install 'torchao>=0.18'") from None

        quantize_(
            transformer,
            Float8DynamicActivationFloat8WeightConfig(granularity=PerRow()),
            filter_fn=lambda module, fqn: isinstance(module, nn.Linear) and _in_blocks(fqn),
        )
        return len(linears)
    if kernel != "scaled_mm":
        raise ValueError(f"unknown FP8 kernel {kernel!r}; use torchao or scaled_mm")
    for name in linears:
        parent_name, _, child = name.rpartition(".")
        parent = transformer.get_submodule(parent_name)
        setattr(parent, child, Float8RowwiseLinear(getattr(parent, child)))
    return len(linears)
