"""Props as simple shapes: held at a hand (``draw_prop``: umbrella, lantern, book, wand ...) or
standing in the scene (``draw_standing``: bench, table, boat, street lamp, campfire ...)."""

from __future__ import annotations

import math

import numpy as np
from PIL import ImageDraw

from engine.preview.colour import RGB, _mix

PROP_COLOURS: dict[str, RGB] = {
    "umbrella": (60, 70, 90), "lantern": (250, 200, 90), "book": (140, 60, 40), "wand": (90, 60, 40),
    "sword": (200, 205, 215), "cup": (235, 235, 230), "phone": (30, 30, 35), "flower": (230, 60, 90),
    "balloon": (230, 50, 60), "kite": (240, 180, 40), "guitar": (170, 100, 40), "camera": (40, 40, 45),
    "candle": (245, 240, 220), "letter": (240, 235, 215), "shell": (245, 215, 200), "bicycle": (40, 90, 170),
    "car": (180, 40, 40), "boat": (150, 100, 60), "bench": (120, 80, 50), "table": (130, 90, 60),
    "chair": (120, 80, 50), "fire": (250, 140, 40), "lamp": (50, 50, 55), "telescope": (150, 120, 60),
    "laptop": (70, 75, 85), "ball": (240, 240, 240), "bag": (120, 80, 50), "tree": (60, 110, 50),
    "rope": (190, 160, 110), "sign": (200, 170, 110),
}
"""A prop's own colour when the prompt gives none."""

GLOW = {"lantern", "candle", "fire", "lamp"}
"""Props that shine: drawn with a halo."""


def _glow(draw: ImageDraw.ImageDraw, x: float, y: float, r: float, colour: RGB) -> None:
    for k, a in ((2.6, 40), (1.8, 70), (1.25, 110)):
        draw.ellipse([x - r * k, y - r * k, x + r * k, y + r * k], fill=colour + (a,))


