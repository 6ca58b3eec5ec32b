"""LoRAs of the StoryMem engine: the StoryMem memory LoRA and the step-distill LoRAs of ``turbo``, fused in float32.

**StoryMem LoRA.** Trained with PEFT on Wan's ``WanModel``: rank r = 128, ``lora_alpha`` = 128 and
``use_rslora=True``, so each target weight becomes ``W + (alpha / sqrt(r)) * B @ A`` = ``W + 11.31 * B @ A``
(plain LoRA scaling, alpha / r = 1.0, would silently weaken it 11-fold). Keys are PEFT's
``base_model.model.blocks.N.<module>.lora_{A,B}.weight`` with ``<module>`` one of ``self_attn.{q,k,v,o}``,
``cross_attn.{q,k,v,o}``, ``ffn.0``, ``ffn.2``.

**Step-distill LoRAs** (``turbo``): the public Wan2.2-A14B 4-step LoRAs, one file per expert, in either published
key layout (:data:`STEP_LORA_LAYOUTS`), converted by diffusers' own Wan LoRA converter
(``WanLoraLoaderMixin.lora_state_dict`` -> ``_convert_non_diffusers_wan_lora_to_diffusers``), which folds each
``alpha / rank`` into the factors. Any other layout is refused.

**Fusion.** Every update is added to the weight in float32 and the sum is rounded to the model's dtype once
(:func:`fuse_into_state_dict`): adding a small update to weights already rounded to bf16 loses much of it (an
update with ||dW||/||W|| = 1e-3 keeps about half of itself; tests/test_storymem_lora.py). Several LoRAs (memory +
step-distill) compose by summing their float32 updates before that one rounding. Inference then runs at the
base model's speed.
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
    bias: torch.Tensor | None = None
    """An update of the layer's bias ``(out_features,)`` (LightX2V's ``diff_b``), or None."""

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


# ---------------------------------------------------------------------------- step-distill LoRAs

STEP_LORA_LAYOUTS: dict[str, str] = {
    "lightning": "diffusion_model.blocks.N.<module>.lora_A/lora_B.weight (+ .alpha): lightx2v/Wan2.2-Lightning",
    "lightx2v": "diffusion_model.blocks.N.<module>.lora_down/lora_up.weight (+ .alpha, .diff, .diff_b): "
    "lightx2v/Wan2.2-Distill-Loras",
}
"""The two published key layouts of the Wan2.2-A14B 4-step LoRAs, both in Wan's original module names."""

_LAYOUT_SUFFIXES = {
    "lightning": (".lora_A.weight", ".lora_B.weight", ".alpha", ".diff_b"),
    "lightx2v": (".lora_down.weight", ".lora_up.weight", ".alpha", ".diff", ".diff_b", ".diff_m"),
}
IMAGE_BRANCH_MODULES = ("attn2.add_k_proj", "attn2.add_v_proj", "condition_embedder.image_embedder")
"""Wan2.1 I2V's image cross-attention, which Wan2.2 does not have: LoRAs made for 2.1 carry updates for it."""


def step_lora_layout(state_dict: dict[str, torch.Tensor], source: str = "step LoRA") -> str:
    """``lightning`` or ``lightx2v`` (see :data:`STEP_LORA_LAYOUTS`); any other key layout raises
    :class:`EngineError` naming what was found and what is supported."""
    keys = list(state_dict)
    supported = "; ".join(f"{name}: {text}" for name, text in STEP_LORA_LAYOUTS.items())
    if not keys:
        raise EngineError(f"{source} holds no tensors; expected a Wan2.2 step-distill LoRA ({supported})")
    if all(k.startswith("diffusion_model.") for k in keys):
        has_ab = any(k.endswith((".lora_A.weight", ".lora_B.weight")) for k in keys)
        has_down_up = any(k.endswith((".lora_down.weight", ".lora_up.weight")) for k in keys)
        if has_ab != has_down_up:
            layout = "lightning" if has_ab else "lightx2v"
            odd = [k for k in keys if not k.endswith(_LAYOUT_SUFFIXES[layout])]
            if not odd:
                return layout
            keys = odd
    raise EngineError(
        f"{source} is not a Wan2.2 step-distill LoRA in a known key layout (found keys like "
        f"{', '.join(sorted(keys)[:2])}); supported layouts: {supported}"
    )


