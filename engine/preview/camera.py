"""The camera: a shot's move in world coordinates (pan, tilt, dolly, zoom, track, orbit, handheld,
drift; figures with parallax), the view it shows, and continuing the previous shot's last frame by
this shot's camera (MI2V) or the last frames by their measured motion (MM2V)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from engine.preview.prompt import ShotLook


def _view(world: Image.Image, cx: float, cy: float, s: float, W: int, H: int) -> Image.Image:
    """The ``W x H`` view of ``world`` centred at (cx, cy) showing ``s*W x s*H`` world pixels
    (bilinear, sub-pixel; the view is shifted inside the world if it pokes out)."""
    vw, vh = min(s * W, world.width), min(s * H, world.height)
    x0 = min(max(0.0, cx - vw / 2), world.width - vw)
    y0 = min(max(0.0, cy - vh / 2), world.height - vh)
    return world.resize((W, H), Image.Resampling.BILINEAR, box=(x0, y0, x0 + vw, y0 + vh))


def _smoothstep(x: float) -> float:
    x = min(1.0, max(0.0, x))
    return x * x * (3 - 2 * x)


@dataclass
class _CameraPath:
    """Per frame: background view (centre x, centre y, scale) and the figure layer's view."""

    start: tuple[float, float, float]
    end: tuple[float, float, float]
    frames: int
    parallax: float  # figure layer's share of the lateral move
    scale_power: float  # figure layer's share of the scale change
    shake: np.ndarray  # (F, 2) handheld offsets in world pixels

    def _progress(self, t: int) -> float:
        return _smoothstep(t / max(1, self.frames - 1)) * 0.7 + (t / max(1, self.frames - 1)) * 0.3

    def background(self, t: int) -> tuple[float, float, float]:
        p = self._progress(t)
        cx = self.start[0] + (self.end[0] - self.start[0]) * p + self.shake[t, 0]
        cy = self.start[1] + (self.end[1] - self.start[1]) * p + self.shake[t, 1]
        s = self.start[2] * (self.end[2] / self.start[2]) ** p
        return cx, cy, s

    def figures(self, t: int) -> tuple[float, float, float]:
        p = self._progress(t)
        cx = self.start[0] + (self.end[0] - self.start[0]) * p * self.parallax + self.shake[t, 0]
        cy = self.start[1] + (self.end[1] - self.start[1]) * p * self.parallax + self.shake[t, 1]
        s = self.start[2] * (self.end[2] / self.start[2]) ** (p * self.scale_power)
        return cx, cy, s


_PARALLAX = {"pan_left": True, "pan_right": True, "orbit": True, "track": True, "push_in": True, "pull_out": True}
"""Camera moves whose figure layer moves differently from the background (drawn as two layers)."""


