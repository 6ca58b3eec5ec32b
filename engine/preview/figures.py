"""Figures: the characters drawn from their looks (people, animals, robots, with accessories and
name labels), all on one transparent sprite lit by the scene."""

from __future__ import annotations

from typing import Callable

import numpy as np
from PIL import Image, ImageDraw

from engine.preview.captions import _font
from engine.preview.colour import RGB, _clamp
from engine.preview.legend import MAX_LEGEND
from engine.preview.looks import Look
from engine.preview.prompt import ShotLook


def _draw_figures(looks: list[Look], look: ShotLook, pal: dict[str, RGB], bright: float,
                  vx: Callable[[float], float], vy: Callable[[float], float], rng: np.random.Generator,
                  W: int, H: int, WW: int, WH: int) -> tuple[Image.Image | None, tuple[int, int]]:
    """All characters on one transparent sprite (cropped to their box), lit by the scene."""
    if not looks:
        return None, (0, 0)
    layer = Image.new("RGBA", (WW, WH), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    shown = looks[:2] if look.framing == "close" else looks[:MAX_LEGEND]
    n = len(shown)
    if look.framing == "close":
        xs = [0.5] if n == 1 else [0.4, 0.8]
    else:
        xs = [0.5] if n == 1 else list(np.linspace(0.25, 0.75, n))
    light = pal["light"]
    lift = 0.35 + 0.65 * bright  # figures stay readable at night
    for i, lk in enumerate(shown):
        x = vx(xs[i] + rng.uniform(-0.03, 0.03))
        if look.framing == "wide":
            height, feet = H * 0.34, vy(0.86 + rng.uniform(-0.02, 0.02))
        elif look.framing == "medium":
            height, feet = H * 1.05, vy(1.22)
        else:
            height, feet = H * 2.3 * (1.0 if i == 0 else 0.8), vy(2.42)
        if lk.kind == "animal":  # smaller; in medium and close shots the head sits at the slot
            height, feet = {"wide": (H * 0.19, feet), "medium": (H * 0.36, vy(0.95)),
                            "close": (H * 0.75, vy(1.0))}[look.framing]
            if look.framing != "wide":
                x -= height * 0.5
        lit = {s: _clamp(v * l / 255.0 * lift + 12 * (1 - lift) for v, l in zip(c, light))
               for s, c in lk.colours.items()}
        top_y = _draw_figure(draw, lk, lit, x, feet, height)
        size = int(np.clip(height * 0.09, 10, H * 0.06))
        font = _font(size)
        label_y = max(vy(0.03), top_y - size * 1.5)
        draw.text((x, label_y), lk.name, font=font, fill=(255, 255, 255, 255), anchor="mt",
                  stroke_width=max(1, size // 8), stroke_fill=(0, 0, 0, 255))
    box = layer.getbbox()
    if box is None:
        return None, (0, 0)
    return layer.crop(box), (box[0], box[1])


def _draw_figure(draw: ImageDraw.ImageDraw, look: Look, c: dict[str, RGB], x: float, feet: float, h: float) -> float:
    """Draw one character with its feet at (x, feet) and height ``h``; returns the top y."""
    a = 255
    if look.kind == "animal":  # x is the figure's centre: body behind it, head in front
        x -= h * 0.25
        bw, bh = h * 1.5, h * 0.55
        by = feet - h * 0.35
        for lx in (-0.55, -0.3, 0.3, 0.55):
            draw.rectangle([x + lx * bw * 0.6 - h * 0.05, by, x + lx * bw * 0.6 + h * 0.05, feet], fill=c["top"] + (a,))
        draw.ellipse([x - bw / 2, by - bh / 2, x + bw / 2, by + bh / 2], fill=c["top"] + (a,))
        draw.ellipse([x - bw * 0.25, by - bh * 0.05, x + bw * 0.25, by + bh * 0.45], fill=c["accent"] + (a,))
        draw.line([x - bw / 2, by, x - bw * 0.75, by - h * 0.5], fill=c["top"] + (a,), width=max(2, int(h * 0.08)))
        hr = h * 0.32
        hx, hy = x + bw * 0.5, by - bh * 0.6
        for ex in (-1, 1):
            draw.polygon([(hx + ex * hr * 0.15, hy - hr * 0.7), (hx + ex * hr * 0.95, hy - hr * 0.45),
                          (hx + ex * hr * 0.75, hy - hr * 1.45)], fill=c["top"] + (a,))
        draw.ellipse([hx - hr, hy - hr, hx + hr, hy + hr], fill=c["top"] + (a,))
        er = max(1.0, hr * 0.16)
        for ex in (-0.4, 0.4):
            draw.ellipse([hx + ex * hr - er, hy - hr * 0.15 - er, hx + ex * hr + er, hy - hr * 0.15 + er], fill=c["eyes"] + (a,))
        draw.ellipse([hx - er, hy + hr * 0.25 - er, hx + er, hy + hr * 0.25 + er], fill=(40, 30, 30, a))
        return hy - hr * 1.5
    r = h * 0.09
    head_y = feet - h + r
    neck = head_y + r
    hip = feet - h * 0.45
    tw = h * 0.3
    # Legs, arms, torso.
    for lx in (-0.28, 0.08):
        draw.rounded_rectangle([x + lx * tw * 1.5, hip - h * 0.02, x + lx * tw * 1.5 + tw * 0.3, feet],
                               radius=max(1, int(tw * 0.08)), fill=c["bottom"] + (a,))
    if "backpack" in look.accessories:
        draw.rounded_rectangle([x - tw * 0.62, neck + h * 0.05, x + tw * 0.62, hip - h * 0.08],
                               radius=max(1, int(tw * 0.15)), fill=c["accent"] + (a,))
    for ax in (-1, 1):
        draw.rounded_rectangle([x + ax * tw * 0.5 - tw * 0.12, neck + h * 0.03, x + ax * tw * 0.5 + tw * 0.12, hip + h * 0.05],
                               radius=max(1, int(tw * 0.1)), fill=c["top"] + (a,))
    draw.rounded_rectangle([x - tw / 2, neck + h * 0.01, x + tw / 2, hip + h * 0.02],
                           radius=max(1, int(tw * 0.2)), fill=c["top"] + (a,))
    if "tie" in look.accessories:
        draw.polygon([(x - tw * 0.06, neck + h * 0.02), (x + tw * 0.06, neck + h * 0.02), (x + tw * 0.09, neck + h * 0.2),
                      (x, neck + h * 0.24), (x - tw * 0.09, neck + h * 0.2)], fill=c["accent"] + (a,))
    if "scarf" in look.accessories:
        draw.rounded_rectangle([x - tw * 0.4, neck - h * 0.01, x + tw * 0.4, neck + h * 0.05], radius=max(1, int(tw * 0.05)),
                               fill=c["accent"] + (a,))
    # Head: long hair behind, face, hair cap, eyes.
    if look.kind == "robot":
        draw.rounded_rectangle([x - r * 1.1, head_y - r, x + r * 1.1, head_y + r], radius=max(1, int(r * 0.3)),
                               fill=c["hair"] + (a,))
        draw.line([x, head_y - r, x, head_y - r * 1.6], fill=c["accent"] + (a,), width=max(1, int(r * 0.15)))
        draw.ellipse([x - r * 0.2, head_y - r * 1.8, x + r * 0.2, head_y - r * 1.4], fill=c["accent"] + (a,))
        er = max(1.0, r * 0.22)
        for ex in (-0.45, 0.45):
            draw.ellipse([x + ex * r - er, head_y - er, x + ex * r + er, head_y + er], fill=c["eyes"] + (a,))
        return head_y - r * 1.8
    if look.hair_style == "long":
        draw.rounded_rectangle([x - r * 1.15, head_y - r * 0.9, x + r * 1.15, head_y + r * 2.2],
                               radius=max(1, int(r * 0.6)), fill=c["hair"] + (a,))
    draw.ellipse([x - r, head_y - r, x + r, head_y + r], fill=c["skin"] + (a,))
    if look.hair_style != "bald":
        draw.chord([x - r * 1.04, head_y - r * 1.08, x + r * 1.04, head_y + r * 0.7], 180, 360, fill=c["hair"] + (a,))
    er = max(1.0, r * 0.14)
    for ex in (-0.38, 0.38):
        draw.ellipse([x + ex * r - er, head_y + r * 0.05 - er, x + ex * r + er, head_y + r * 0.05 + er], fill=c["eyes"] + (a,))
    if r > 12:
        draw.arc([x - r * 0.35, head_y + r * 0.2, x + r * 0.35, head_y + r * 0.6], 20, 160, fill=(90, 40, 40, a),
                 width=max(1, int(r * 0.06)))
    if "glasses" in look.accessories:
        gr = r * 0.26
        for ex in (-0.38, 0.38):
            draw.ellipse([x + ex * r - gr, head_y + r * 0.05 - gr, x + ex * r + gr, head_y + r * 0.05 + gr],
                         outline=(20, 20, 20, a), width=max(1, int(r * 0.07)))
    top = head_y - r
    if "hat" in look.accessories or "helmet" in look.accessories:
        draw.rectangle([x - r * 1.5, head_y - r * 0.75, x + r * 1.5, head_y - r * 0.55], fill=c["accent"] + (a,))
        draw.rounded_rectangle([x - r * 0.85, head_y - r * 1.6, x + r * 0.85, head_y - r * 0.6], radius=max(1, int(r * 0.2)),
                               fill=c["accent"] + (a,))
        top = head_y - r * 1.6
    elif "crown" in look.accessories:
        pts = [(x - r * 0.8, head_y - r * 0.7), (x - r * 0.8, head_y - r * 1.5), (x - r * 0.4, head_y - r * 1.1),
               (x, head_y - r * 1.6), (x + r * 0.4, head_y - r * 1.1), (x + r * 0.8, head_y - r * 1.5), (x + r * 0.8, head_y - r * 0.7)]
        draw.polygon(pts, fill=c["accent"] + (a,))
        top = head_y - r * 1.6
    return top
