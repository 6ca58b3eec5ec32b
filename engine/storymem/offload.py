"""GPU memory modes: where the text encoder and the two 14B experts live while a shot renders.

* ``none`` -- everything on the GPU. Both experts stay resident when they fit (e.g. a 141 GB H200);
  otherwise (an 80 GB card) one expert is resident at a time and they swap at the MoE boundary, the idle
  one waiting in pinned CPU memory (a copy of ~28 GB each way, twice per shot).
* ``model`` -- model CPU offload: text encoder and each expert come to the GPU only while they run
  (one at a time), from pinned CPU memory.
* ``group`` -- diffusers' block-level group offload with CUDA streams (one transformer block on the GPU at a
  time, the next prefetched) for the text encoder and both experts: for 24 GB cards.

The VAE (~0.5 GB) always stays on the GPU. The T2V and I2V expert pairs are placed one pair at a time
(:meth:`MemoryPlan.place_experts`), so the same plan serves the T2V first shot and the M2V shots.
"""

from __future__ import annotations

from typing import Iterator, Literal

import torch
from torch import nn

OffloadMode = Literal["none", "model", "group"]
OFFLOAD_MODES: tuple[str, ...] = ("none", "model", "group")

ACTIVATION_RESERVE_BYTES = 24 * 2**30
"""GPU memory kept free for activations, the VAE decode and allocator slack when deciding whether both
experts fit in ``none`` mode (832x480x81 with 10 memory frames peaks well below this)."""


def module_bytes(module: nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in _tensors(module))


def _tensors(module: nn.Module) -> Iterator[torch.Tensor]:
    seen = set()
    for tensor in list(module.parameters()) + list(module.buffers()):
        if id(tensor) not in seen:
            seen.add(id(tensor))
            yield tensor


class _PinnedCopy:
    """A module whose weights live in pinned CPU memory and are copied to the GPU on demand. Tensors move
    to pinned memory one at a time (their previous GPU or pageable storage is freed as they go), so host
    memory never holds two copies of the module."""

    def __init__(self, module: nn.Module, device: torch.device):
        self.module = module
        self.device = device
        self.tensors = list(_tensors(module))
        self.host = []
        for tensor in self.tensors:
            host = tensor.data if tensor.device.type == "cpu" and tensor.is_pinned() else None
            if host is None:
                host = torch.empty(tensor.shape, dtype=tensor.dtype, device="cpu", pin_memory=True)
                host.copy_(tensor.data)
            tensor.data = host
            self.host.append(host)

    def onload(self) -> None:
        for tensor, host in zip(self.tensors, self.host):
            tensor.data = host.to(self.device, non_blocking=True)

    def offload(self) -> None:
        for tensor, host in zip(self.tensors, self.host):
            tensor.data = host


class OneResident:
    """At most one of the registered modules is on the GPU: calling a module brings it in (forward
    pre-hook) and sends the previous one back to its pinned CPU copy. Model CPU offload and the expert swap
    of ``none`` mode are both this."""

    def __init__(self, device: torch.device):
        self.device = device
        self.copies: dict[int, _PinnedCopy] = {}
        self.hooks: dict[int, torch.utils.hooks.RemovableHandle] = {}
        self.resident: _PinnedCopy | None = None
        self.swaps = 0

    def add(self, module: nn.Module) -> None:
        self.copies[id(module)] = _PinnedCopy(module, self.device)
        self.hooks[id(module)] = module.register_forward_pre_hook(self._before_forward, with_kwargs=True)

    def evict(self, *_args) -> None:
        """Send the resident module back to the CPU (e.g. before the VAE runs)."""
        if self.resident is not None:
            self.resident.offload()
            self.resident = None

    def remove(self, module: nn.Module) -> None:
        copy = self.copies.pop(id(module), None)
        if copy is None:
            return
        self.hooks.pop(id(module)).remove()
        if self.resident is copy:
            copy.offload()
            self.resident = None

    def _before_forward(self, module: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        copy = self.copies[id(module)]
        if self.resident is not copy:
            if self.resident is not None:
                self.resident.offload()
            copy.onload()
            self.resident = copy
            self.swaps += 1
        move = lambda v: v.to(self.device, non_blocking=True) if torch.is_tensor(v) else v  # noqa: E731
        return tuple(move(a) for a in args), {k: move(v) for k, v in kwargs.items()}


class MemoryPlan:
    """Places the shared components once and each pair of experts when its pipeline is built."""

    def __init__(self, mode: str, device: torch.device | str, keep_both_experts: bool | None = None):
        if mode not in OFFLOAD_MODES:
            raise ValueError(f"offload must be one of {OFFLOAD_MODES}, got {mode!r}")
        self.mode = mode
        self.device = torch.device(device)
        if self.device.type != "cuda" and mode != "none":
            raise ValueError(f"offload {mode!r} needs a CUDA device, not {self.device}")
        self.keep_both_experts = keep_both_experts
        self.swapper = OneResident(self.device) if self.device.type == "cuda" else None
        self.both_resident: bool | None = None

    def place_shared(self, text_encoder: nn.Module, vae: nn.Module) -> None:
        vae.to(self.device)
        if self.mode == "none":
            text_encoder.to(self.device)
        elif self.mode == "model":
            self.swapper.add(text_encoder)
            for part in (vae.encoder, vae.decoder):  # the VAE runs alone: evict the text encoder or expert first
                part.register_forward_pre_hook(self.swapper.evict)
        else:
            # transformers' encoders keep their block list one level down (UMT5EncoderModel.encoder.block)
            self._group_offload(getattr(text_encoder, "encoder", text_encoder))

    def place_experts(self, experts: list[nn.Module]) -> None:
        """Put a pair of experts (on the CPU when called) where the mode wants them."""
        if self.device.type != "cuda":
            for expert in experts:
                expert.to(self.device)
            return
        if self.mode == "group":
            for expert in experts:
                self._group_offload(expert)
            return
        if self.mode == "none":
            self.both_resident = self._both_fit(experts)
            if self.both_resident:
                for expert in experts:
                    expert.to(self.device)
                return
        for expert in experts:
            self.swapper.add(expert)

    def release_experts(self, experts: list[nn.Module]) -> None:
        """Forget a pair of experts; their memory is freed once the caller drops its references."""
        if self.swapper is not None:
            for expert in experts:
                self.swapper.remove(expert)

    def _both_fit(self, experts: list[nn.Module]) -> bool:
        if self.keep_both_experts is not None:
            return self.keep_both_experts
        free, _ = torch.cuda.mem_get_info(self.device)
        return free >= sum(module_bytes(e) for e in experts) + ACTIVATION_RESERVE_BYTES

    def _group_offload(self, module: nn.Module) -> None:
        from diffusers.hooks import apply_group_offloading

        apply_group_offloading(
            module,
            onload_device=self.device,
            offload_device=torch.device("cpu"),
            offload_type="block_level",
            num_blocks_per_group=1,
            use_stream=True,
        )

    def describe(self) -> str:
        if self.mode == "none" and self.both_resident is False:
            return "none (one expert resident, swapped at the boundary)"
        if self.mode == "none" and self.both_resident:
            return "none (both experts resident)"
        return {"none": "none", "model": "model CPU offload", "group": "group offload (block level, streams)"}[self.mode]
