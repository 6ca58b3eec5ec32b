"""3D rotary position embedding computed from a temporal position tensor.

diffusers' ``WanRotaryPosEmbed`` indexes a table precomputed for positions ``0..rope_max_seq_len-1``, so it
cannot place memory frames at negative times as the StoryMem paper does. :class:`PositionalRotaryEmbed`
has the same interface (``forward(hidden_states) -> (cos, sin)``, each ``(1, F*H*W, 1, head_dim)``) but
computes cos/sin from the frame positions it is given; with no positions set it uses ``0..F-1`` and returns
exactly what the stock module returns. :func:`install_positional_rope` swaps it into a
``WanTransformer3DModel`` (the transformer's own code is untouched).

Two placements of the M memory latent frames (:func:`memory_frame_positions`):

* ``released``: memory at ``0..M-1``, the video after it at ``M..M+F-1`` (the released StoryMem code);
* ``paper``: memory at ``-M*S, ..., -2S, -S`` with stride ``S`` (5 in the paper), the video at ``0..F-1``.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

MemoryPositions = Literal["released", "paper"]
MEMORY_POSITIONS: tuple[str, ...] = ("released", "paper")
PAPER_MEMORY_STRIDE = 5
"""S in the paper: memory frame i of M sits at time -(M - i) * S."""


def memory_frame_positions(
    num_memory: int, num_video: int, layout: MemoryPositions, stride: int = PAPER_MEMORY_STRIDE
) -> torch.Tensor:
    """Temporal RoPE positions of ``num_memory`` memory latent frames followed by ``num_video`` video latent
    frames, as a float64 tensor of length ``num_memory + num_video``."""
    if layout not in MEMORY_POSITIONS:
        raise ValueError(f"memory_positions must be one of {MEMORY_POSITIONS}, got {layout!r}")
    if num_memory < 0 or num_video < 1:
        raise ValueError(f"need num_memory >= 0 and num_video >= 1, got {num_memory} and {num_video}")
    if stride < 1:
        raise ValueError(f"memory stride must be >= 1, got {stride}")
    if layout == "released":
        return torch.arange(num_memory + num_video, dtype=torch.float64)
    memory = -stride * torch.arange(num_memory, 0, -1, dtype=torch.float64)  # -M*S ... -S
    video = torch.arange(num_video, dtype=torch.float64)
    return torch.cat([memory, video])


def _axis_cos_sin(positions: torch.Tensor, dim: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin of ``positions`` (float64, on CPU) for a rotary axis of ``dim`` channels, each channel pair
    repeated twice, as float32 ``(len(positions), dim)`` -- the same arithmetic as diffusers'
    ``get_1d_rotary_pos_embed(use_real=True, repeat_interleave_real=True, freqs_dtype=float64)``."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))  # (dim/2,)
    angles = torch.outer(positions, inv_freq)  # (P, dim/2)
    cos = angles.cos().repeat_interleave(2, dim=1).float()  # (P, dim)
    sin = angles.sin().repeat_interleave(2, dim=1).float()  # (P, dim)
    return cos, sin


class PositionalRotaryEmbed(nn.Module):
    """Wan's 3D RoPE (time, height, width split of each head) from an explicit temporal position tensor.

    Set the temporal positions with :meth:`set_frame_positions` before a forward (``None`` means
    ``0..F-1``); height and width positions are always ``0..H-1`` and ``0..W-1``. Tables are computed in
    float64 on the CPU, like the stock module, and cached per shape, positions and device."""

    def __init__(self, attention_head_dim: int, patch_size: tuple[int, int, int], theta: float = 10000.0):
        super().__init__()
        self.attention_head_dim = attention_head_dim
        self.patch_size = tuple(patch_size)
        self.theta = theta
        self.h_dim = self.w_dim = 2 * (attention_head_dim // 6)
        self.t_dim = attention_head_dim - self.h_dim - self.w_dim
        self.frame_positions: torch.Tensor | None = None
        self._cache: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}

    @classmethod
    def like(cls, stock: nn.Module) -> "PositionalRotaryEmbed":
        """A module with the same head split and patch size as a stock ``WanRotaryPosEmbed``."""
        return cls(stock.attention_head_dim, stock.patch_size)

    def set_frame_positions(self, positions: torch.Tensor | None) -> None:
        """Temporal positions of the latent frames (float, length = latent frames), or None for 0..F-1."""
        self.frame_positions = None if positions is None else positions.detach().to("cpu", torch.float64)

    def forward(self, hidden_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _, _, num_frames, height, width = hidden_states.shape  # (B, C, F, H, W)
        p_t, p_h, p_w = self.patch_size
        ppf, pph, ppw = num_frames // p_t, height // p_h, width // p_w
        if self.frame_positions is None:
            t_pos = torch.arange(ppf, dtype=torch.float64)
        else:
            if self.frame_positions.numel() != ppf:
                raise ValueError(
                    f"rope has {self.frame_positions.numel()} frame positions but the input has {ppf} latent frames"
                )
            t_pos = self.frame_positions
        key = (tuple(t_pos.tolist()), pph, ppw, hidden_states.device)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._tables(t_pos, pph, ppw, hidden_states.device)
            self._cache = {key: cached}  # one entry: a shot uses one shape
        return cached

    def _tables(
        self, t_pos: torch.Tensor, pph: int, ppw: int, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor]:
        ppf = t_pos.numel()
        cos_t, sin_t = _axis_cos_sin(t_pos, self.t_dim, self.theta)  # (F, t_dim)
        cos_h, sin_h = _axis_cos_sin(torch.arange(pph, dtype=torch.float64), self.h_dim, self.theta)  # (H, h_dim)
        cos_w, sin_w = _axis_cos_sin(torch.arange(ppw, dtype=torch.float64), self.w_dim, self.theta)  # (W, w_dim)

        def grid(t: torch.Tensor, h: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
            full = torch.cat(
                [
                    t.view(ppf, 1, 1, -1).expand(ppf, pph, ppw, -1),
                    h.view(1, pph, 1, -1).expand(ppf, pph, ppw, -1),
                    w.view(1, 1, ppw, -1).expand(ppf, pph, ppw, -1),
                ],
                dim=-1,
            )  # (F, H, W, head_dim)
            return full.reshape(1, ppf * pph * ppw, 1, -1).to(device)  # (1, F*H*W, 1, head_dim)

        return grid(cos_t, cos_h, cos_w), grid(sin_t, sin_h, sin_w)


def install_positional_rope(transformer: nn.Module) -> PositionalRotaryEmbed:
    """Replace ``transformer.rope`` (a stock ``WanRotaryPosEmbed``) by a :class:`PositionalRotaryEmbed`
    with the same geometry; idempotent. Returns the installed module."""
    if isinstance(transformer.rope, PositionalRotaryEmbed):
        return transformer.rope
    rope = PositionalRotaryEmbed.like(transformer.rope)
    transformer.rope = rope
    return rope