def draw_prop(draw: ImageDraw.ImageDraw, kind: str, hand: tuple[float, float], h: float, colour: RGB, facing: int,
              overhead: bool = False, span: float = 0.0) -> None:
    """A held prop at ``hand`` (sprite pixels) for a figure of height ``h`` px; an overhead umbrella
    opens above the heads over ``span`` px (centred towards the facing side when shared)."""
    x, y = hand
    s = h / 10.0
    dark = _mix(colour, (0, 0, 0), 0.45) + (255,)
    col = colour + (255,)
    if kind == "umbrella":
        top = y - h * 0.42
        r = max(h * 0.32, span * 0.55) if overhead else h * 0.3
        cx = x + (facing * (r - h * 0.3) if overhead and span > h * 0.6 else 0.0)
        draw.line([x, y + s * 0.4, x, top], fill=(60, 50, 45, 255), width=max(1, int(s * 0.18)))
        draw.arc([x - s * 0.5, y + s * 0.1, x + s * 0.1, y + s * 0.7], 0, 180, fill=(60, 50, 45, 255),
                 width=max(1, int(s * 0.18)))
        draw.chord([cx - r, top - r * 0.55, cx + r, top + r * 0.55], 180, 360, fill=col)
        for k in range(-2, 3):
            draw.line([cx, top - r * 0.55, cx + k * r / 2.5, top], fill=dark, width=max(1, int(s * 0.1)))
        draw.line([cx - r, top, cx + r, top], fill=dark, width=max(1, int(s * 0.12)))
    elif kind in ("lantern", "candle"):
        if kind == "lantern":
            draw.line([x, y, x, y + s * 0.8], fill=(60, 50, 40, 255), width=max(1, int(s * 0.12)))
            _glow(draw, x, y + s * 1.5, s * 0.9, (255, 210, 120))
            draw.rounded_rectangle([x - s * 0.55, y + s * 0.8, x + s * 0.55, y + s * 2.2], radius=max(1, int(s * 0.3)),
                                   fill=col)
            draw.rectangle([x - s * 0.6, y + s * 0.7, x + s * 0.6, y + s * 0.9], fill=dark)
        else:
            _glow(draw, x, y - s * 1.2, s * 0.5, (255, 210, 120))
            draw.rectangle([x - s * 0.2, y - s * 0.9, x + s * 0.2, y + s * 0.3], fill=col)
            draw.ellipse([x - s * 0.15, y - s * 1.4, x + s * 0.15, y - s * 0.9], fill=(255, 200, 80, 255))
    elif kind in ("book", "letter", "laptop"):
        w, hh = (s * 1.4, s * 1.1) if kind != "laptop" else (s * 1.8, s * 1.2)
        bx = x + facing * s * 0.2
        draw.rectangle([bx - w / 2, y - hh, bx + w / 2, y + s * 0.1], fill=col if kind != "letter" else (245, 240, 225, 255))
        draw.line([bx, y - hh, bx, y + s * 0.1], fill=dark, width=max(1, int(s * 0.1)))
    elif kind in ("wand", "sword", "rope"):
        length = s * (2.2 if kind == "wand" else 4.5)
        ex, ey = x + facing * length * math.cos(math.radians(55)), y - length * math.sin(math.radians(55))
        draw.line([x, y, ex, ey], fill=col, width=max(1, int(s * (0.15 if kind == "wand" else 0.3))))
        if kind == "wand":
            _glow(draw, ex, ey, s * 0.25, (255, 240, 180))
        else:
            draw.line([x - s * 0.4, y + s * 0.3, x + s * 0.4, y - s * 0.3], fill=dark, width=max(1, int(s * 0.25)))
    elif kind in ("cup", "phone", "camera", "shell", "ball"):
        r = s * (0.45 if kind != "ball" else 0.6)
        if kind == "ball" or kind == "shell":
            draw.ellipse([x - r, y - r * 1.6, x + r, y + r * 0.4], fill=col)
        else:
            draw.rectangle([x - r, y - r * 1.8, x + r, y + r * 0.2], fill=col)
    elif kind in ("flower", "balloon", "kite"):
        top = y - s * (1.6 if kind == "flower" else 5.0)
        draw.line([x, y, x + facing * s * 0.5, top], fill=(60, 120, 50, 255) if kind == "flower" else (230, 230, 230, 255),
                  width=max(1, int(s * 0.1)))
        r = s * (0.5 if kind == "flower" else 0.9)
        tx = x + facing * s * 0.5
        if kind == "kite":
            draw.polygon([(tx, top - r * 1.3), (tx + r, top), (tx, top + r * 1.3), (tx - r, top)], fill=col)
        else:
            draw.ellipse([tx - r, top - r * 1.2, tx + r, top + r], fill=col)
    elif kind == "guitar":
        draw.ellipse([x - s * 1.2, y - s * 0.4, x + s * 0.6, y + s * 1.4], fill=col)
        draw.line([x, y + s * 0.4, x + facing * s * 2.6, y - s * 1.4], fill=dark, width=max(1, int(s * 0.3)))
    elif kind == "telescope":
        draw.line([x, y, x + facing * s * 2.5, y - s * 1.4], fill=col, width=max(1, int(s * 0.45)))
    elif kind == "bag":
        draw.rounded_rectangle([x - s * 0.7, y + s * 0.2, x + s * 0.7, y + s * 1.4], radius=max(1, int(s * 0.2)), fill=col)