def convert_step_lora(state_dict: dict[str, torch.Tensor], source: str = "step LoRA") -> tuple[dict[str, LoraPair], str]:
    """A step-distill LoRA in either published layout -> ``({diffusers module name: LoraPair}, layout)``,
    through diffusers' own Wan converter (alpha / rank folded into the factors, so the fusion scale is 1.0;
    ``diff_b`` becomes a bias update). Raises :class:`EngineError` for an unknown layout, or for non-zero
    weight differences (``.diff``/``.diff_m`` of norms or modulation) that diffusers' converter drops."""
    from diffusers.loaders.lora_pipeline import WanLoraLoaderMixin

    layout = step_lora_layout(state_dict, source)
    dropped = [
        k for k, v in state_dict.items()
        if k.endswith((".diff", ".diff_m")) and not k.startswith("diffusion_model.head.head.") and bool(v.abs().max() > 0)
    ]  # fmt: skip
    if dropped:
        raise EngineError(
            f"{source} changes {len(dropped)} weights that diffusers' Wan converter does not apply "
            f"(e.g. {dropped[0]}); this LoRA cannot be loaded faithfully"
        )
    try:
        # the converter scales some factors in place (cross-attention, FFN): give it copies
        converted = WanLoraLoaderMixin.lora_state_dict({k: v.clone() for k, v in state_dict.items()})
    except (KeyError, ValueError) as err:
        raise EngineError(f"{source}: diffusers' Wan LoRA converter refused it ({err!r}); re-download it") from None
    parts: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in converted.items():
        name = key.removeprefix("transformer.")
        for suffix, part in ((".lora_A.weight", "A"), (".lora_B.weight", "B"), (".lora_B.bias", "bias")):
            if name.endswith(suffix):
                parts.setdefault(name[: -len(suffix)], {})[part] = tensor
                break
        else:
            raise EngineError(f"{source}: unexpected converted key {key}")
    incomplete = sorted(n for n, p in parts.items() if not {"A", "B"} <= set(p))
    if incomplete:
        raise EngineError(f"{source} lacks a down or up matrix for {', '.join(incomplete[:3])}; re-download it")
    return {n: LoraPair(down=p["A"], up=p["B"], bias=p.get("bias")) for n, p in parts.items()}, layout


# ---------------------------------------------------------------------------- fusion


@dataclass(frozen=True)
class LoraUpdate:
    """One LoRA to fuse: its pairs, the scale of ``up @ down``, and where it came from (for errors)."""

    pairs: dict[str, LoraPair]
    scale: float
    source: str
    complete: bool = False
    """True for the StoryMem LoRA: it must cover every block's ten target layers."""


def storymem_update(lora: dict[str, LoraPair], *, alpha: float | None = None, use_rslora: bool = True,
                    source: str = "LoRA") -> LoraUpdate:
    """The StoryMem LoRA as an update with ``scale = alpha/sqrt(r)`` (rsLoRA) or ``alpha/r``; ``alpha=None``
    uses alpha = r, the released convention (r = alpha = 128 -> 11.31)."""
    ranks = {pair.rank for pair in lora.values()}
    if len(ranks) != 1:
        raise EngineError(f"{source} mixes ranks {sorted(ranks)}; expected one rank")
    rank = ranks.pop()
    alpha = float(rank) if alpha is None else float(alpha)
    scale = rslora_scale(rank, alpha) if use_rslora else alpha / rank
    return LoraUpdate(pairs=lora, scale=scale, source=source, complete=True)


def _check_update(update: LoraUpdate, shapes: dict[str, tuple[int, ...]], num_blocks: int) -> list[str]:
    """Check an update against the layer shapes ``{module: weight shape}``; returns the module names to skip
    (Wan2.1 image-branch layers that Wan2.2 lacks) and raises :class:`EngineError` for anything else."""
    if update.complete:
        expected = {f"blocks.{b}.{m}" for b in range(num_blocks) for m in _MODULES.values()}
        missing, extra = sorted(expected - set(update.pairs)), sorted(set(update.pairs) - expected)
        if missing or extra:
            detail = f"missing {', '.join(missing[:2])}" if missing else f"targets unknown {', '.join(extra[:2])}"
            raise EngineError(
                f"{update.source} does not fit this transformer ({num_blocks} blocks): {detail}; is it the StoryMem "
                "LoRA for Wan2.2-A14B?"
            )
    skip = []
    for name, pair in update.pairs.items():
        if name not in shapes:
            if any(name.endswith(m) or f"{m}." in name for m in IMAGE_BRANCH_MODULES):
                skip.append(name)
                continue
            raise EngineError(f"{update.source} targets {name}, which this transformer does not have; is it for Wan2.2-A14B?")
        out_features, in_features = shapes[name]
        if pair.down.shape != (pair.rank, in_features) or pair.up.shape != (out_features, pair.rank) or (
            pair.bias is not None and pair.bias.shape != (out_features,)
        ):
            raise EngineError(
                f"{update.source} shape mismatch at {name}: A {tuple(pair.down.shape)}, B {tuple(pair.up.shape)} for "
                f"a {in_features}->{out_features} layer; is it made for Wan2.2-A14B?"
            )
    return skip


