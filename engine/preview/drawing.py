"""The static layers of a shot, drawn once: the world (sky or walls, ground, scenery of the setting
and time of day, fog, depth-of-field blur), the figure sprite and the overlays; and the weather
particles drawn on each frame."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from engine.preview.camera import _PARALLAX
from engine.preview.captions import _caption_overlay, _header_overlay
from engine.preview.colour import RGB, _hsv, _lit, _mix
from engine.preview.figures import _draw_figures
from engine.preview.legend import _legend_overlay
from engine.preview.looks import Look
from engine.preview.palette import TIME_PALETTES, TimePalette
from engine.preview.prompt import ShotLook
from schemas.render import RenderRequest


def _vertical_gradient(w: int, h: int, top: RGB, bottom: RGB) -> np.ndarray:
    t = np.linspace(0.0, 1.0, max(h, 1), dtype=np.float32)[:, None]  # (h, 1)
    col = np.array(top, np.float32) * (1 - t) + np.array(bottom, np.float32) * t  # (h, 3)
    return np.repeat(col[:, None, :], w, axis=1)  # (h, w, 3)


@dataclass
class _Layers:
    """Everything drawn once per shot."""

    world: Image.Image  # RGB (WW, WH)
    sprite: Image.Image | None  # RGBA figures, cropped to their box
    sprite_xy: tuple[int, int]  # world position of the sprite's top-left
    overlays: list[tuple[int, int, np.ndarray, np.ndarray]]  # (x, y, rgb (h,w,3) f32, alpha (h,w,1) f32)
    particles: str | None
    particle_colour: RGB


def _draw_layers(request: RenderRequest, look: ShotLook, looks: list[Look], pal: dict[str, RGB],
                 bright: float, rng: np.random.Generator, margin: float, caption: bool) -> _Layers:
    """Everything drawn once per shot (``margin``: :attr:`PreviewConfig.world_margin`; ``caption``: draw
    the caption and header)."""
    W, H = request.width, request.height
    m = margin
    WW, WH = int(round(W * (1 + m))), int(round(H * (1 + m)))
    ox, oy = (WW - W) / 2.0, (WH - H) / 2.0  # world position of the base view's top-left

    def vx(f: float) -> float:
        return ox + f * W

    def vy(f: float) -> float:
        return oy + f * H

    horizon = {"wide": 0.58, "medium": 0.62, "close": 0.66}[look.framing]
    interior = look.setting == "interior"
    base = np.empty((WH, WW, 3), np.float32)  # (WH, WW, 3)
    hy = int(round(vy(0.70 if interior else horizon)))
    hy = min(max(hy, 1), WH - 1)
    if interior:
        base[:hy] = _vertical_gradient(WW, hy, _mix(pal["wall"], (0, 0, 0), 0.12), pal["wall"])
        base[hy:] = _vertical_gradient(WW, WH - hy, _mix(pal["floor"], (0, 0, 0), 0.1), pal["floor"])
    else:
        base[:hy] = _vertical_gradient(WW, hy, pal["sky_top"], pal["sky_horizon"])
        base[hy:] = _vertical_gradient(WW, WH - hy, pal["ground_far"], pal["ground_near"])
    # Seeded texture: low-frequency noise, +-6 levels (the seed's small details).
    noise = rng.standard_normal((max(2, WH // 24), max(2, WW // 24))).astype(np.float32)
    noise_img = Image.fromarray(((noise * 40 + 128).clip(0, 255)).astype(np.uint8)).resize((WW, WH), Image.Resampling.BICUBIC)
    base += (np.asarray(noise_img, np.float32)[..., None] - 128.0) * 0.15
    world = Image.fromarray(base.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(world)
    if interior:
        _draw_interior(draw, look, pal, vx, vy, hy, rng, W, H)
    else:
        _draw_exterior(draw, look, pal, vx, vy, hy, rng, W, H, WW, WH)
    if "fog" in look.moods:
        fog = Image.new("RGB", world.size, _mix(pal["sky_horizon"], (210, 210, 215), 0.6))
        world = Image.blend(world, fog, 0.35)
    blur = {"wide": 0.0, "medium": H / 320.0, "close": H / 110.0}[look.framing]
    if blur > 0.3:
        world = world.filter(ImageFilter.GaussianBlur(blur))

    sprite, sprite_xy = _draw_figures(looks, look, pal, bright, vx, vy, rng, W, H, WW, WH)
    if sprite is not None and not _PARALLAX.get(look.camera):
        world.paste(sprite, sprite_xy, sprite)  # figures move with the world: one layer
        sprite = None
    overlays = [_legend_overlay(looks, W, H)] if looks else []
    if caption:
        overlays.append(_caption_overlay(request, look, W, H))
        overlays.append(_header_overlay(request, look, W, H))
    particles = next((p for p in ("rain", "snow", "motes") if p in look.moods), None)
    if look.setting == "underwater" and particles is None:
        particles = "bubbles"
    pcol = {"rain": (200, 210, 230), "snow": (250, 250, 255), "motes": (255, 240, 200),
            "bubbles": (200, 235, 255)}.get(particles or "", (255, 255, 255))
    return _Layers(world, sprite, sprite_xy, [o for o in overlays if o is not None], particles, pcol)


def _draw_celestial(draw: ImageDraw.ImageDraw, tp: TimePalette, vx: Callable[[float], float],
                    vy: Callable[[float], float], hyf: float, H: int, pal: dict[str, RGB]) -> None:
    pos = {"sun_low_left": (0.18, hyf - 0.08), "sun_morning": (0.28, 0.2), "sun_high": (0.6, 0.1),
           "sun_afternoon": (0.72, 0.2), "sun_low_right": (0.78, hyf - 0.09), "moon": (0.76, 0.14)}
    if tp.celestial not in pos:
        return
    fx, fy = pos[tp.celestial]
    r = H * (0.05 if tp.celestial == "moon" else 0.065)
    x, y = vx(fx), vy(fy)
    if tp.celestial == "moon":
        draw.ellipse([x - r, y - r, x + r, y + r], fill=(235, 235, 220))
        draw.ellipse([x - r * 0.6, y - r * 1.05, x + r * 1.3, y + r * 0.75], fill=pal["sky_top"])
    else:
        glow = _mix(pal["sky_horizon"], (255, 250, 230), 0.5)
        draw.ellipse([x - 1.8 * r, y - 1.8 * r, x + 1.8 * r, y + 1.8 * r], fill=_mix(glow, pal["sky_top"], 0.4))
        draw.ellipse([x - r, y - r, x + r, y + r], fill=_mix(tp.light, (255, 255, 255), 0.4))


def _draw_exterior(draw: ImageDraw.ImageDraw, look: ShotLook, pal: dict[str, RGB],
                   vx: Callable[[float], float], vy: Callable[[float], float], hy: int,
                   rng: np.random.Generator, W: int, H: int, WW: int, WH: int) -> None:
    tp = TIME_PALETTES[look.time]
    hyf = (hy - vy(0)) / H
    night = look.time in ("night", "moonlight", "evening", "dusk") or look.setting == "space"
    if night:
        n = 160 if look.setting == "space" else 70
        xs, ys = rng.uniform(0, WW, n), rng.uniform(0, hy * 0.9, n)
        for x, y, s in zip(xs, ys, rng.uniform(0.6, 1.8, n)):
            draw.ellipse([x - s, y - s, x + s, y + s], fill=(230, 230, 240))
    if look.setting != "underwater":
        _draw_celestial(draw, tp, vx, vy, hyf, H, pal)
    if look.setting == "space":
        r = H * 0.35
        cx, cy = vx(0.25 + rng.uniform(-0.04, 0.04)), vy(0.3)
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(40, 90, 170))
        draw.ellipse([cx - r * 0.6, cy - r * 0.5, cx + r * 0.2, cy + r * 0.1], fill=(70, 130, 80))
    if not night and look.setting not in ("underwater", "space"):
        for _ in range(4):
            cx, cy = rng.uniform(0, WW), vy(rng.uniform(0.05, max(0.1, hyf - 0.25)))
            cw, ch = W * rng.uniform(0.08, 0.16), H * rng.uniform(0.03, 0.05)
            col = _mix(pal["sky_top"], (255, 255, 255), 0.55)
            for dx in (-0.5, 0.0, 0.5):
                draw.ellipse([cx + dx * cw - cw * 0.6, cy - ch, cx + dx * cw + cw * 0.6, cy + ch], fill=col)
    far = _mix(pal["ground_far"], pal["sky_horizon"], 0.35)
    if look.setting in ("mountain", "garden", "stage", "desert", "snow"):
        pts = [(0, hy)]
        for x in np.linspace(0, WW, 7):
            pts.append((float(x), hy - H * rng.uniform(0.08, 0.28 if look.setting == "mountain" else 0.12)))
        pts.append((WW, hy))
        draw.polygon(pts, fill=far)
    if look.setting == "city":
        x = 0.0
        while x < WW:
            bw, bh = W * rng.uniform(0.07, 0.13), H * rng.uniform(0.18, 0.45)
            col = _mix(pal["prop"], pal["sky_horizon"], rng.uniform(0.2, 0.45))
            draw.rectangle([x, hy - bh, x + max(bw - 3, 0), hy], fill=col)  # a 3 px gap (none in tiny frames)
            win = (255, 220, 140) if night else _mix(col, (200, 220, 240), 0.4)
            for wy in np.arange(hy - bh + 6, hy - 8, max(6, H * 0.035)):
                for wx in np.arange(x + 5, x + bw - 10, max(6, W * 0.02)):
                    if rng.random() < (0.45 if night else 0.8):
                        draw.rectangle([wx, wy, wx + max(2, W * 0.008), wy + max(2, H * 0.014)], fill=win)
            x += bw
    if look.setting in ("forest", "garden"):
        n = 14 if look.setting == "forest" else 5
        for x in np.sort(rng.uniform(0, WW, n)):
            th = H * rng.uniform(0.25, 0.45) * (1.4 if look.setting == "forest" else 1.0)
            base_y = hy + H * rng.uniform(0.0, 0.04)
            draw.rectangle([x - W * 0.008, base_y - th, x + W * 0.008, base_y], fill=_mix(pal["prop"], (60, 40, 25), 0.5))
            r = th * 0.35
            leaf = _mix(pal["ground_far"], (20, 60, 20), rng.uniform(0.2, 0.5))
            draw.ellipse([x - r, base_y - th - r, x + r, base_y - th + r * 0.9], fill=leaf)
    if look.setting == "garden":
        for _ in range(40):
            x, y = rng.uniform(0, WW), rng.uniform(hy + 4, WH)
            s = H * 0.006 * (1 + (y - hy) / H * 3)
            col = _hsv(rng.uniform(0, 1), 0.6, 0.95)
            draw.ellipse([x - s, y - s, x + s, y + s], fill=_lit(col, pal["light"], 1.0))
    if look.setting == "water":
        wy = hy + H * 0.12
        draw.rectangle([0, hy, WW, wy], fill=_mix(pal["sky_horizon"], (40, 100, 160), 0.55))
        for _ in range(30):
            x, y = rng.uniform(0, WW), rng.uniform(hy + 2, max(hy + 2, wy - 2))  # (a tiny frame: on the line)
            draw.line([x, y, x + W * 0.03, y], fill=_mix(pal["sky_horizon"], (255, 255, 255), 0.5), width=1)
    if look.setting == "underwater":
        for _ in range(9):
            x = rng.uniform(0, WW)
            ch = H * rng.uniform(0.08, 0.2)
            col = _hsv(rng.choice([0.0, 0.05, 0.9, 0.12, 0.55]), 0.65, 0.85)
            draw.ellipse([x - ch * 0.5, hy - ch * 0.6, x + ch * 0.5, hy + ch * 0.3], fill=col)
    if look.setting == "city":
        draw.rectangle([0, hy + H * 0.1, WW, hy + H * 0.11], fill=(220, 220, 200))


def _draw_interior(draw: ImageDraw.ImageDraw, look: ShotLook, pal: dict[str, RGB],
                   vx: Callable[[float], float], vy: Callable[[float], float], hy: int,
                   rng: np.random.Generator, W: int, H: int) -> None:
    tp = TIME_PALETTES[look.time]
    # Window showing the sky (or space) of the time of day.
    wx0, wy0 = vx(0.62 + rng.uniform(-0.03, 0.03)), vy(0.08)
    wx1, wy1 = wx0 + W * 0.26, vy(0.5)
    frame_col = _mix(pal["wall"], (255, 255, 255), 0.35)
    draw.rectangle([wx0 - 6, wy0 - 6, wx1 + 6, wy1 + 6], fill=frame_col)
    steps = 12
    for i in range(steps):
        top = wy0 + (wy1 - wy0) * i / steps
        sky = _mix((2, 2, 10), (10, 10, 30), i / steps) if look.space_view else _mix(pal["sky_top"], pal["sky_horizon"], i / steps)
        draw.rectangle([wx0, top, wx1, wy0 + (wy1 - wy0) * (i + 1) / steps], fill=sky)
    if look.space_view:
        r = (wy1 - wy0) * 0.35
        draw.ellipse([wx0 + r * 0.3, wy1 - r * 1.4, wx0 + r * 2.3, wy1 + r * 0.6], fill=(40, 90, 170))
        for x, y in zip(rng.uniform(wx0, wx1, 25), rng.uniform(wy0, wy1, 25)):
            draw.point((float(x), float(y)), fill=(240, 240, 250))
    elif tp.celestial == "moon":
        r = H * 0.03
        draw.ellipse([wx1 - 3 * r, wy0 + r, wx1 - r, wy0 + 3 * r], fill=(235, 235, 220))
    elif tp.celestial:
        r = H * 0.035
        draw.ellipse([wx0 + 2 * r, wy0 + 2 * r, wx0 + 4 * r, wy0 + 4 * r], fill=_mix(tp.light, (255, 255, 255), 0.5))
    draw.line([(wx0 + wx1) / 2, wy0, (wx0 + wx1) / 2, wy1], fill=frame_col, width=4)
    draw.line([wx0, (wy0 + wy1) / 2, wx1, (wy0 + wy1) / 2], fill=frame_col, width=4)
    # Light falling in from the window.
    draw.polygon([(wx0, hy), (wx1, hy), (wx1 + W * 0.1, hy + H * 0.25), (wx0 - W * 0.05, hy + H * 0.25)],
                 fill=_mix(pal["floor"], tp.light, 0.18))
    # A picture, a shelf and a table.
    px0, py0 = vx(0.12 + rng.uniform(-0.03, 0.03)), vy(0.16)
    draw.rectangle([px0, py0, px0 + W * 0.14, py0 + H * 0.16], fill=_mix(pal["prop"], (30, 25, 20), 0.4))
    ix, iy = min(5.0, W * 0.07), min(5.0, H * 0.08)  # the canvas inset (5 px; less in tiny frames)
    draw.rectangle([px0 + ix, py0 + iy, px0 + W * 0.14 - ix, py0 + H * 0.16 - iy],
                   fill=_hsv(rng.uniform(0, 1), 0.35, 0.7))
    sx = vx(-0.1 + rng.uniform(0, 0.05))
    draw.rectangle([sx, vy(0.3), sx + W * 0.12, hy], fill=pal["prop"])
    for k in range(4):
        y = vy(0.3) + (hy - vy(0.3)) * (k + 1) / 5
        draw.line([sx, y, sx + W * 0.12, y], fill=_mix(pal["prop"], (0, 0, 0), 0.35), width=3)
    tx = vx(0.3 + rng.uniform(-0.05, 0.05))
    draw.rectangle([tx, hy - H * 0.12, tx + W * 0.22, hy - H * 0.1], fill=_mix(pal["prop"], (255, 255, 255), 0.15))
    draw.rectangle([tx + W * 0.01, hy - H * 0.1, tx + W * 0.02, hy + H * 0.04], fill=pal["prop"])
    draw.rectangle([tx + W * 0.2, hy - H * 0.1, tx + W * 0.21, hy + H * 0.04], fill=pal["prop"])
    if "neon" in look.moods:
        draw.rectangle([vx(0.05), vy(0.05), vx(0.5), vy(0.07)], fill=(255, 60, 200))


def _particles(frame: np.ndarray, kind: str, colour: RGB, t: int, W: int, H: int) -> None:
    """Rain streaks, snow flakes, dust motes or bubbles for frame ``t`` (in place)."""
    rng = np.random.default_rng(7)  # particle field is the same for every shot of a kind; motion comes from t
    n = {"rain": max(60, W * H // 1600), "snow": max(40, W * H // 3000), "motes": max(20, W * H // 9000),
         "bubbles": max(15, W * H // 12000)}[kind]
    x0, y0 = rng.uniform(0, W, n), rng.uniform(0, H, n)
    speed = {"rain": H / 10.0, "snow": H / 120.0, "motes": H / 400.0, "bubbles": -H / 90.0}[kind]
    ys = (y0 + speed * t * rng.uniform(0.7, 1.3, n)) % H
    xs = (x0 + (np.sin(t / 9.0 + y0) * (W / 200.0) if kind != "rain" else -speed * 0.15 * t)) % W
    col = np.array(colour, np.float32)
    if kind == "rain":
        length = max(3, H // 40)
        yy = (ys[:, None] + np.arange(length)[None, :]).astype(int) % H  # (n, L)
        xx = (xs[:, None] - np.arange(length)[None, :] * 0.15).astype(int) % W
        alpha = 0.45
    else:
        r = 1 if kind != "snow" else max(1, H // 240)
        offs = np.array([(dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1) if dy * dy + dx * dx <= r * r])
        yy = (ys[:, None].astype(int) + offs[None, :, 0]) % H
        xx = (xs[:, None].astype(int) + offs[None, :, 1]) % W
        alpha = {"snow": 0.85, "motes": 0.55, "bubbles": 0.5}[kind]
    px = frame[yy, xx].astype(np.float32)
    frame[yy, xx] = (px + (col - px) * alpha).astype(np.uint8)
