"""The StoryMem LoRA: read ``backbone_{high,low}_noise.pth``, map it onto diffusers module names, fuse it.

The released LoRA was trained with PEFT on Wan's ``WanModel``: rank r = 128, ``lora_alpha`` = 128 and
``use_rslora=True``, so each target weight becomes ``W + (alpha / sqrt(r)) * B @ A`` = ``W + 11.31 * B @ A``
(plain LoRA scaling, alpha / r = 1.0, would silently weaken it 11-fold). Keys are PEFT's
``base_model.model.blocks.N.<module>.lora_{A,B}.weight`` with ``<module>`` one of ``self_attn.{q,k,v,o}``,
``cross_attn.{q,k,v,o}``, ``ffn.0``, ``ffn.2``. The deltas are fused into the expert's weights once at
load time (computed in float32), so inference runs at the base model's speed.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from engine.base import EngineError

RELEASED_RANK = 128
RELEASED_ALPHA = 128.0

_MODULES = {
    "self_attn.q": "attn1.to_q",
    "self_attn.k": "attn1.to_k",
    "self_attn.v": "attn1.to_v",
    "self_attn.o": "attn1.to_out.0",
    "cross_attn.q": "attn2.to_q",
    "cross_attn.k": "attn2.to_k",
    "cross_attn.v": "attn2.to_v",
    "cross_attn.o": "attn2.to_out.0",
    "ffn.0": "ffn.net.0.proj",
    "ffn.2": "ffn.net.2",
}
"""Wan ``WanModel`` module (within ``blocks.N``) -> diffusers ``WanTransformer3DModel`` module."""

_KEY = re.compile(r"^(?:base_model\.model\.)?blocks\.(\d+)\.(.+)\.lora_([AB])(?:\.[A-Za-z0-9_]+)?\.weight$")


@dataclass(frozen=True)
class LoraPair:
    """One low-rank update ``delta = scale * up @ down`` of a diffusers ``nn.Linear``."""

    down: torch.Tensor
    """``lora_A``: ``(r, in_features)``."""
    up: torch.Tensor
    """``lora_B``: ``(out_features, r)``."""

    @property
    def rank(self) -> int:
        return self.down.shape[0]


def rslora_scale(rank: int, alpha: float) -> float:
    """rsLoRA scaling ``alpha / sqrt(rank)`` (11.31 for the released r = alpha = 128)."""
    return alpha / math.sqrt(rank)


def convert_storymem_lora(state_dict: dict[str, torch.Tensor], source: str = "LoRA") -> dict[str, LoraPair]:
    """PEFT ``WanModel`` LoRA keys -> ``{diffusers module name: LoraPair}``, e.g.
    ``base_model.model.blocks.3.self_attn.o.lora_A.weight`` -> ``blocks.3.attn1.to_out.0``. Raises
    :class:`EngineError` naming unknown keys or modules with only one of A/B."""
    halves: dict[str, dict[str, torch.Tensor]] = {}
    unknown = []
    for key, tensor in state_dict.items():
        match = _KEY.match(key)
        if not match or match.group(2) not in _MODULES:
            unknown.append(key)
            continue
        block, module, half = match.groups()
        halves.setdefault(f"blocks.{block}.{_MODULES[module]}", {})[half] = tensor
    if unknown:
        raise EngineError(f"{source} has keys that are not StoryMem LoRA weights: {', '.join(sorted(unknown)[:3])}")
    incomplete = sorted(name for name, pair in halves.items() if set(pair) != {"A", "B"})
    if incomplete:
        raise EngineError(f"{source} lacks lora_A or lora_B for {', '.join(incomplete[:3])}; re-download it")
    if not halves:
        raise EngineError(f"{source} holds no LoRA weights")
    return {name: LoraPair(down=pair["A"], up=pair["B"]) for name, pair in halves.items()}


def load_lora_file(path: Path) -> dict[str, torch.Tensor]:
    """A ``backbone_*.pth`` (or ``.safetensors``) state dict, memory-mapped, on the CPU."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path), device="cpu")
    return torch.load(path, map_location="cpu", mmap=True, weights_only=True)


@torch.no_grad()
def fuse_storymem_lora(
    transformer: nn.Module,
    lora: dict[str, LoraPair],
    *,
    alpha: float | None = None,
    use_rslora: bool = True,
    compute_device: torch.device | str | None = None,
    source: str = "LoRA",
) -> float:
    """Add ``scale * up @ down`` to every target ``nn.Linear`` weight in place, with ``scale = alpha/sqrt(r)``
    (rsLoRA) or ``alpha/r``. ``alpha=None`` uses alpha = r, the released convention (r = alpha = 128).
    The product is formed in float32 on ``compute_device`` (default: the weight's device). Every block of
    the transformer must be covered, with matching shapes. Returns the scale used."""
    ranks = {pair.rank for pair in lora.values()}
    if len(ranks) != 1:
        raise EngineError(f"{source} mixes ranks {sorted(ranks)}; expected one rank")
    rank = ranks.pop()
    alpha = float(rank) if alpha is None else float(alpha)
    scale = rslora_scale(rank, alpha) if use_rslora else alpha / rank

    modules = dict(transformer.named_modules())
    num_blocks = len(transformer.blocks)
    expected = {f"blocks.{b}.{m}" for b in range(num_blocks) for m in _MODULES.values()}
    missing = sorted(expected - set(lora))
    extra = sorted(set(lora) - expected)
    if missing or extra:
        detail = f"missing {', '.join(missing[:2])}" if missing else f"targets unknown {', '.join(extra[:2])}"
        raise EngineError(
            f"{source} does not fit this transformer ({num_blocks} blocks): {detail}; is it the StoryMem LoRA "
            "for Wan2.2-A14B?"
        )
    for name, pair in lora.items():
        linear = modules[name]
        out_features, in_features = linear.weight.shape
        if pair.down.shape != (rank, in_features) or pair.up.shape != (out_features, rank):
            raise EngineError(
                f"{source} shape mismatch at {name}: A {tuple(pair.down.shape)}, B {tuple(pair.up.shape)} for a "
                f"{in_features}->{out_features} layer; is it the StoryMem LoRA for Wan2.2-A14B?"
            )
    for name, pair in lora.items():
        weight = modules[name].weight
        device = torch.device(compute_device) if compute_device is not None else weight.device
        delta = pair.up.to(device, torch.float32) @ pair.down.to(device, torch.float32)  # (out, in)
        fused = weight.to(device, torch.float32).add_(delta, alpha=scale)  # W + scale * B @ A
        weight.copy_(fused.to(weight.device, weight.dtype))
    return scale
