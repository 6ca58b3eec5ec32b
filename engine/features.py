"""Embedded CPU fallbacks for keyframe embedding and frame quality (no model weights needed).

* :class:`StatsEmbedder` stands in for CLIP ViT-B/32: colour histograms in CIELAB (global and
  over a soft 4x3 grid) plus gradient-orientation histograms, on frames area-downsampled to 48x32.
* :class:`StatsQualityScorer` stands in for HPSv3: sharpness, exposure, clipping and contrast,
  combined into one score from 0 to 10 with a pass threshold of 3.0.

docs/memory.md explains what they measure, their thresholds and why.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

GRID_W, GRID_H = 48, 32
"""Every frame is area-averaged to this grid first, so embeddings do not depend on frame size."""


def _check_batch(frames: np.ndarray) -> None:
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(
            f"frames must be a uint8 array (N, H, W, 3), got {getattr(frames, 'dtype', type(frames).__name__)} "
            f"{getattr(frames, 'shape', None)}"
        )
    if frames.shape[1] < 2 or frames.shape[2] < 2:
        raise ValueError(f"frames of {frames.shape[2]}x{frames.shape[1]} are too small to measure (need 2x2 or more)")


def _area_downsample(frames: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """``(N, H, W, C)`` -> ``(N, out_h, out_w, C)`` float32 by averaging over near-equal blocks.

    Large frames are first subsampled with a stride so at most ~4 pixels per output pixel and axis
    are read (cheap, and plenty for a coarse grid)."""
    n, h, w, _ = frames.shape
    sy = max(1, h // (out_h * 4))
    sx = max(1, w // (out_w * 4))
    x = frames[:, ::sy, ::sx].astype(np.float32)  # (N, h', w', C)
    h2, w2 = x.shape[1], x.shape[2]
    ey = np.linspace(0, h2, min(out_h, h2) + 1).astype(int)[:-1]
    ex = np.linspace(0, w2, min(out_w, w2) + 1).astype(int)[:-1]
    sums = np.add.reduceat(np.add.reduceat(x, ey, axis=1), ex, axis=2)  # (N, out_h, out_w, C)
    cnt_y = np.diff(np.append(ey, h2)).astype(np.float32)
    cnt_x = np.diff(np.append(ex, w2)).astype(np.float32)
    out = sums / (cnt_y[None, :, None, None] * cnt_x[None, None, :, None])
    if out.shape[1] != out_h or out.shape[2] != out_w:  # tiny frames: nearest upsample to the grid
        iy = np.minimum((np.arange(out_h) * out.shape[1]) // out_h, out.shape[1] - 1)
        ix = np.minimum((np.arange(out_w) * out.shape[2]) // out_w, out.shape[2] - 1)
        out = out[:, iy][:, :, ix]
    return out


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """``(..., 3)`` sRGB in 0..255 -> CIELAB (D65): L in 0..100, a/b roughly -100..100."""
    c = rgb.astype(np.float32) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    m = np.array([[0.4124564, 0.3575761, 0.1804375],
                  [0.2126729, 0.7151522, 0.0721750],
                  [0.0193339, 0.1191920, 0.9503041]], dtype=np.float32)
    xyz = lin @ m.T / np.array([0.95047, 1.0, 1.08883], dtype=np.float32)
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16.0 / 116.0)
    lab = np.stack([116.0 * f[..., 1] - 16.0, 500.0 * (f[..., 0] - f[..., 1]), 200.0 * (f[..., 1] - f[..., 2])], -1)
    return lab.astype(np.float32)


def _tent(values: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Soft (linear-interpolation) bin weights: ``(...,)`` -> ``(..., B)``, summing to 1."""
    step = centres[1] - centres[0]
    v = np.clip(values, centres[0], centres[-1])
    return np.maximum(0.0, 1.0 - np.abs(v[..., None] - centres) / step).astype(np.float32)


def _cell_weights(n: int, cells: int) -> np.ndarray:
    """``(n, cells)`` soft assignment of ``n`` grid positions to ``cells`` overlapping cells."""
    pos = (np.arange(n) + 0.5) / n * cells - 0.5  # cell coordinate of each position
    return _tent(pos, np.arange(cells, dtype=np.float32))


