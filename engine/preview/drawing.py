"""The static layers of a shot, drawn once: the world (the place: sky or walls, ground, the place's
scenery for its time of day, fog, depth-of-field blur), the shot's standing props and creatures,
the figure sprite(s) and the overlays; and the weather particles drawn on each frame.

The base world is a function of :class:`WorldSpec` alone (place, framing, time, flags, seed,
palette), so a continuation (cut=false) redraws exactly the previous shot's world from the scene
record the director hands it (:mod:`engine.preview.continuity`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from engine.preview.camera import _PARALLAX
from engine.preview.captions import _caption_overlay, _header_overlay
from engine.preview.colour import RGB, _hsv, _lit, _mix
from engine.preview.figures import SPECIES_SIZE, Placed, _draw_figures, draw_creature
from engine.preview.legend import _legend_overlay
from engine.preview.looks import SPECIES_COLOURS, Look, name_colours
from engine.preview.palette import TIME_PALETTES, TimePalette
from engine.preview.props import PROP_COLOURS, STANDING, draw_standing
from engine.preview.prompt import ShotLook
from schemas.render import RenderRequest

WATER_PLACES = ("sea", "beach", "lighthouse", "harbour", "underwater", "river")


def _vertical_gradient(w: int, h: int, top: RGB, bottom: RGB) -> np.ndarray:
    t = np.linspace(0.0, 1.0, max(h, 1), dtype=np.float32)[:, None]  # (h, 1)
    col = np.array(top, np.float32) * (1 - t) + np.array(bottom, np.float32) * t  # (h, 3)
    return np.repeat(col[:, None, :], w, axis=1)  # (h, w, 3)


@dataclass(frozen=True)
class WorldSpec:
    """Everything the base world is drawn from."""

    place: str
    interior: bool
    framing: str
    time: str
    flags: tuple[str, ...]
    """Drawn moods and weather: ``neon``, ``fog``, ``space_view``."""
    seed: int
    """24-bit seed of the world's details (clouds, buildings, books)."""
    palette: dict[str, RGB]


@dataclass
class _Layers:
    """Everything drawn once per shot."""

    world: Image.Image  # RGB (WW, WH)
    sprite: Image.Image | None  # RGBA figures, cropped to their box
    sprite_xy: tuple[int, int]  # world position of the sprite's top-left
    overlays: list[tuple[int, int, np.ndarray, np.ndarray]]  # (x, y, rgb (h,w,3) f32, alpha (h,w,1) f32)
    particles: str | None
    particle_colour: RGB
    sprite2: Image.Image | None = None  # the walk cycle's other step (same box)
    travel: float = 0.0  # world px the figures move over the shot (walk, run)
    placed: tuple[Placed, ...] = ()
    lightning: bool = False
    premultiplied: dict = field(default_factory=dict)  # id(sprite) -> the sprite as RGBa (filled before drawing frames)


class _Ctx:
    def __init__(self, spec: WorldSpec, W: int, H: int, WW: int, WH: int, hy: int, rng: np.random.Generator,
                 draw: ImageDraw.ImageDraw) -> None:
        self.spec, self.W, self.H, self.WW, self.WH, self.hy, self.rng, self.d = spec, W, H, WW, WH, hy, rng, draw
        self.ox, self.oy = (WW - W) / 2.0, (WH - H) / 2.0
        self.pal = spec.palette
        self.tp: TimePalette = TIME_PALETTES[spec.time]
        self.night = spec.time in ("night", "moonlight", "evening", "dusk") or spec.place == "space"

    def vx(self, f: float) -> float:
        return self.ox + f * self.W

    def vy(self, f: float) -> float:
        return self.oy + f * self.H


def horizon(framing: str, interior: bool) -> float:
    """Where the ground (floor) starts, as a fraction of the frame height."""
    return 0.70 if interior else {"wide": 0.58, "medium": 0.62, "close": 0.66}[framing]