def _camera_path(look: ShotLook, F: int, W: int, H: int, margin: float, rng: np.random.Generator,
                 start_view: tuple[float, float, float] | None = None) -> _CameraPath:
    """The camera move of a shot in world coordinates: from the centred base view, or for a
    continuation from ``start_view`` (centre offset from the world centre in frame sizes, scale),
    where the previous shot's camera stopped; the move is kept inside the world."""
    WW, WH = W * (1 + margin), H * (1 + margin)
    cx, cy = WW / 2 + rng.uniform(-0.01, 0.01) * W, WH / 2 + rng.uniform(-0.01, 0.01) * H
    if start_view is not None:
        path = _camera_path(look, F, W, H, margin, rng)
        sx, sy, ss = WW / 2 + start_view[0] * W, WH / 2 + start_view[1] * H, start_view[2]
        ex = sx + (path.end[0] - path.start[0])
        ey = sy + (path.end[1] - path.start[1])
        es = min(1.0 + margin * 0.9, max(0.6, ss * path.end[2] / path.start[2]))
        ex = min(max(ex, es * W / 2), WW - es * W / 2)
        ey = min(max(ey, es * H / 2), WH - es * H / 2)
        return _CameraPath((sx, sy, ss), (ex, ey, es), F, path.parallax, path.scale_power, path.shake)
    pan, tilt = 0.12 * W, 0.1 * H
    kind = look.camera
    start, end = (cx, cy, 1.0), (cx, cy, 1.0)
    parallax, power = 1.0, 1.0
    if kind == "pan_left":
        start, end, parallax = (cx + pan, cy, 1.0), (cx - pan, cy, 1.0), 1.25
    elif kind in ("pan_right", "orbit"):
        start, end, parallax = (cx - pan, cy, 1.0), (cx + pan, cy, 1.0), 1.25 if kind == "pan_right" else 1.6
    elif kind == "tilt_up":
        start, end = (cx, cy + tilt, 1.0), (cx, cy - tilt, 1.0)
    elif kind == "tilt_down":
        start, end = (cx, cy - tilt, 1.0), (cx, cy + tilt, 1.0)
    elif kind == "push_in":
        start, end, power = (cx, cy, 1.1), (cx, cy, 0.85), 1.5
    elif kind == "pull_out":
        start, end, power = (cx, cy, 0.85), (cx, cy, 1.1), 1.5
    elif kind == "zoom_in":
        start, end = (cx, cy, 1.12), (cx, cy, 0.8)
    elif kind == "zoom_out":
        start, end = (cx, cy, 0.8), (cx, cy, 1.12)
    elif kind == "track":
        start, end, parallax = (cx - pan, cy, 1.0), (cx + pan, cy, 1.0), 0.08
    elif kind == "drift":
        d = rng.uniform(0, 2 * math.pi)
        start = (cx - math.cos(d) * 0.02 * W, cy - math.sin(d) * 0.015 * H, 1.0)
        end = (cx + math.cos(d) * 0.02 * W, cy + math.sin(d) * 0.015 * H, 0.97)
    shake = np.zeros((F, 2))
    if kind == "handheld":
        # Smooth random walk: low-pass filtered noise, a few pixels.
        k = np.arange(F)[:, None] / 16.0
        ph = rng.uniform(0, 2 * math.pi, (3, 2))
        shake = sum(np.sin(k * f * 2 * math.pi + ph[i]) * amp for i, (f, amp) in
                    enumerate(((0.4, 0.006 * W), (0.9, 0.003 * W), (1.7, 0.0015 * W))))
    return _CameraPath(start, end, F, parallax, power, np.asarray(shake, float))


def _continue_camera(image: np.ndarray, path: _CameraPath, t0: int, t: int) -> np.ndarray:
    """The previous shot's last frame moved by this shot's camera from frame ``t0`` to ``t``
    (edges clamped), so an MI2V shot starts by moving like the new shot."""
    H, W = image.shape[:2]
    c0x, c0y, s0 = path.background(t0)
    ctx, cty, st = path.background(t)
    a = st / s0
    bx = ((ctx - c0x) - (st - s0) * W / 2) / s0
    by = ((cty - c0y) - (st - s0) * H / 2) / s0
    return _affine(image, a, bx, by)


def _affine(image: np.ndarray, a: float, bx: float, by: float) -> np.ndarray:
    """Sample ``image`` ``(H, W, 3)`` or ``(H, W)`` at ``(a*x + bx, a*y + by)`` with bilinear filtering
    and clamped edges."""
    H, W = image.shape[:2]
    pad = int(max(8, abs(bx) + 2, abs(by) + 2, abs(1 - a) * max(W, H) + 2))
    padded = Image.fromarray(np.pad(image, ((pad, pad), (pad, pad)) + ((0, 0),) * (image.ndim - 2), mode="edge"))
    out = padded.transform((W, H), Image.Transform.AFFINE, (a, 0, bx + pad, 0, a, by + pad), Image.Resampling.BILINEAR)
    return np.asarray(out)