@torch.no_grad()
def fuse_into_state_dict(
    state: dict[str, torch.Tensor],
    updates: list[LoraUpdate],
    *,
    num_blocks: int,
    dtype_of=None,
    compute_device: torch.device | str | None = None,
    shapes: dict[str, tuple[int, ...]] | None = None,
) -> list[str]:
    """Add every update to ``state`` (diffusers names, ``<module>.weight`` / ``<module>.bias``) in place:
    ``W = round(W + sum_i scale_i * B_i @ A_i)`` with the sum formed in float32 on ``compute_device`` (default:
    the tensor's device) and one rounding to ``dtype_of(key)`` (default: the tensor's own dtype). Returns
    notes (e.g. skipped Wan2.1 image-branch layers). All updates are checked before anything changes, against
    ``shapes`` (``{module: weight shape}`` of the whole model) when ``state`` is one shard of it: then only the
    layers present in ``state`` are updated."""
    partial = shapes is not None
    if shapes is None:
        shapes = {k[: -len(".weight")]: tuple(v.shape) for k, v in state.items() if k.endswith(".weight") and v.dim() == 2}
    notes, skips = [], []
    for update in updates:
        skip = _check_update(update, shapes, num_blocks)
        skips.append(set(skip))
        if skip:
            notes.append(f"{update.source}: ignored {len(skip)} layers of Wan2.1's image cross-attention (not in Wan2.2)")
    targets = sorted({n for u, s in zip(updates, skips) for n in u.pairs if n not in s})
    for name in targets:
        for part in ("weight", "bias"):
            key = f"{name}.{part}"
            contributions = [(u.pairs[name], u.scale) for u, s in zip(updates, skips) if name in u.pairs and name not in s]
            if part == "bias" and not any(p.bias is not None for p, _ in contributions):
                continue
            if partial and key not in state:
                continue  # in another shard
            if key not in state:
                raise EngineError(f"{updates[0].source}: {name} has no {part} to update")
            tensor = state[key]
            device = torch.device(compute_device) if compute_device is not None else tensor.device
            total = tensor.to(device, torch.float32)  # (out, in) or (out,)
            for pair, scale in contributions:
                if part == "weight":
                    total += scale * (pair.up.to(device, torch.float32) @ pair.down.to(device, torch.float32))
                elif pair.bias is not None:
                    total += scale * pair.bias.to(device, torch.float32)
            target = dtype_of(key) if dtype_of is not None else tensor.dtype
            state[key] = total.to(tensor.device, target)
    return notes


@torch.no_grad()
def fuse_loras(transformer: nn.Module, updates: list[LoraUpdate], *, compute_device=None) -> list[str]:
    """:func:`fuse_into_state_dict` on a built transformer's parameters (each keeps its dtype). Use it for
    models that are already in memory; the loader fuses before the cast (:func:`engine.storymem.loading.load_expert`)."""
    params = dict(transformer.named_parameters())
    state = {k: p.data for k, p in params.items()}
    notes = fuse_into_state_dict(state, updates, num_blocks=len(transformer.blocks), compute_device=compute_device)
    for key, tensor in state.items():
        if tensor is not params[key].data:
            params[key].data = tensor
    return notes


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
    """Fuse the StoryMem LoRA into a built transformer (every block must be covered, with matching shapes):
    ``W + scale * up @ down`` in float32, rounded once to the weight's dtype. Returns the scale used."""
    update = storymem_update(lora, alpha=alpha, use_rslora=use_rslora, source=source)
    fuse_loras(transformer, [update], compute_device=compute_device)
    return update.scale
