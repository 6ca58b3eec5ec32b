"""Frame sampling and resizing shared by the judges."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def sample_indices(n: int, k: int) -> np.ndarray:
    """``k`` frame indices out of ``n``, as ViCLIP's ``frames2tensor`` takes them: every
    ``n // k``-th frame from the first (``vid_list[::step][:k]``). With fewer than ``k`` frames
    (the reference refuses them) indices repeat, spread evenly: ``linspace(0, n - 1, k)`` rounded."""
    if n <= 0 or k <= 0:
        raise ValueError(f"cannot sample {k} of {n} frames")
    if n < k:
        return np.round(np.linspace(0, n - 1, k)).astype(int)
    return np.arange(0, n, n // k)[:k]


def to_tensor(frames: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """``(N, H, W, 3)`` uint8 -> ``(N, 3, H, W)`` float32 in 0..1 on ``device``."""
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be uint8 (N, H, W, 3), got {getattr(frames, 'dtype', None)} {getattr(frames, 'shape', None)}")
    return torch.from_numpy(np.ascontiguousarray(frames)).to(device).permute(0, 3, 1, 2).float().div(255.0)


def resize_center_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    """CLIP's preprocessing geometry: bicubic resize of the shorter side to ``size`` (antialiased), then a
    centre crop to ``size x size``. ``(N, 3, H, W)`` -> ``(N, 3, size, size)``."""
    h, w = x.shape[-2:]
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    x = F.interpolate(x, size=(nh, nw), mode="bicubic", align_corners=False, antialias=True).clamp(0.0, 1.0)
    top, left = (nh - size) // 2, (nw - size) // 2
    return x[..., top : top + size, left : left + size]