def _subpixel(corr: np.ndarray, idx: int) -> tuple[float, float]:
    """Peak position (dy, dx) of a circular correlation surface, refined by a parabola per axis,
    wrapped to signed shifts."""
    h, w = corr.shape
    py, px = divmod(idx, w)

    def refine(m1: float, c: float, p1: float) -> float:
        den = m1 - 2 * c + p1
        return 0.0 if abs(den) < 1e-12 else float(np.clip(0.5 * (m1 - p1) / den, -0.5, 0.5))

    c = corr[py, px]
    dy = py + refine(corr[(py - 1) % h, px], c, corr[(py + 1) % h, px])
    dx = px + refine(corr[py, (px - 1) % w], c, corr[py, (px + 1) % w])
    return (dy - h if dy > h / 2 else dy), (dx - w if dx > w / 2 else dx)


ZOOM_MARGIN = 1.1
"""MM2V motion estimate: a zoom must beat no zoom's correlation peak by this factor."""


def _estimate_motion(frames: np.ndarray) -> tuple[float, float, float]:
    """Per-frame motion of ``frames`` ``(K, H, W, 3)`` as a sampling map ``x -> a*x + b``
    (``a`` the inverse zoom per frame, ``b = (bx, by)``), assumed constant over the frames.

    Measured between the first and the last frame (K - 1 steps: more signal than one step) by
    sub-pixel phase correlation on luma at about 320 px wide, trying total zooms from 0.88 to 1.12;
    a zoom is kept only when its peak beats no zoom by :data:`ZOOM_MARGIN`. The top 15 % and the
    bottom 28 % are ignored (legend, header and caption stay put)."""
    K, H, W = frames.shape[:3]
    n = K - 1
    k = max(1, W // 320)
    y0, y1 = int(H * 0.15), int(H * 0.72)
    band = frames[[0, -1], y0:y1:k, ::k].astype(np.float32)  # (2, h, w, 3)
    first, last = band @ np.array([0.2126, 0.7152, 0.0722], np.float32)  # (h, w) each
    h, w = first.shape
    ch = (H / 2 - y0) / k  # the frame centre's row within the band (zoom is about the frame centre)
    win = np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)  # (h, w)
    f1 = np.fft.fft2((last - last.mean()) * win)
    best = (-1.0, 0.0, 0.0, 1.0)
    for z in [1.0] + [round(0.88 + 0.01 * i, 2) for i in range(25) if i != 12]:
        warped = first if z == 1.0 else np.asarray(Image.fromarray(first).transform(
            (w, h), Image.Transform.AFFINE, (1 / z, 0, w / 2 * (1 - 1 / z), 0, 1 / z, ch * (1 - 1 / z)),
            Image.Resampling.BILINEAR))
        f0 = np.fft.fft2((warped - warped.mean()) * win)
        cross = f1 * np.conj(f0)
        corr = np.fft.ifft2(cross / np.maximum(np.abs(cross), 1e-6)).real  # (h, w)
        idx = int(np.argmax(corr))
        peak = float(corr.flat[idx])
        if peak > best[0] * (ZOOM_MARGIN if best[3] == 1.0 and z != 1.0 else 1.0):
            dy, dx = _subpixel(corr, idx)
            best = (peak, dx * k, dy * k, z)
    _, dx, dy, z = best
    # last(q) = first(c + (q - d - c) / z): total sampling map A = 1/z, B = c - (c + d) / z.
    big_a = 1.0 / z
    big_b = np.array([W / 2 - (W / 2 + dx) * big_a, H / 2 - (H / 2 + dy) * big_a])
    # Per frame: a**n = A and b * (1 + a + ... + a**(n-1)) = B.
    a = big_a ** (1.0 / n)
    geo = n if abs(a - 1) < 1e-12 else (a ** n - 1) / (a - 1)
    bx, by = big_b / geo
    return float(a), float(bx), float(by)


def _continue_motion(image: np.ndarray, motion: tuple[float, float, float], k: int) -> np.ndarray:
    """``image`` moved ``k`` more frames by the per-frame sampling map ``motion``."""
    a, bx, by = motion
    ak = a ** k
    geo = k if abs(a - 1) < 1e-9 else (ak - 1) / (a - 1)
    return _affine(image, ak, bx * geo, by * geo)