def _unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero)."""
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norm, 1e-8)


@dataclass
class StatsEmbedder:
    """Deterministic colour/texture embedding of frames (implements ``engine.base.FrameEmbedder``).

    Three blocks, each L2-normalised, weighted, concatenated and normalised again (so the cosine
    similarity of two frames is a weighted mean of the blocks' cosines):

    * ``global``: soft 5x5x5 histogram in CIELAB (125), square-rooted (Hellinger) — what colours;
    * ``layout``: a soft 4x3 grid of cells, each with its mean L, a, b and the spread of L,
      centred on mid-grey (48) — where the colours are;
    * ``edges``: 8 gradient orientations over a soft 2x2 grid, magnitude-weighted, square-rooted (32)
      — what the structure looks like.
    """

    name: str = "stats-v1"
    w_global: float = 0.5
    w_layout: float = 0.35
    w_edges: float = 0.15

    @property
    def dim(self) -> int:
        """Length of each embedding."""
        return 294 + 48 + 32

    def embed(self, frames: np.ndarray) -> np.ndarray:
        """``(N, H, W, 3)`` uint8 -> ``(N, 374)`` float32, unit rows."""
        _check_batch(frames)
        small = _area_downsample(frames, GRID_H, GRID_W)  # (N, 32, 48, 3)
        lab = srgb_to_lab(small)  # (N, 32, 48, 3)
        n = lab.shape[0]

        # Global colour histogram: (N, 294).
        wl = _tent(lab[..., 0], np.linspace(0, 100, 6, dtype=np.float32))  # (N, 32, 48, 6)
        wa = _tent(lab[..., 1], np.linspace(-60, 60, 7, dtype=np.float32))  # (N, 32, 48, 7)
        wb = _tent(lab[..., 2], np.linspace(-60, 60, 7, dtype=np.float32))  # (N, 32, 48, 7)
        hist = np.einsum("nyxi,nyxj,nyxk->nijk", wl, wa, wb).reshape(n, -1) / (GRID_H * GRID_W)
        g = _unit(hist)  # (N, 294)

        # Colour layout: soft 4 (x) by 3 (y) cells.
        cy = _cell_weights(GRID_H, 3)  # (32, 3)
        cx = _cell_weights(GRID_W, 4)  # (48, 4)
        cw = np.einsum("yi,xj->yxij", cy, cx)  # (32, 48, 3, 4)
        mass = cw.sum(axis=(0, 1))  # (3, 4)
        mean = np.einsum("nyxc,yxij->nijc", lab, cw) / mass[None, :, :, None]  # (N, 3, 4, 3)
        sq = np.einsum("nyx,yxij->nij", lab[..., 0] ** 2, cw) / mass[None]  # (N, 3, 4)
        spread = np.sqrt(np.maximum(sq - mean[..., 0] ** 2, 0.0))  # (N, 3, 4)
        centred = np.concatenate(
            [(mean[..., :1] - 50.0) / 50.0, mean[..., 1:] / 40.0, (spread[..., None] - 10.0) / 20.0], axis=-1
        )  # (N, 3, 4, 4)
        lay = _unit(centred.reshape(n, -1))  # (N, 48)

        # Edge orientations: 8 unsigned orientations over soft 2x2 cells.
        lum = lab[..., 0]  # (N, 32, 48)
        gy = np.zeros_like(lum)
        gx = np.zeros_like(lum)
        gy[:, 1:-1] = lum[:, 2:] - lum[:, :-2]
        gx[:, :, 1:-1] = lum[:, :, 2:] - lum[:, :, :-2]
        mag = np.hypot(gx, gy)  # (N, 32, 48)
        theta = np.mod(np.arctan2(gy, gx), np.pi) / np.pi * 8.0  # (N, 32, 48) in [0, 8)
        lo = np.floor(theta).astype(int) % 8
        frac = (theta - np.floor(theta)).astype(np.float32)
        ob = np.zeros(lum.shape + (8,), np.float32)  # (N, 32, 48, 8) circular soft bins
        np.put_along_axis(ob, lo[..., None], (1.0 - frac)[..., None], axis=-1)
        hi = (lo + 1) % 8
        ob += np.eye(8, dtype=np.float32)[hi] * frac[..., None]
        ob *= mag[..., None]
        e2y = _cell_weights(GRID_H, 2)  # (32, 2)
        e2x = _cell_weights(GRID_W, 2)  # (48, 2)
        eh = np.einsum("nyxo,yi,xj->nijo", ob, e2y, e2x)  # (N, 2, 2, 8)
        # Per cell: the orientation distribution minus uniform (what is anisotropic about it).
        dist = eh / np.maximum(eh.sum(-1, keepdims=True), 1e-6) - 1.0 / 8.0
        e = _unit(dist.reshape(n, -1))  # (N, 32)

        out = np.concatenate([self.w_global ** 0.5 * g, self.w_layout ** 0.5 * lay, self.w_edges ** 0.5 * e], -1)
        return _unit(out).astype(np.float32)  # (N, 374)


# ----------------------------------------------------------------------------------------------
# Quality

QUALITY_WIDTH = 320
"""Frames are box-downsampled by an integer factor to about this width before measuring sharpness."""


def _luma_small(frames: np.ndarray) -> np.ndarray:
    """``(N, H, W, 3)`` uint8 -> ``(N, h, w)`` float32 luma (ITU-R 601 weights, PIL's) in 0..1,
    box-downsampled by an integer factor so the width is about :data:`QUALITY_WIDTH` (sharpness
    is scale-dependent, so frames of any size are measured at about the same scale)."""
    k = max(1, int(round(frames.shape[2] / QUALITY_WIDTH)))
    small = [np.asarray(Image.fromarray(f).convert("L").reduce(k)) for f in frames]  # N x (h, w)
    return np.stack(small).astype(np.float32) / 255.0  # (N, h, w)


@dataclass
class StatsQualityScorer:
    """Technical frame quality (implements ``engine.base.QualityScorer``), on a 0..10 scale.

    ``score = 10 * s_sharp * s_exposure * s_clip * s_contrast``, each factor in 0..1 (see
    :meth:`factors`). Frames below ``threshold`` (3.0) are never keyframes: blurred (the sharpest
    tiles' Laplacian is weak), black or blown-out (mean luma near 0 or 1, most pixels clipped) and
    flat frames (almost no luma spread) all land well below it; ordinary frames score 6 to 10.
    """

    name: str = "stats-quality-v1"
    threshold: float = 3.0
    sharp_ref: float = 0.004
    """Laplacian variance (luma 0..1, ~320 px wide) at which the sharpness factor is 0.5."""
    contrast_ref: float = 0.03
    """Luma standard deviation at which the contrast factor is 0.5."""

    def measure(self, frames: np.ndarray) -> dict[str, np.ndarray]:
        """Per-frame measurements, each ``(N,)`` float32:

        * ``sharpness``: variance of the 4-neighbour Laplacian of luma (0..1), averaged over the
          sharpest quarter of a 4x4 tile grid (so a sharp subject before a soft background counts);
        * ``laplacian_var``: the same over the whole frame (the classic blur measure);
        * ``mean_luma``: mean luma 0..1; ``dark_clip`` / ``bright_clip``: fraction of pixels with
          luma below 0.02 / above 0.98; ``contrast``: luma standard deviation.
        """
        _check_batch(frames)
        y = _luma_small(frames)  # (N, h, w)
        n, h, w = y.shape
        lap = np.zeros_like(y)
        if h >= 3 and w >= 3:
            lap[:, 1:-1, 1:-1] = (y[:, :-2, 1:-1] + y[:, 2:, 1:-1] + y[:, 1:-1, :-2] + y[:, 1:-1, 2:]
                                  - 4.0 * y[:, 1:-1, 1:-1])  # (N, h, w)
        inner = lap[:, 1:-1, 1:-1] if h >= 3 and w >= 3 else lap
        th, tw = max(1, inner.shape[1] // 4), max(1, inner.shape[2] // 4)
        tiles = inner[:, : th * 4, : tw * 4].reshape(n, 4, th, 4, tw)
        tile_var = tiles.var(axis=(2, 4)).reshape(n, 16)  # (N, 16)
        top = np.sort(tile_var, axis=1)[:, -4:].mean(axis=1)  # (N,)
        return {
            "sharpness": top.astype(np.float32),
            "laplacian_var": inner.reshape(n, -1).var(axis=1).astype(np.float32),
            "mean_luma": y.reshape(n, -1).mean(axis=1).astype(np.float32),
            "dark_clip": (y < 0.02).reshape(n, -1).mean(axis=1).astype(np.float32),
            "bright_clip": (y > 0.98).reshape(n, -1).mean(axis=1).astype(np.float32),
            "contrast": y.reshape(n, -1).std(axis=1).astype(np.float32),
        }

    def factors(self, m: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The four factors (each ``(N,)`` in 0..1) from :meth:`measure`'s output:

        * ``sharp = s² / (s² + sharp_ref²)`` of ``sharpness`` (0.5 at ``sharp_ref``; a Gaussian blur
          of sigma 3 px on an 832-px frame brings crisp frames from ~0.03 to ~0.002);
        * ``exposure = 1 - ((mean_luma - 0.5) / 0.5) ** 4`` (flat in the mid-tones, 0 for black or
          white frames; a night scene at mean luma 0.25 keeps 0.94);
        * ``clip = 1 - 2 * max(0, bright_clip - 0.08) - max(0, dark_clip - 0.25)``: blown highlights
          cost more than crushed blacks (night scenes have many);
        * ``contrast = c² / (c² + contrast_ref²)`` of ``contrast`` (0.5 at ``contrast_ref``).
        """
        s = m["sharpness"]
        sharp = s * s / (s * s + self.sharp_ref ** 2)
        exposure = 1.0 - ((m["mean_luma"] - 0.5) / 0.5) ** 4
        clip = 1.0 - 2.0 * np.maximum(0.0, m["bright_clip"] - 0.08) - np.maximum(0.0, m["dark_clip"] - 0.25)
        c = m["contrast"]
        contrast = c * c / (c * c + self.contrast_ref ** 2)
        return {k: np.clip(v, 0.0, 1.0).astype(np.float32)
                for k, v in {"sharp": sharp, "exposure": exposure, "clip": clip, "contrast": contrast}.items()}

    def score(self, frames: np.ndarray) -> np.ndarray:
        """``(N, H, W, 3)`` uint8 -> ``(N,)`` float32 on 0..10; below :attr:`threshold` fails."""
        f = self.factors(self.measure(frames))
        return (10.0 * f["sharp"] * f["exposure"] * f["clip"] * f["contrast"]).astype(np.float32)