def draw_standing(draw: ImageDraw.ImageDraw, kind: str, x: float, ground: float, h: float, colour: RGB,
                  rng: np.random.Generator, night: bool) -> None:
    """A prop standing on the ground at (x, ground) beside figures of height ``h`` px."""
    s = h / 10.0
    col = colour + (255,)
    dark = _mix(colour, (0, 0, 0), 0.4) + (255,)
    if kind == "bench":
        draw.rectangle([x - s * 3, ground - s * 2.3, x + s * 3, ground - s * 1.9], fill=col)
        draw.rectangle([x - s * 3, ground - s * 3.6, x + s * 3, ground - s * 3.2], fill=col)
        for lx in (-2.6, 2.6):
            draw.rectangle([x + lx * s - s * 0.15, ground - s * 3.6, x + lx * s + s * 0.15, ground], fill=dark)
    elif kind in ("table", "chair"):
        w = s * (3.5 if kind == "table" else 1.4)
        top = ground - s * (3.6 if kind == "table" else 2.2)
        draw.rectangle([x - w / 2, top, x + w / 2, top + s * 0.35], fill=col)
        for lx in (-0.42, 0.42):
            draw.rectangle([x + lx * w - s * 0.12, top, x + lx * w + s * 0.12, ground], fill=dark)
        if kind == "chair":
            draw.rectangle([x - w / 2, top - s * 2.2, x - w / 2 + s * 0.25, top], fill=dark)
    elif kind == "boat":
        draw.polygon([(x - s * 4, ground - s * 1.6), (x + s * 4, ground - s * 1.6), (x + s * 3, ground),
                      (x - s * 3, ground)], fill=col)
        draw.line([x, ground - s * 1.6, x, ground - s * 7], fill=dark, width=max(1, int(s * 0.3)))
        draw.polygon([(x + s * 0.2, ground - s * 6.8), (x + s * 3, ground - s * 2), (x + s * 0.2, ground - s * 2)],
                     fill=(240, 235, 225, 255))
    elif kind == "car":
        draw.rounded_rectangle([x - s * 4, ground - s * 2.4, x + s * 4, ground - s * 0.6], radius=max(1, int(s * 0.5)),
                               fill=col)
        draw.polygon([(x - s * 2.4, ground - s * 2.4), (x - s * 1.6, ground - s * 3.8), (x + s * 1.8, ground - s * 3.8),
                      (x + s * 2.6, ground - s * 2.4)], fill=col)
        draw.polygon([(x - s * 2.0, ground - s * 2.5), (x - s * 1.4, ground - s * 3.5), (x + s * 1.6, ground - s * 3.5),
                      (x + s * 2.2, ground - s * 2.5)], fill=(170, 200, 220, 255))
        for wx in (-2.5, 2.5):
            draw.ellipse([x + wx * s - s * 0.9, ground - s * 1.5, x + wx * s + s * 0.9, ground + s * 0.3],
                         fill=(25, 25, 28, 255))
    elif kind == "bicycle":
        for wx in (-1.6, 1.6):
            draw.ellipse([x + wx * s - s * 1.2, ground - s * 2.4, x + wx * s + s * 1.2, ground], outline=(30, 30, 30, 255),
                         width=max(1, int(s * 0.2)))
        draw.line([x - s * 1.6, ground - s * 1.2, x, ground - s * 2.6, x + s * 1.6, ground - s * 1.2, x - s * 0.3,
                   ground - s * 1.2, x - s * 1.6, ground - s * 1.2], fill=col, width=max(1, int(s * 0.25)))
    elif kind == "fire":
        _glow(draw, x, ground - s * 1.2, s * 1.4, (255, 170, 70))
        for k in (-1, 0, 1):
            draw.polygon([(x + k * s * 0.8 - s * 0.6, ground), (x + k * s * 0.8, ground - s * (2.6 - abs(k) * 0.8)),
                          (x + k * s * 0.8 + s * 0.6, ground)], fill=(250, 150 + 40 * abs(k), 40, 255))
        draw.line([x - s * 1.4, ground, x + s * 1.4, ground - s * 0.3], fill=(90, 60, 40, 255), width=max(1, int(s * 0.4)))
    elif kind == "lamp":
        draw.line([x, ground, x, ground - s * 12], fill=dark, width=max(1, int(s * 0.35)))
        draw.line([x, ground - s * 12, x + s * 1.2, ground - s * 12], fill=dark, width=max(1, int(s * 0.3)))
        if night:
            _glow(draw, x + s * 1.2, ground - s * 11.4, s * 0.8, (255, 220, 150))
        draw.ellipse([x + s * 0.7, ground - s * 11.9, x + s * 1.7, ground - s * 10.9], fill=(255, 235, 180, 255))
    elif kind == "tree":
        draw.rectangle([x - s * 0.4, ground - s * 7, x + s * 0.4, ground], fill=(90, 60, 40, 255))
        for dx, dy, r in ((0, -8, 3.2), (-2, -6.5, 2.4), (2, -6.5, 2.4)):
            draw.ellipse([x + dx * s - r * s, ground + dy * s - r * s, x + dx * s + r * s, ground + dy * s + r * s], fill=col)
    elif kind == "sign":
        draw.line([x, ground, x, ground - s * 6], fill=dark, width=max(1, int(s * 0.3)))
        draw.rectangle([x - s * 2, ground - s * 7.5, x + s * 2, ground - s * 5.5], fill=col)
    elif kind == "telescope":
        draw.line([x - s, ground, x, ground - s * 3, x + s, ground], fill=dark, width=max(1, int(s * 0.2)))
        draw.line([x - s * 1.5, ground - s * 2.5, x + s * 2, ground - s * 4.2], fill=col, width=max(1, int(s * 0.6)))
    elif kind in ("lantern", "candle"):
        _glow(draw, x, ground - s * 1.5, s * 0.9, (255, 210, 120))
        draw.rounded_rectangle([x - s * 0.6, ground - s * 2.4, x + s * 0.6, ground - s * 0.6], radius=max(1, int(s * 0.3)),
                               fill=col)
    else:  # a small held thing set down: a box of its colour
        draw.rectangle([x - s * 0.8, ground - s * 1.2, x + s * 0.8, ground], fill=col)


STANDING = ("bench", "table", "chair", "boat", "car", "bicycle", "fire", "lamp", "tree", "sign", "telescope")
"""Props that stand in the scene when nobody holds them."""