def draw_world(spec: WorldSpec, W: int, H: int, margin: float) -> Image.Image:
    """The base world ``(WW, WH)`` RGB of a place (no figures, props of the shot or overlays)."""
    WW, WH = int(round(W * (1 + margin))), int(round(H * (1 + margin)))
    rng = np.random.default_rng(spec.seed)
    pal = spec.palette
    oy = (WH - H) / 2.0
    hy = min(max(int(round(oy + horizon(spec.framing, spec.interior) * H)), 1), WH - 1)
    base = np.empty((WH, WW, 3), np.float32)  # (WH, WW, 3)
    if spec.interior:
        base[:hy] = _vertical_gradient(WW, hy, _mix(pal["wall"], (0, 0, 0), 0.12), pal["wall"])
        base[hy:] = _vertical_gradient(WW, WH - hy, _mix(pal["floor"], (0, 0, 0), 0.1), pal["floor"])
    else:
        base[:hy] = _vertical_gradient(WW, hy, pal["sky_top"], pal["sky_horizon"])
        base[hy:] = _vertical_gradient(WW, WH - hy, pal["ground_far"], pal["ground_near"])
    noise = rng.standard_normal((max(2, WH // 24), max(2, WW // 24))).astype(np.float32)
    noise_img = Image.fromarray(((noise * 40 + 128).clip(0, 255)).astype(np.uint8)).resize((WW, WH), Image.Resampling.BICUBIC)
    base += (np.asarray(noise_img, np.float32)[..., None] - 128.0) * 0.15
    world = Image.fromarray(base.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(world, "RGBA")
    ctx = _Ctx(spec, W, H, WW, WH, hy, rng, draw)
    if spec.interior:
        _INTERIORS.get(spec.place, _room)(ctx)
        if "neon" in spec.flags:
            draw.rectangle([ctx.vx(0.05), ctx.vy(0.05), ctx.vx(0.5), ctx.vy(0.07)], fill=(255, 60, 200))
    else:
        _sky(ctx)
        _EXTERIORS.get(spec.place, _hills)(ctx)
    if "fog" in spec.flags:
        fog = Image.new("RGB", world.size, _mix(pal["sky_horizon"], (210, 210, 215), 0.6))
        world = Image.blend(world, fog, 0.35)
    return world


def depth_blur(world: Image.Image, framing: str, H: int) -> Image.Image:
    blur = {"wide": 0.0, "medium": H / 320.0, "close": H / 110.0}[framing]
    return world.filter(ImageFilter.GaussianBlur(blur)) if blur > 0.3 else world


# -- exteriors ------------------------------------------------------------------------------------

def _sky(c: _Ctx) -> None:
    d, pal, rng = c.d, c.pal, c.rng
    place = c.spec.place
    if place == "underwater":
        for k in range(5):  # light shafts from the surface
            x = c.vx(rng.uniform(0, 1))
            d.polygon([(x, 0), (x + c.W * 0.05, 0), (x + c.W * 0.16, c.hy), (x + c.W * 0.08, c.hy)],
                      fill=_mix(pal["sky_horizon"], (255, 255, 255), 0.35) + (60,))
        return
    if c.night:
        n = 160 if place == "space" else 70
        for x, y, s in zip(rng.uniform(0, c.WW, n), rng.uniform(0, c.hy * 0.9, n), rng.uniform(0.6, 1.8, n)):
            d.ellipse([x - s, y - s, x + s, y + s], fill=(230, 230, 240))
    _celestial(c)
    if place == "space":
        r = c.H * 0.35
        cx, cy = c.vx(0.25 + rng.uniform(-0.04, 0.04)), c.vy(0.3)
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(40, 90, 170))
        d.ellipse([cx - r * 0.6, cy - r * 0.5, cx + r * 0.2, cy + r * 0.1], fill=(70, 130, 80))
        return
    if not c.night:
        hyf = (c.hy - c.vy(0)) / c.H
        for _ in range(4):
            cx, cy = rng.uniform(0, c.WW), c.vy(rng.uniform(0.05, max(0.1, hyf - 0.25)))
            cw, ch = c.W * rng.uniform(0.08, 0.16), c.H * rng.uniform(0.03, 0.05)
            col = _mix(pal["sky_top"], (255, 255, 255), 0.55)
            for dx in (-0.5, 0.0, 0.5):
                d.ellipse([cx + dx * cw - cw * 0.6, cy - ch, cx + dx * cw + cw * 0.6, cy + ch], fill=col)


def _celestial(c: _Ctx) -> None:
    tp, d = c.tp, c.d
    hyf = (c.hy - c.vy(0)) / c.H
    pos = {"sun_low_left": (0.18, hyf - 0.08), "sun_morning": (0.28, 0.2), "sun_high": (0.6, 0.1),
           "sun_afternoon": (0.72, 0.2), "sun_low_right": (0.78, hyf - 0.09), "moon": (0.76, 0.14)}
    if tp.celestial not in pos:
        return
    fx, fy = pos[tp.celestial]
    r = c.H * (0.05 if tp.celestial == "moon" else 0.065)
    x, y = c.vx(fx), c.vy(fy)
    if tp.celestial == "moon":
        d.ellipse([x - r, y - r, x + r, y + r], fill=(235, 235, 220))
        d.ellipse([x - r * 0.6, y - r * 1.05, x + r * 1.3, y + r * 0.75], fill=c.pal["sky_top"])
    else:
        glow = _mix(c.pal["sky_horizon"], (255, 250, 230), 0.5)
        d.ellipse([x - 1.8 * r, y - 1.8 * r, x + 1.8 * r, y + 1.8 * r], fill=_mix(glow, c.pal["sky_top"], 0.4))
        d.ellipse([x - r, y - r, x + r, y + r], fill=_mix(tp.light, (255, 255, 255), 0.4))


def _far(c: _Ctx) -> RGB:
    return _mix(c.pal["ground_far"], c.pal["sky_horizon"], 0.35)


def _hills(c: _Ctx, rough: float = 0.12) -> None:
    pts = [(0.0, float(c.hy))]
    for x in np.linspace(0, c.WW, 7):
        pts.append((float(x), c.hy - c.H * c.rng.uniform(0.08, rough)))
    pts.append((float(c.WW), float(c.hy)))
    c.d.polygon(pts, fill=_far(c))


def _water(c: _Ctx, y0: float, y1: float) -> None:
    """Sea water between rows ``y0`` and ``y1``: deep blue darkening towards the viewer, wave lines."""
    sea = _lit((40, 100, 160), c.tp.light, c.tp.brightness)
    far = _mix(c.pal["sky_horizon"], sea, 0.6)
    steps = 10
    for i in range(steps):
        a, b = y0 + (y1 - y0) * i / steps, y0 + (y1 - y0) * (i + 1) / steps
        c.d.rectangle([0, a, c.WW, b + 1], fill=_mix(far, _mix(sea, (0, 0, 0), 0.2), i / steps))
    foam = _mix(c.pal["sky_horizon"], (255, 255, 255), 0.5)
    for _ in range(int(40 * (y1 - y0) / c.H) + 8):
        x, y = c.rng.uniform(0, c.WW), c.rng.uniform(y0 + 2, y1 - 2)
        ln = c.W * (0.02 + 0.05 * (y - y0) / max(1.0, y1 - y0))
        c.d.line([x, y, x + ln, y], fill=foam, width=1 + int(2 * (y - y0) / max(1.0, y1 - y0)))


def _sea(c: _Ctx) -> None:
    _water(c, c.hy, c.WH)


def _beach(c: _Ctx) -> None:
    wy = c.hy + c.H * 0.14
    _water(c, c.hy, wy)
    sand = c.pal["ground_near"]
    pts = [(0.0, wy)] + [(float(x), wy + c.H * 0.012 * math.sin(x / c.W * 14)) for x in np.linspace(0, c.WW, 24)]
    pts += [(float(c.WW), float(c.WH)), (0.0, float(c.WH))]
    c.d.polygon(pts, fill=sand)
    c.d.line(pts[:25], fill=_mix(sand, (255, 255, 255), 0.6), width=max(2, c.H // 120))


def _lighthouse(c: _Ctx) -> None:
    _beach(c)
    x = c.vx(0.8)
    rock = _mix(c.pal["ground_far"], (70, 65, 60), 0.7)
    base = c.hy + c.H * 0.06
    c.d.polygon([(x - c.W * 0.12, base + c.H * 0.05), (x - c.W * 0.06, base - c.H * 0.06), (x + c.W * 0.07, base - c.H * 0.07),
                 (x + c.W * 0.14, base + c.H * 0.05)], fill=rock)
    top, bottom = base - c.H * 0.5, base - c.H * 0.05
    wb, wt = c.W * 0.045, c.W * 0.03
    white, red = _lit((240, 240, 235), c.tp.light, max(0.5, c.tp.brightness)), _lit((200, 40, 40), c.tp.light, max(0.5, c.tp.brightness))
    for k in range(5):
        y0 = bottom - (bottom - top) * k / 5
        y1 = bottom - (bottom - top) * (k + 1) / 5
        w0 = wb + (wt - wb) * k / 5
        w1 = wb + (wt - wb) * (k + 1) / 5
        c.d.polygon([(x - w0, y0), (x + w0, y0), (x + w1, y1), (x - w1, y1)], fill=red if k % 2 else white)
    c.d.rectangle([x - wt * 1.25, top - c.H * 0.012, x + wt * 1.25, top], fill=(40, 40, 45))
    lamp = (255, 235, 150)
    c.d.rectangle([x - wt * 0.8, top - c.H * 0.07, x + wt * 0.8, top - c.H * 0.012], fill=lamp if c.night else (200, 215, 225))
    c.d.polygon([(x - wt, top - c.H * 0.07), (x + wt, top - c.H * 0.07), (x, top - c.H * 0.11)], fill=(40, 40, 45))
    if c.night or c.spec.time in ("dusk", "evening", "dawn"):
        ly = top - c.H * 0.04
        c.d.polygon([(x, ly - c.H * 0.015), (x - c.W * 0.7, ly - c.H * 0.12), (x - c.W * 0.7, ly + c.H * 0.05),
                     (x, ly + c.H * 0.015)], fill=lamp + (70,))


def _harbour(c: _Ctx) -> None:
    wy = c.hy + c.H * 0.22
    _water(c, c.hy, wy)
    wood = _mix(c.pal["ground_near"], (110, 80, 55), 0.6)
    c.d.rectangle([0, wy, c.WW, c.WH], fill=wood)
    for y in np.arange(wy, c.WH, max(4.0, c.H * 0.04)):
        c.d.line([0, y, c.WW, y], fill=_mix(wood, (0, 0, 0), 0.3), width=1)
    for x in np.arange(c.rng.uniform(0, c.W * 0.2), c.WW, c.W * 0.22):
        c.d.rectangle([x, wy - c.H * 0.06, x + c.W * 0.012, wy + c.H * 0.02], fill=_mix(wood, (0, 0, 0), 0.4))
    for k in range(2):  # boats moored
        bx, by = c.vx(0.15 + 0.55 * k + c.rng.uniform(-0.05, 0.05)), c.hy + c.H * (0.07 + 0.05 * k)
        s = c.H * (0.035 + 0.02 * k)
        hull = _hsv(c.rng.uniform(0, 1), 0.5, 0.6)
        c.d.polygon([(bx - s * 2, by - s * 0.6), (bx + s * 2, by - s * 0.6), (bx + s * 1.5, by + s * 0.3),
                     (bx - s * 1.5, by + s * 0.3)], fill=hull)
        c.d.line([bx, by - s * 0.6, bx, by - s * 3], fill=(60, 50, 40), width=max(1, int(s * 0.15)))


def _river(c: _Ctx) -> None:
    _hills(c)
    y0 = c.hy + c.H * 0.08
    pts_top = [(float(x), y0 + c.H * 0.03 * math.sin(x / c.W * 5)) for x in np.linspace(0, c.WW, 20)]
    pts_bot = [(x, y + c.H * 0.1) for x, y in reversed(pts_top)]
    c.d.polygon(pts_top + pts_bot, fill=_lit((60, 120, 170), c.tp.light, c.tp.brightness))
    for _ in range(20):
        x = c.rng.uniform(0, c.WW)
        y = y0 + c.H * 0.03 * math.sin(x / c.W * 5) + c.rng.uniform(0.02, 0.08) * c.H
        c.d.line([x, y, x + c.W * 0.03, y], fill=_mix(c.pal["sky_horizon"], (255, 255, 255), 0.5), width=1)


def _trees(c: _Ctx, n: int, scale: float, colour: RGB | None = None, snowy: bool = False) -> None:
    for x in np.sort(c.rng.uniform(0, c.WW, n)):
        th = c.H * c.rng.uniform(0.25, 0.45) * scale
        base_y = c.hy + c.H * c.rng.uniform(0.0, 0.04)
        leaf = colour or _mix(c.pal["ground_far"], (20, 60, 20), c.rng.uniform(0.2, 0.5))
        c.d.rectangle([x - c.W * 0.008, base_y - th, x + c.W * 0.008, base_y], fill=_mix(c.pal["prop"], (60, 40, 25), 0.5))
        if snowy:
            for k in range(3):
                w = th * (0.32 - 0.08 * k)
                y = base_y - th * (0.25 + 0.25 * k)
                c.d.polygon([(x - w, y), (x + w, y), (x, y - th * 0.45)], fill=(40, 80, 60))
                c.d.polygon([(x - w * 0.5, y - th * 0.22), (x + w * 0.5, y - th * 0.22), (x, y - th * 0.45)],
                            fill=(240, 245, 250))
        else:
            r = th * 0.35
            c.d.ellipse([x - r, base_y - th - r, x + r, base_y - th + r * 0.9], fill=leaf)


def _forest(c: _Ctx) -> None:
    _trees(c, 10, 1.0, _mix(c.pal["ground_far"], (10, 40, 15), 0.5))
    _trees(c, 8, 1.5)


def _garden(c: _Ctx) -> None:
    _hills(c)
    _trees(c, 4, 1.0)
    for _ in range(40):
        x, y = c.rng.uniform(0, c.WW), c.rng.uniform(c.hy + 4, c.WH)
        s = c.H * 0.006 * (1 + (y - c.hy) / c.H * 3)
        c.d.ellipse([x - s, y - s, x + s, y + s], fill=_lit(_hsv(c.rng.uniform(0, 1), 0.6, 0.95), c.pal["light"], 1.0))


def _buildings(c: _Ctx, tall: float = 0.45) -> None:
    x = 0.0
    while x < c.WW:
        bw, bh = c.W * c.rng.uniform(0.07, 0.13), c.H * c.rng.uniform(0.18, tall)
        col = _mix(c.pal["prop"], c.pal["sky_horizon"], c.rng.uniform(0.2, 0.45))
        c.d.rectangle([x, c.hy - bh, x + bw - 3, c.hy], fill=col)
        win = (255, 220, 140) if c.night else _mix(col, (200, 220, 240), 0.4)
        for wy in np.arange(c.hy - bh + 6, c.hy - 8, max(6, c.H * 0.035)):
            for wx in np.arange(x + 5, x + bw - 10, max(6, c.W * 0.02)):
                if c.rng.random() < (0.45 if c.night else 0.8):
                    c.d.rectangle([wx, wy, wx + max(2, c.W * 0.008), wy + max(2, c.H * 0.014)], fill=win)
        x += bw


def _street(c: _Ctx) -> None:
    _buildings(c)
    walk = _mix(c.pal["ground_far"], (200, 200, 200), 0.25)
    c.d.rectangle([0, c.hy, c.WW, c.hy + c.H * 0.05], fill=walk)
    c.d.rectangle([0, c.hy + c.H * 0.05, c.WW, c.hy + c.H * 0.055], fill=_mix(walk, (0, 0, 0), 0.3))
    for x in np.arange(c.rng.uniform(0, c.W * 0.1), c.WW, c.W * 0.12):
        c.d.rectangle([x, c.hy + c.H * 0.16, x + c.W * 0.05, c.hy + c.H * 0.17], fill=(220, 220, 200))
    for x in np.arange(c.rng.uniform(0, c.W * 0.2), c.WW, c.W * 0.35):  # street lamps
        c.d.line([x, c.hy + c.H * 0.04, x, c.hy - c.H * 0.3], fill=(40, 40, 45), width=max(2, c.W // 300))
        col = (255, 225, 150) if c.night else (230, 230, 220)
        if c.night:
            c.d.ellipse([x - c.H * 0.04, c.hy - c.H * 0.34, x + c.H * 0.04, c.hy - c.H * 0.26], fill=col + (70,))
        c.d.ellipse([x - c.H * 0.012, c.hy - c.H * 0.312, x + c.H * 0.012, c.hy - c.H * 0.288], fill=col)


def _market(c: _Ctx) -> None:
    _buildings(c, 0.35)
    x = c.rng.uniform(-c.W * 0.05, 0)
    while x < c.WW:
        w = c.W * c.rng.uniform(0.14, 0.2)
        awn = _hsv(c.rng.choice([0.0, 0.08, 0.55, 0.95]), 0.7, 0.85)
        top = c.hy - c.H * 0.2
        c.d.rectangle([x, top + c.H * 0.06, x + w * 0.92, c.hy + c.H * 0.02], fill=_mix(c.pal["prop"], (0, 0, 0), 0.2))
        c.d.rectangle([x + w * 0.05, c.hy - c.H * 0.06, x + w * 0.87, c.hy - c.H * 0.03], fill=_mix(awn, (255, 255, 255), 0.5))
        c.d.polygon([(x - w * 0.04, top + c.H * 0.07), (x + w * 0.96, top + c.H * 0.07), (x + w * 0.9, top),
                     (x + w * 0.02, top)], fill=awn)
        x += w
    for k in range(14):  # strings of lanterns
        lx = c.WW * (k + 0.5) / 14
        ly = c.hy - c.H * (0.3 + 0.03 * math.sin(k))
        c.d.ellipse([lx - c.H * 0.03, ly - c.H * 0.03, lx + c.H * 0.03, ly + c.H * 0.03], fill=(255, 120, 60, 70))
        c.d.ellipse([lx - c.H * 0.014, ly - c.H * 0.018, lx + c.H * 0.014, ly + c.H * 0.018], fill=(235, 50, 40))
    c.d.line([(0, c.hy - c.H * 0.33), (c.WW, c.hy - c.H * 0.33)], fill=(40, 30, 30), width=1)


def _desert(c: _Ctx) -> None:
    for k in range(3):
        base = c.hy + c.H * 0.04 * k
        pts = [(0.0, float(c.WH))] + [(float(x), base - c.H * (0.06 + 0.05 * math.sin(x / c.W * (3 + k) + k * 2)))
                                      for x in np.linspace(0, c.WW, 30)] + [(float(c.WW), float(c.WH))]
        c.d.polygon(pts, fill=_mix(c.pal["ground_far"], c.pal["ground_near"], k / 2.0))
    for _ in range(3):
        x, y = c.rng.uniform(0, c.WW), c.hy + c.H * c.rng.uniform(0.05, 0.2)
        s = c.H * 0.05
        col = (60, 120, 60)
        c.d.rounded_rectangle([x - s * 0.25, y - s * 2, x + s * 0.25, y], radius=max(1, int(s * 0.2)), fill=col)
        c.d.rounded_rectangle([x - s * 0.9, y - s * 1.4, x - s * 0.55, y - s * 0.7], radius=max(1, int(s * 0.15)), fill=col)
        c.d.rectangle([x - s * 0.9, y - s * 0.9, x - s * 0.2, y - s * 0.7], fill=col)


def _mountain(c: _Ctx) -> None:
    xs = np.linspace(-c.W * 0.1, c.WW + c.W * 0.1, 6)
    for x in xs:
        h = c.H * c.rng.uniform(0.25, 0.45)
        w = c.W * c.rng.uniform(0.2, 0.3)
        c.d.polygon([(x - w, c.hy), (x, c.hy - h), (x + w, c.hy)], fill=_far(c))
        c.d.polygon([(x - w * 0.25, c.hy - h * 0.75), (x, c.hy - h), (x + w * 0.25, c.hy - h * 0.75)], fill=(240, 242, 248))


def _snow(c: _Ctx) -> None:
    _hills(c, 0.16)
    _trees(c, 7, 1.2, snowy=True)


def _underwater(c: _Ctx) -> None:
    for _ in range(9):
        x = c.rng.uniform(0, c.WW)
        ch = c.H * c.rng.uniform(0.08, 0.2)
        col = _hsv(c.rng.choice([0.0, 0.05, 0.9, 0.12, 0.55]), 0.65, 0.85)
        c.d.ellipse([x - ch * 0.5, c.hy - ch * 0.6, x + ch * 0.5, c.hy + ch * 0.3], fill=col)
    for _ in range(6):
        x = c.rng.uniform(0, c.WW)
        c.d.line([(x, c.hy), (x + c.W * 0.01, c.hy - c.H * 0.12), (x - c.W * 0.01, c.hy - c.H * 0.22)],
                 fill=(40, 140, 70), width=max(2, c.W // 200))


def _space(c: _Ctx) -> None:
    for _ in range(6):
        x, y = c.rng.uniform(0, c.WW), c.hy + c.rng.uniform(0.03, 0.25) * c.H
        r = c.H * c.rng.uniform(0.01, 0.03)
        c.d.ellipse([x - r * 2, y - r, x + r * 2, y + r], fill=_mix(c.pal["ground_far"], (0, 0, 0), 0.3))


# -- interiors ------------------------------------------------------------------------------------

def _window(c: _Ctx, x0: float, y0: float, x1: float, y1: float, view: str = "sky") -> None:
    pal, d = c.pal, c.d
    frame = _mix(pal["wall"], (255, 255, 255), 0.35)
    d.rectangle([x0 - 5, y0 - 5, x1 + 5, y1 + 5], fill=frame)
    steps = 10
    for i in range(steps):
        top = y0 + (y1 - y0) * i / steps
        if view == "space":
            sky = _mix((2, 2, 10), (10, 10, 30), i / steps)
        elif view == "tunnel":
            sky = _mix((20, 20, 24), (40, 38, 36), i / steps)
        else:
            sky = _mix(pal["sky_top"], pal["sky_horizon"], i / steps)
        d.rectangle([x0, top, x1, y0 + (y1 - y0) * (i + 1) / steps], fill=sky)
    if view == "space":
        r = (y1 - y0) * 0.35
        d.ellipse([x0 + r * 0.3, y1 - r * 1.4, x0 + r * 2.3, y1 + r * 0.6], fill=(40, 90, 170))
        for x, y in zip(c.rng.uniform(x0, x1, 25), c.rng.uniform(y0, y1, 25)):
            d.point((float(x), float(y)), fill=(240, 240, 250))
    elif view == "tunnel":
        for _ in range(2):
            y = c.rng.uniform(y0, y1)
            d.line([x0, y, x1, y + c.H * 0.02], fill=(255, 200, 120), width=max(1, c.H // 160))
    elif c.tp.celestial == "moon":
        r = c.H * 0.03
        d.ellipse([x1 - 3 * r, y0 + r, x1 - r, y0 + 3 * r], fill=(235, 235, 220))
    d.line([(x0 + x1) / 2, y0, (x0 + x1) / 2, y1], fill=frame, width=4)
    d.line([x0, (y0 + y1) / 2, x1, (y0 + y1) / 2], fill=frame, width=4)


def _room(c: _Ctx) -> None:
    wx0 = c.vx(0.62 + c.rng.uniform(-0.03, 0.03))
    _window(c, wx0, c.vy(0.08), wx0 + c.W * 0.26, c.vy(0.5), "space" if "space_view" in c.spec.flags else "sky")
    c.d.polygon([(wx0, c.hy), (wx0 + c.W * 0.26, c.hy), (wx0 + c.W * 0.36, c.hy + c.H * 0.25),
                 (wx0 - c.W * 0.05, c.hy + c.H * 0.25)], fill=_mix(c.pal["floor"], c.tp.light, 0.18))
    px0, py0 = c.vx(0.12 + c.rng.uniform(-0.03, 0.03)), c.vy(0.16)
    c.d.rectangle([px0, py0, px0 + c.W * 0.14, py0 + c.H * 0.16], fill=_mix(c.pal["prop"], (30, 25, 20), 0.4))
    c.d.rectangle([px0 + 5, py0 + 5, px0 + c.W * 0.14 - 5, py0 + c.H * 0.16 - 5], fill=_hsv(c.rng.uniform(0, 1), 0.35, 0.7))
    sx = c.vx(-0.1 + c.rng.uniform(0, 0.05))
    c.d.rectangle([sx, c.vy(0.3), sx + c.W * 0.12, c.hy], fill=c.pal["prop"])
    for k in range(4):
        y = c.vy(0.3) + (c.hy - c.vy(0.3)) * (k + 1) / 5
        c.d.line([sx, y, sx + c.W * 0.12, y], fill=_mix(c.pal["prop"], (0, 0, 0), 0.35), width=3)


def _shelves(c: _Ctx, x0: float, x1: float, y0: float, y1: float, rows: int) -> None:
    wood = _mix(c.pal["prop"], (70, 45, 30), 0.5)
    c.d.rectangle([x0, y0, x1, y1], fill=_mix(wood, (0, 0, 0), 0.35))
    rh = (y1 - y0) / rows
    for r in range(rows):
        ry = y0 + r * rh
        x = x0 + 3
        while x < x1 - 4:
            bw = max(2.0, c.W * c.rng.uniform(0.006, 0.013))
            bh = rh * c.rng.uniform(0.6, 0.88)
            col = _lit(_hsv(c.rng.choice([0.0, 0.03, 0.08, 0.1, 0.33, 0.58, 0.62, 0.95]), c.rng.uniform(0.35, 0.7),
                            c.rng.uniform(0.35, 0.75)), c.tp.light, max(0.55, c.tp.brightness))
            c.d.rectangle([x, ry + rh - bh - 3, x + bw - 1, ry + rh - 3], fill=col)
            x += bw
        c.d.rectangle([x0, ry + rh - 3, x1, ry + rh], fill=wood)
    c.d.rectangle([x0, y0, x1, y0 + 3], fill=wood)


def _library(c: _Ctx) -> None:
    gap = c.W * 0.02
    x = c.rng.uniform(-c.W * 0.1, 0)
    while x < c.WW:
        w = c.W * 0.28
        _shelves(c, x, x + w, c.vy(-0.1), c.hy, 6)
        x += w + gap
    lamp = (255, 220, 150)
    for lx in (c.vx(0.3), c.vx(0.75)):
        c.d.ellipse([lx - c.H * 0.06, c.vy(0.06) - c.H * 0.06, lx + c.H * 0.06, c.vy(0.06) + c.H * 0.06], fill=lamp + (50,))
        c.d.ellipse([lx - c.H * 0.015, c.vy(0.06) - c.H * 0.015, lx + c.H * 0.015, c.vy(0.06) + c.H * 0.015], fill=lamp)


def _kitchen(c: _Ctx) -> None:
    pal, d = c.pal, c.d
    wx0 = c.vx(0.55)
    _window(c, wx0, c.vy(0.1), wx0 + c.W * 0.22, c.vy(0.38))
    cab = _mix(pal["prop"], (235, 230, 215), 0.55)
    for x in np.arange(c.vx(-0.15), c.vx(0.5), c.W * 0.1):
        d.rectangle([x + 2, c.vy(0.02), x + c.W * 0.1 - 2, c.vy(0.26)], fill=cab)
        d.rectangle([x + c.W * 0.045, c.vy(0.2), x + c.W * 0.055, c.vy(0.23)], fill=(90, 90, 95))
    top = c.hy - c.H * 0.16
    tile = _mix(pal["wall"], (255, 255, 255), 0.3)
    for y in np.arange(c.vy(0.3), top, c.H * 0.04):
        d.line([c.vx(-0.15), y, c.vx(1.15), y], fill=_mix(tile, (0, 0, 0), 0.1), width=1)
    d.rectangle([c.vx(-0.15), top, c.vx(1.15), c.hy], fill=cab)
    d.rectangle([c.vx(-0.15), top - c.H * 0.02, c.vx(1.15), top], fill=(170, 165, 160))
    sx = c.vx(0.2)
    d.rectangle([sx, top - c.H * 0.025, sx + c.W * 0.14, top], fill=(40, 40, 44))
    for k in range(2):
        d.ellipse([sx + c.W * (0.02 + 0.06 * k), top - c.H * 0.035, sx + c.W * (0.06 + 0.06 * k), top - c.H * 0.02],
                  fill=(60, 60, 66))
    fx = c.vx(0.86)
    d.rectangle([fx, c.vy(0.12), fx + c.W * 0.12, c.hy], fill=(225, 228, 230))
    d.line([fx + c.W * 0.01, c.vy(0.35), fx + c.W * 0.01, c.vy(0.45)], fill=(120, 120, 125), width=3)
    d.line([fx, c.vy(0.4), fx + c.W * 0.12, c.vy(0.4)], fill=(180, 182, 185), width=2)
    for y in np.arange(c.hy, c.WH, c.H * 0.06):
        d.line([0, y, c.WW, y], fill=_mix(pal["floor"], (0, 0, 0), 0.15), width=1)


def _subway(c: _Ctx) -> None:
    pal, d = c.pal, c.d
    d.rectangle([0, c.vy(-0.15), c.WW, c.vy(0.04)], fill=_mix(pal["wall"], (255, 255, 255), 0.3))
    for x in np.arange(c.vx(-0.12), c.WW, c.W * 0.3):
        _window(c, x, c.vy(0.12), x + c.W * 0.22, c.vy(0.42), "tunnel" if c.spec.time not in ("day", "morning", "afternoon") else "sky")
    stripe = (40, 110, 190)
    d.rectangle([0, c.vy(0.46), c.WW, c.vy(0.49)], fill=stripe)
    seat = (60, 90, 150)
    d.rectangle([0, c.hy - c.H * 0.14, c.WW, c.hy - c.H * 0.07], fill=seat)
    d.rectangle([0, c.hy - c.H * 0.07, c.WW, c.hy], fill=_mix(seat, (0, 0, 0), 0.4))
    for x in np.arange(c.vx(0.08), c.WW, c.W * 0.3):
        d.line([x, 0, x, c.WH], fill=(200, 200, 205), width=max(2, c.W // 160))
    d.line([0, c.vy(0.06), c.WW, c.vy(0.06)], fill=(200, 200, 205), width=max(2, c.W // 200))
    for x in np.arange(c.vx(0.0), c.WW, c.W * 0.1):
        d.ellipse([x - c.W * 0.012, c.vy(0.08), x + c.W * 0.012, c.vy(0.12)], outline=(220, 220, 220), width=2)


def _castle(c: _Ctx) -> None:
    pal, d = c.pal, c.d
    mortar = _mix(pal["wall"], (0, 0, 0), 0.25)
    bh = c.H * 0.06
    for r, y in enumerate(np.arange(0, c.hy, bh)):
        d.line([0, y, c.WW, y], fill=mortar, width=1)
        off = (r % 2) * c.W * 0.06
        for x in np.arange(off, c.WW, c.W * 0.12):
            d.line([x, y, x, y + bh], fill=mortar, width=1)
    for k, x in enumerate(np.arange(c.vx(0.05), c.WW, c.W * 0.42)):  # arched windows and torches
        aw, top = c.W * 0.1, c.vy(0.08)
        d.rectangle([x, top + aw / 2, x + aw, c.vy(0.5)], fill=_mix(pal["sky_top"], (0, 0, 0), 0.2))
        d.pieslice([x, top, x + aw, top + aw], 180, 360, fill=_mix(pal["sky_top"], (0, 0, 0), 0.2))
        tx = x + c.W * 0.23
        d.ellipse([tx - c.H * 0.05, c.vy(0.25) - c.H * 0.05, tx + c.H * 0.05, c.vy(0.25) + c.H * 0.05], fill=(255, 170, 80, 60))
        d.polygon([(tx - c.H * 0.012, c.vy(0.26)), (tx, c.vy(0.22)), (tx + c.H * 0.012, c.vy(0.26))], fill=(255, 190, 80))
        d.rectangle([tx - c.H * 0.006, c.vy(0.26), tx + c.H * 0.006, c.vy(0.32)], fill=(70, 50, 40))
        if k % 2 == 0:
            bx = x + c.W * 0.32
            d.polygon([(bx, c.vy(0.05)), (bx + c.W * 0.06, c.vy(0.05)), (bx + c.W * 0.06, c.vy(0.33)),
                       (bx + c.W * 0.03, c.vy(0.28)), (bx, c.vy(0.33))], fill=(130, 30, 35))
    for x in np.arange(0, c.WW, c.W * 0.08):
        d.line([x, c.hy, x - c.W * 0.05, c.WH], fill=_mix(pal["floor"], (0, 0, 0), 0.2), width=1)


def _classroom(c: _Ctx) -> None:
    d = c.d
    d.rectangle([c.vx(0.08), c.vy(0.1), c.vx(0.5), c.vy(0.38)], fill=(40, 70, 55))
    d.rectangle([c.vx(0.08), c.vy(0.38), c.vx(0.5), c.vy(0.4)], fill=(150, 120, 80))
    for x in (c.vx(0.6), c.vx(0.82)):
        _window(c, x, c.vy(0.08), x + c.W * 0.16, c.vy(0.45))
    desk = _mix(c.pal["prop"], (180, 140, 90), 0.5)
    for row in range(2):
        y = c.hy + c.H * (0.04 + 0.1 * row)
        for x in np.arange(c.vx(-0.1) + row * c.W * 0.08, c.WW, c.W * 0.24):
            d.rectangle([x, y - c.H * 0.08, x + c.W * 0.14, y - c.H * 0.06], fill=desk)
            d.line([x + c.W * 0.01, y - c.H * 0.06, x + c.W * 0.01, y + c.H * 0.02], fill=(80, 80, 85), width=2)
            d.line([x + c.W * 0.13, y - c.H * 0.06, x + c.W * 0.13, y + c.H * 0.02], fill=(80, 80, 85), width=2)


def _spaceship(c: _Ctx) -> None:
    d = c.d
    for x in np.arange(0, c.WW, c.W * 0.16):
        d.line([x, 0, x, c.hy], fill=_mix(c.pal["wall"], (0, 0, 0), 0.25), width=2)
    cx, cy, r = c.vx(0.5), c.vy(0.26), c.H * 0.17
    d.ellipse([cx - r - 6, cy - r - 6, cx + r + 6, cy + r + 6], fill=(90, 95, 105))
    d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(4, 4, 14))
    for x, y in zip(c.rng.uniform(cx - r * 0.7, cx + r * 0.7, 25), c.rng.uniform(cy - r * 0.7, cy + r * 0.7, 25)):
        d.point((float(x), float(y)), fill=(240, 240, 250))
    d.ellipse([cx - r * 0.2, cy + r * 0.1, cx + r * 0.7, cy + r * 1.0], fill=(40, 90, 170))
    top = c.hy - c.H * 0.12
    d.rectangle([0, top, c.WW, c.hy], fill=(60, 66, 78))
    for x in np.arange(c.rng.uniform(0, 20), c.WW, c.W * 0.03):
        d.rectangle([x, top + c.H * 0.03, x + c.W * 0.012, top + c.H * 0.05],
                    fill=_hsv(c.rng.choice([0.0, 0.33, 0.55, 0.15]), 0.8, 1.0))


def _cafe(c: _Ctx) -> None:
    d = c.d
    _window(c, c.vx(0.05), c.vy(0.1), c.vx(0.35), c.vy(0.45))
    for x in (c.vx(0.45), c.vx(0.7), c.vx(0.95)):
        d.line([x, 0, x, c.vy(0.12)], fill=(40, 40, 40), width=2)
        d.pieslice([x - c.H * 0.05, c.vy(0.1), x + c.H * 0.05, c.vy(0.2)], 180, 360, fill=(60, 60, 60))
        d.ellipse([x - c.H * 0.08, c.vy(0.12), x + c.H * 0.08, c.vy(0.26)], fill=(255, 210, 140, 60))
    top = c.hy - c.H * 0.14
    d.rectangle([c.vx(0.4), top, c.vx(1.2), c.hy], fill=_mix(c.pal["prop"], (60, 35, 20), 0.4))
    for x in np.arange(c.vx(0.42), c.vx(1.1), c.W * 0.04):
        d.rectangle([x, top - c.H * 0.04, x + c.W * 0.02, top], fill=(235, 235, 230))


def _office(c: _Ctx) -> None:
    d = c.d
    _window(c, c.vx(0.55), c.vy(0.08), c.vx(0.95), c.vy(0.45))
    for y in np.arange(c.vy(0.08), c.vy(0.45), c.H * 0.03):
        d.line([c.vx(0.55), y, c.vx(0.95), y], fill=(200, 200, 195), width=1)
    top = c.hy - c.H * 0.1
    for x in (c.vx(0.0), c.vx(0.4)):
        d.rectangle([x, top, x + c.W * 0.28, top + c.H * 0.02], fill=(170, 170, 175))
        d.rectangle([x + c.W * 0.08, top - c.H * 0.14, x + c.W * 0.2, top - c.H * 0.02], fill=(30, 32, 36))
        d.rectangle([x + c.W * 0.085, top - c.H * 0.13, x + c.W * 0.195, top - c.H * 0.03], fill=(70, 120, 180))


def _bedroom(c: _Ctx) -> None:
    _window(c, c.vx(0.6), c.vy(0.08), c.vx(0.86), c.vy(0.45))
    d = c.d
    bx = c.vx(0.05)
    d.rectangle([bx, c.hy - c.H * 0.2, bx + c.W * 0.08, c.hy + c.H * 0.05], fill=_mix(c.pal["prop"], (0, 0, 0), 0.2))
    d.rectangle([bx, c.hy - c.H * 0.06, bx + c.W * 0.4, c.hy + c.H * 0.06], fill=(235, 235, 240))
    d.rectangle([bx + c.W * 0.12, c.hy - c.H * 0.08, bx + c.W * 0.4, c.hy + c.H * 0.06], fill=(120, 140, 200))


def _church(c: _Ctx) -> None:
    d = c.d
    for k, x in enumerate(np.arange(c.vx(0.0), c.WW, c.W * 0.3)):
        aw, top = c.W * 0.12, c.vy(0.05)
        for j in range(6):
            col = _hsv((k * 0.21 + j * 0.17) % 1.0, 0.7, 0.85)
            d.rectangle([x + aw * (j % 3) / 3, top + aw / 2 + (c.vy(0.5) - top - aw / 2) * (j // 3) / 2,
                         x + aw * (j % 3 + 1) / 3, top + aw / 2 + (c.vy(0.5) - top - aw / 2) * (j // 3 + 1) / 2], fill=col)
        d.pieslice([x, top, x + aw, top + aw], 180, 360, fill=(200, 60, 60))
    for y in (c.hy + c.H * 0.05, c.hy + c.H * 0.15):
        d.rectangle([c.vx(-0.1), y - c.H * 0.05, c.vx(0.4), y], fill=(110, 75, 50))
        d.rectangle([c.vx(0.6), y - c.H * 0.05, c.vx(1.1), y], fill=(110, 75, 50))


_EXTERIORS: dict[str, Callable[[_Ctx], None]] = {
    "sea": _sea, "beach": _beach, "lighthouse": _lighthouse, "harbour": _harbour, "river": _river, "forest": _forest,
    "garden": _garden, "street": _street, "market": _market, "desert": _desert, "mountain": _mountain, "snow": _snow,
    "underwater": _underwater, "space": _space, "outside": _hills, "stage": _hills,
}
_INTERIORS: dict[str, Callable[[_Ctx], None]] = {
    "library": _library, "kitchen": _kitchen, "subway": _subway, "castle": _castle, "classroom": _classroom,
    "spaceship": _spaceship, "cafe": _cafe, "office": _office, "bedroom": _bedroom, "church": _church, "room": _room,
}


# -- the shot's own things: standing props and creatures --------------------------------------------

def _extras(world: Image.Image, look: ShotLook, spec: WorldSpec, looks: list[Look], rng: np.random.Generator,
            W: int, H: int) -> None:
    scene = look.scene
    draw = ImageDraw.Draw(world, "RGBA")
    WW, WH = world.size
    ox, oy = (WW - W) / 2.0, (WH - H) / 2.0
    h = H * {"wide": 0.34, "medium": 1.05, "close": 2.3}[spec.framing]
    ground = oy + H * ({"wide": 0.88, "medium": 0.98, "close": 1.0}[spec.framing] if not spec.interior else 0.95)
    night = spec.time in ("night", "moonlight", "evening", "dusk")
    light, bright = spec.palette["light"], TIME_PALETTES[spec.time].brightness
    lit = lambda col: _lit(col, light, max(0.55, bright))  # noqa: E731
    held = {p.kind for p in scene.props if p.held}
    sitting = scene.action == "sit"
    spots = iter([0.12, 0.88, 0.22, 0.78, 0.05, 0.95])
    for p in scene.props:
        if p.kind in held or (p.kind not in STANDING and p.kind not in ("lantern", "candle")):
            continue
        if sitting and p.kind in ("bench", "chair"):
            continue  # the seat is drawn under the sitting figure
        if p.kind == "boat" and spec.place in ("sea", "beach", "lighthouse", "harbour", "river"):
            y = oy + H * (horizon(spec.framing, False) + 0.05)
            draw_standing(draw, "boat", ox + W * 0.3, y, H * 0.25, lit(p.colour or PROP_COLOURS["boat"]), rng, night)
            continue
        fx = next(spots, 0.5)
        draw_standing(draw, p.kind, ox + W * fx, ground, min(h, H * 0.9), lit(p.colour or PROP_COLOURS[p.kind]), rng, night)
    hz = oy + H * horizon(spec.framing, spec.interior)
    for sp, n in scene.creatures:
        body, belly = SPECIES_COLOURS.get(sp, ((130, 100, 70), (200, 180, 150)))
        if sp not in SPECIES_COLOURS:
            cols = name_colours(sp, "animal")
            body, belly = cols["top"], cols["accent"]
        c = {"top": lit(body), "accent": lit(belly), "eyes": (30, 30, 30), "hair": lit(body), "skin": lit(body),
             "bottom": lit(body)}
        for k in range(n):
            if sp in ("bird", "butterfly"):
                x, y, bh, act = ox + W * rng.uniform(0.1, 0.9), oy + H * rng.uniform(0.12, 0.35), H * 0.035, "fly"
            elif sp in ("whale", "dolphin", "fish") and spec.place in WATER_PLACES:
                if spec.place == "underwater":
                    x, y, bh = ox + W * rng.uniform(0.15, 0.85), oy + H * rng.uniform(0.25, 0.6), H * (0.05 if sp == "fish" else 0.12)
                else:
                    x, y, bh = ox + W * rng.uniform(0.2, 0.6), hz + H * 0.06, H * (0.09 if sp == "whale" else 0.05)
                act = "swim"
            else:
                x, y = ox + W * (0.85 - 0.1 * k), ground
                bh, act = min(h, H * 0.9) * SPECIES_SIZE.get(sp, 0.4), "stand"
                if sp == "whale":
                    bh = H * 0.12
            draw_creature(draw, sp, c, x, y, bh, 1 if rng.random() < 0.5 else -1, act,
                          spec.place in WATER_PLACES and sp == "whale")


# -- all layers ----------------------------------------------------------------------------------

def _draw_layers(request: RenderRequest, look: ShotLook, looks: list[Look], spec: WorldSpec, bright: float,
                 rng: np.random.Generator, margin: float, caption: bool,
                 legend_details: dict[str, str] | None = None) -> _Layers:
    """Everything drawn once per shot (``margin``: :attr:`PreviewConfig.world_margin`; ``caption``:
    draw the caption and header)."""
    W, H = request.width, request.height
    world = draw_world(spec, W, H, margin)
    _extras(world, look, spec, looks, rng, W, H)
    world = depth_blur(world, spec.framing, H)
    WW, WH = world.size
    ox, oy = (WW - W) / 2.0, (WH - H) / 2.0

    def vx(f: float) -> float:
        return ox + f * W

    def vy(f: float) -> float:
        return oy + f * H

    in_water = spec.place in WATER_PLACES
    state = rng.bit_generator.state
    # A close-up of hands or a thing shows who holds it and what, not a face filling the frame.
    framing = "medium" if spec.framing == "close" and look.scene.detail else spec.framing
    sprite, sprite_xy, placed = _draw_figures(looks, framing, look.scene, spec.palette, bright, vx, vy, rng,
                                              W, H, WW, WH, 0, in_water=in_water)
    sprite2 = None
    moving = look.scene.action in ("walk", "run", "swim", "fly") and sprite is not None
    if look.scene.action in ("walk", "run") and sprite is not None:
        rng2 = np.random.default_rng(0)
        rng2.bit_generator.state = state
        s2, xy2, _ = _draw_figures(looks, framing, look.scene, spec.palette, bright, vx, vy, rng2, W, H, WW, WH, 1,
                                   in_water=in_water)
        if s2 is not None:
            # Both steps on one box, so the walk cycle swaps in place.
            x0, y0 = min(sprite_xy[0], xy2[0]), min(sprite_xy[1], xy2[1])
            x1 = max(sprite_xy[0] + sprite.width, xy2[0] + s2.width)
            y1 = max(sprite_xy[1] + sprite.height, xy2[1] + s2.height)
            a = Image.new("RGBA", (x1 - x0, y1 - y0), (0, 0, 0, 0))
            b = Image.new("RGBA", (x1 - x0, y1 - y0), (0, 0, 0, 0))
            a.paste(sprite, (sprite_xy[0] - x0, sprite_xy[1] - y0))
            b.paste(s2, (xy2[0] - x0, xy2[1] - y0))
            dx, dy = sprite_xy[0] - x0, sprite_xy[1] - y0
            placed = [type(p)(p.name, (p.box[0] + dx, p.box[1] + dy, p.box[2] + dx, p.box[3] + dy),
                              (p.label_box[0] + dx, p.label_box[1] + dy, p.label_box[2] + dx, p.label_box[3] + dy)
                              if p.label_box else None, p.hand) for p in placed]
            sprite, sprite2, sprite_xy = a, b, (x0, y0)
    sc = look.scene
    if moving and len(looks) > 1 and not sc.together and any(sc.action_of(lk.name, False) != sc.action for lk in looks):
        moving = False  # some stand still: nobody travels (one sprite)
    travel = {"walk": 0.1, "run": 0.22, "swim": 0.08, "fly": 0.1}.get(sc.action, 0.0) * W if moving else 0.0
    if sprite is not None and not _PARALLAX.get(look.camera) and not travel:
        world.paste(sprite, sprite_xy, sprite)  # figures move with the world: one layer
        sprite = None
    overlays = []
    legend = _legend_overlay(looks, W, H, legend_details) if looks else None
    if caption:
        overlays.append(_caption_overlay(request, look, W, H))
        overlays.append(_header_overlay(request, look, W, H, left=legend[2].shape[1] if legend is not None else 0))
    if legend is not None:  # last: the legend's chips are read back, nothing may cover them
        overlays.append(legend)
    weather = look.scene.weather
    particles = next((p for p in ("rain", "snow", "petals", "leaves", "motes") if p in weather or p in look.moods), None)
    if spec.place == "underwater" and particles is None:
        particles = "bubbles"
    pcol = {"rain": (200, 210, 230), "snow": (250, 250, 255), "motes": (255, 240, 200), "bubbles": (200, 235, 255),
            "petals": (250, 185, 205), "leaves": (220, 140, 50)}.get(particles or "", (255, 255, 255))
    return _Layers(world, sprite, sprite_xy, [o for o in overlays if o is not None], particles, pcol, sprite2, travel,
                   tuple(placed), "lightning" in weather)


def _particles(frame: np.ndarray, kind: str, colour: RGB, t: int, W: int, H: int) -> None:
    """Rain streaks, snow flakes, petals, leaves, dust motes or bubbles for frame ``t`` (in place)."""
    rng = np.random.default_rng(7)  # particle field is the same for every shot of a kind; motion comes from t
    n = {"rain": max(60, W * H // 1600), "snow": max(40, W * H // 3000), "motes": max(20, W * H // 9000),
         "bubbles": max(15, W * H // 12000), "petals": max(25, W * H // 6000), "leaves": max(20, W * H // 8000)}[kind]
    x0, y0 = rng.uniform(0, W, n), rng.uniform(0, H, n)
    speed = {"rain": H / 10.0, "snow": H / 120.0, "motes": H / 400.0, "bubbles": -H / 90.0, "petals": H / 150.0,
             "leaves": H / 110.0}[kind]
    ys = (y0 + speed * t * rng.uniform(0.7, 1.3, n)) % H
    drift = W / 200.0 if kind not in ("petals", "leaves") else W / 60.0
    xs = (x0 + (np.sin(t / 9.0 + y0) * drift if kind != "rain" else -speed * 0.15 * t)) % W
    col = np.array(colour, np.float32)
    if kind == "rain":
        length = max(3, H // 40)
        yy = (ys[:, None] + np.arange(length)[None, :]).astype(int) % H  # (n, L)
        xx = (xs[:, None] - np.arange(length)[None, :] * 0.15).astype(int) % W
        alpha = 0.45
    else:
        r = {"snow": max(1, H // 240), "petals": max(1, H // 200), "leaves": max(1, H // 180)}.get(kind, 1)
        offs = np.array([(dy, dx) for dy in range(-r, r + 1) for dx in range(-r - (kind == "petals"), r + 1 + (kind == "petals"))
                         if dy * dy + dx * dx <= r * r + (kind == "petals")])
        yy = (ys[:, None].astype(int) + offs[None, :, 0]) % H
        xx = (xs[:, None].astype(int) + offs[None, :, 1]) % W
        alpha = {"snow": 0.85, "motes": 0.55, "bubbles": 0.5, "petals": 0.9, "leaves": 0.9}[kind]
    px = frame[yy, xx].astype(np.float32)
    frame[yy, xx] = (px + (col - px) * alpha).astype(np.uint8)
