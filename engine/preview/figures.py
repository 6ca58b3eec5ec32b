"""Figures: the characters drawn from their looks in the pose of the shot's action (stand, walk,
run, hold, look, point, sit, embrace, fall, swim, fly), creatures by body plan (a whale is not a cat),
props in hands or over heads, and a name label kept on each figure; all on one transparent sprite
lit by the scene.

Every shape goes through a :class:`_Pen` (position, height, facing, rotation), so one skeleton gives
every pose and a fallen figure is the same figure turned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw

from engine.preview.colour import RGB, _clamp, _mix
from engine.preview.fonts import face
from engine.preview.legend import MAX_LEGEND
from engine.preview.looks import Look
from engine.preview.props import PROP_COLOURS, draw_prop
from engine.preview.scene import Scene

Pt = tuple[float, float]

SPECIES_SIZE: dict[str, float] = {
    "cat": 0.34, "dog": 0.42, "fox": 0.38, "wolf": 0.5, "bear": 0.75, "panda": 0.65, "rabbit": 0.28, "mouse": 0.14,
    "horse": 1.05, "deer": 0.9, "lion": 0.65, "monkey": 0.5, "elephant": 1.3, "farm": 0.65, "squirrel": 0.22,
    "whale": 0.75, "dolphin": 0.4, "fish": 0.18, "penguin": 0.45, "bird": 0.22, "dragon": 1.1, "turtle": 0.25,
    "frog": 0.16, "butterfly": 0.12, "snake": 0.16, "dinosaur": 1.2, "badger": 0.3, "hedgehog": 0.18, "lizard": 0.18,
}
"""Body height of a species relative to a standing person (a whale's is its body depth)."""

# (leg length, neck, ears, tail, snout) per quadruped species, lengths in body heights.
_QUAD: dict[str, tuple[float, float, str, str, float]] = {
    "cat": (0.45, 0.0, "pointed", "long", 0.1), "dog": (0.5, 0.05, "floppy", "short", 0.25),
    "fox": (0.42, 0.0, "pointed", "bushy", 0.3), "wolf": (0.55, 0.05, "pointed", "bushy", 0.32),
    "bear": (0.35, 0.0, "round", "none", 0.22), "panda": (0.35, 0.0, "round", "none", 0.15),
    "rabbit": (0.25, 0.0, "long", "puff", 0.08), "mouse": (0.2, 0.0, "round", "thin", 0.2),
    "horse": (0.9, 0.5, "pointed", "mane", 0.45), "deer": (0.9, 0.45, "antlers", "short", 0.35),
    "lion": (0.5, 0.0, "mane", "tuft", 0.25), "monkey": (0.55, 0.0, "side", "curl", 0.1),
    "elephant": (0.6, 0.0, "big", "thin", 0.0), "farm": (0.45, 0.0, "side", "thin", 0.3),
    "squirrel": (0.25, 0.0, "pointed", "bushy", 0.12), "dragon": (0.45, 0.4, "horns", "spiked", 0.4),
    "dinosaur": (0.6, 0.5, "none", "spiked", 0.35), "badger": (0.25, 0.0, "round", "short", 0.3),
    "hedgehog": (0.18, 0.0, "round", "spiked", 0.3), "lizard": (0.18, 0.0, "none", "long", 0.35),
}


class _Pen:
    """Maps figure coordinates (units of the figure height, x forward, y up) to sprite pixels:
    ``origin`` the feet, ``facing`` +1 right / -1 left, ``angle`` a turn about the feet (degrees,
    positive falls forward)."""

    def __init__(self, draw: ImageDraw.ImageDraw, origin: Pt, h: float, facing: int = 1, angle: float = 0.0) -> None:
        self.d, self.o, self.h, self.f = draw, origin, h, facing
        a = math.radians(angle)
        self.cos, self.sin = math.cos(a), math.sin(a)
        self.ys: list[float] = []
        self.xs: list[float] = []

    def p(self, x: float, y: float) -> Pt:
        x, y = x * self.f, y
        rx = x * self.cos + y * self.sin * self.f
        ry = -x * self.sin * self.f + y * self.cos
        px, py = self.o[0] + rx * self.h, self.o[1] - ry * self.h
        self.xs.append(px)
        self.ys.append(py)
        return px, py

    def poly(self, pts: Sequence[Pt], fill) -> None:
        self.d.polygon([self.p(*q) for q in pts], fill=fill)

    def line(self, pts: Sequence[Pt], fill, width: float) -> None:
        w = max(1, int(round(width * self.h)))
        q = [self.p(*pt) for pt in pts]
        self.d.line(q, fill=fill, width=w, joint="curve")
        r = w / 2.0
        for x, y in (q[0], q[-1]):
            self.d.ellipse([x - r, y - r, x + r, y + r], fill=fill)

    def circle(self, c: Pt, r: float, fill=None, outline=None, width: float = 0.0) -> None:
        x, y = self.p(*c)
        rr = r * self.h
        self.d.ellipse([x - rr, y - rr, x + rr, y + rr], fill=fill, outline=outline,
                       width=max(1, int(round(width * self.h))) if outline else 1)

    def ellipse(self, c: Pt, rx: float, ry: float, fill, n: int = 20, a0: float = 0.0, a1: float = 360.0) -> None:
        pts = [(c[0] + rx * math.cos(math.radians(a0 + (a1 - a0) * i / n)),
                c[1] + ry * math.sin(math.radians(a0 + (a1 - a0) * i / n))) for i in range(n + 1)]
        self.poly(pts, fill)


def _limb(start: Pt, a1: float, l1: float, a2: float, l2: float) -> tuple[Pt, Pt]:
    """Joint and end of a two-segment limb; angles in degrees from straight down, + forward."""
    j = (start[0] + l1 * math.sin(math.radians(a1)), start[1] - l1 * math.cos(math.radians(a1)))
    e = (j[0] + l2 * math.sin(math.radians(a2)), j[1] - l2 * math.cos(math.radians(a2)))
    return j, e


# pose -> (front leg, back leg, front arm, back arm, lean) with (upper, lower) angles in degrees
_POSES: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, float], tuple[float, float], float]] = {
    "stand": ((3, 0), (-3, 0), (8, 4), (-8, -4), 0),
    "look": ((3, 0), (-3, 0), (8, 4), (-8, -4), 0),
    "walk": ((24, 8), (-22, -4), (-22, -8), (22, 32), 2),
    "walk2": ((-8, -2), (10, 2), (10, 20), (-10, -16), 2),
    "run": ((55, -15), (-35, -80), (40, 110), (-45, 40), 12),
    "run2": ((-20, -70), (40, 5), (-40, 30), (45, 120), 12),
    "hold": ((3, 0), (-3, 0), (45, 95), (-8, -4), 0),
    "umbrella": ((3, 0), (-3, 0), (25, 150), (-8, -4), 0),
    "point": ((3, 0), (-3, 0), (120, 135), (-8, -4), 0),
    "embrace": ((5, 0), (-5, 0), (75, 110), (70, 115), 4),
    "fall": ((35, 20), (-30, 10), (150, 170), (130, 160), 0),
    "swim": ((10, 5), (-10, -5), (170, 175), (160, 170), 0),
    "fly": ((8, 0), (-8, 0), (95, 100), (85, 95), 0),
    "sit": ((90, 0), (85, 0), (25, 70), (20, 65), 0),
}


@dataclass
class Placed:
    """Where a figure landed on the world canvas: its box, its label's box and its hand."""

    name: str
    box: tuple[float, float, float, float]
    label_box: tuple[float, float, float, float] | None
    hand: Pt | None


def _human(pen: _Pen, lk: Look, c: dict[str, tuple], pose: str, look_up: bool, gaze: int) -> Pt:
    """A person (or robot, or mermaid) on ``pen``; returns the front hand in sprite pixels."""
    fl, bl, fa, ba, lean = _POSES.get(pose, _POSES["stand"])
    sit = pose == "sit"
    hip_y = 0.25 if sit else 0.47
    r = 0.09
    lean_dx = math.sin(math.radians(lean)) * 0.35
    neck = (lean_dx, hip_y + 0.35)
    head = (lean_dx * 1.1, hip_y + 0.44)
    sh_f, sh_b = (neck[0] + 0.02, neck[1] - 0.04), (neck[0] - 0.02, neck[1] - 0.04)
    hip = (0.0, hip_y)
    limb_w, arm_w = 0.075, 0.06
    top, bottom, skin = c["top"], c["bottom"], c["skin"]
    back_arm_col = _mix(top, (0, 0, 0), 0.18)
    back_leg_col = _mix(bottom, (0, 0, 0), 0.18)
    # Back limbs, then torso and front limbs.
    if lk.kind == "mermaid":
        tail = [(-0.08, hip_y), (0.08, hip_y), (0.06, 0.22), (0.0, 0.06), (-0.05, 0.2)]
        pen.poly(tail, bottom + (255,))
        pen.poly([(0.0, 0.08), (0.14, -0.02), (0.02, 0.02), (-0.12, -0.02)], bottom + (255,))
    else:
        kb, fb = _limb(hip, bl[0], 0.24, bl[1], 0.23)
        pen.line([hip, kb, fb], back_leg_col + (255,), limb_w)
        pen.line([fb, (fb[0] + 0.05, fb[1])], _mix(back_leg_col, (0, 0, 0), 0.4) + (255,), 0.045)
    eb, hb = _limb(sh_b, ba[0], 0.17, ba[1], 0.16)
    pen.line([sh_b, eb, hb], back_arm_col + (255,), arm_w)
    pen.circle(hb, 0.032, fill=skin + (255,))
    if "backpack" in lk.accessories:
        pen.poly([(-0.1 + lean_dx, neck[1] - 0.04), (-0.19 + lean_dx, neck[1] - 0.06), (-0.19, hip_y + 0.1),
                  (-0.08, hip_y + 0.08)], c["accent"] + (255,))
    if lk.garment == "robe" and not sit:
        pen.poly([(-0.11 + lean_dx, neck[1] - 0.02), (0.11 + lean_dx, neck[1] - 0.02), (0.16, 0.03), (-0.16, 0.03)],
                 _mix(top, (0, 0, 0), 0.1) + (255,))
    if lk.kind != "mermaid":
        kf, ff = _limb(hip, fl[0], 0.24, fl[1], 0.23)
        pen.line([hip, kf, ff], bottom + (255,), limb_w)
        pen.line([ff, (ff[0] + 0.05, ff[1])], _mix(bottom, (0, 0, 0), 0.4) + (255,), 0.045)
    torso = [(neck[0] - 0.11, neck[1] - 0.01), (neck[0] + 0.11, neck[1] - 0.01), (0.085, hip_y - 0.02),
             (-0.085, hip_y - 0.02)]
    if lk.kind == "robot":
        torso = [(neck[0] - 0.12, neck[1]), (neck[0] + 0.12, neck[1]), (0.1, hip_y - 0.02), (-0.1, hip_y - 0.02)]
    pen.poly(torso, top + (255,))
    if lk.garment == "dress" and not sit:
        pen.poly([(-0.09, hip_y + 0.04), (0.09, hip_y + 0.04), (0.17, hip_y - 0.24), (-0.17, hip_y - 0.24)], top + (255,))
    elif lk.garment == "coat" and not sit:
        pen.poly([(-0.095, hip_y + 0.02), (0.095, hip_y + 0.02), (0.11, hip_y - 0.16), (-0.11, hip_y - 0.16)], top + (255,))
    if "tie" in lk.accessories:
        pen.poly([(neck[0] - 0.015, neck[1] - 0.01), (neck[0] + 0.015, neck[1] - 0.01), (neck[0] + 0.02, neck[1] - 0.15),
                  (neck[0], neck[1] - 0.18), (neck[0] - 0.02, neck[1] - 0.15)], c["accent"] + (255,))
    if "scarf" in lk.accessories:
        pen.poly([(neck[0] - 0.09, neck[1] + 0.01), (neck[0] + 0.09, neck[1] + 0.01), (neck[0] + 0.09, neck[1] - 0.04),
                  (neck[0] - 0.09, neck[1] - 0.04)], c["accent"] + (255,))
    ef, hf = _limb(sh_f, fa[0], 0.17, fa[1], 0.16)
    pen.line([sh_f, ef, hf], top + (255,), arm_w)
    pen.circle(hf, 0.034, fill=skin + (255,))
    _head(pen, lk, c, head, r, look_up, gaze)
    return pen.p(*hf)


def _head(pen: _Pen, lk: Look, c: dict[str, tuple], head: Pt, r: float, look_up: bool, gaze: int) -> None:
    hx, hy = head
    ex = 0.3 * r * gaze  # eyes turn towards what the figure looks at
    ey = 0.25 * r if look_up else 0.0
    if lk.kind == "robot":
        pen.poly([(hx - r * 1.1, hy + r), (hx + r * 1.1, hy + r), (hx + r * 1.1, hy - r), (hx - r * 1.1, hy - r)],
                 c["hair"] + (255,))
        pen.line([(hx, hy + r), (hx, hy + r * 1.6)], c["accent"] + (255,), 0.012)
        pen.circle((hx, hy + r * 1.7), r * 0.2, fill=c["accent"] + (255,))
        for e in (-0.45, 0.45):
            pen.circle((hx + e * r + ex, hy + ey), r * 0.22, fill=c["eyes"] + (255,))
        return
    if lk.hair_style == "long":
        pen.poly([(hx - r * 1.15, hy + r * 0.9), (hx + r * 1.15, hy + r * 0.9), (hx + r * 1.2, hy - r * 2.2),
                  (hx - r * 1.2, hy - r * 2.2)], c["hair"] + (255,))
    pen.circle(head, r, fill=c["skin"] + (255,))
    if lk.hair_style != "bald":
        # Figure coordinates point up: angles 0-180 are the upper half (the hair), 180-360 the lower (a beard).
        pen.ellipse((hx, hy + r * 0.1), r * 1.05, r * 1.0, c["hair"] + (255,), n=16, a0=0, a1=180)
    if "beard" in lk.accessories:
        pen.ellipse((hx, hy - r * 0.25), r * 0.92, r * 0.8, c["hair"] + (255,), n=14, a0=180, a1=360)
        pen.ellipse((hx, hy - r * 0.3), r * 0.3, r * 0.12, (120, 60, 60, 255), n=8)
    for e in (-0.38, 0.38):
        pen.circle((hx + e * r + ex, hy - r * 0.05 + ey), r * 0.15, fill=c["eyes"] + (255,))
    if "glasses" in lk.accessories:
        for e in (-0.38, 0.38):
            pen.circle((hx + e * r + ex, hy - r * 0.05 + ey), r * 0.3, outline=(20, 20, 20, 255), width=r * 0.1)
        pen.line([(hx - 0.1 * r + ex, hy + ey), (hx + 0.1 * r + ex, hy + ey)], (20, 20, 20, 255), r * 0.08)
    if "hat" in lk.accessories or "helmet" in lk.accessories:
        pen.poly([(hx - r * 1.5, hy + r * 0.75), (hx + r * 1.5, hy + r * 0.75), (hx + r * 1.5, hy + r * 0.55),
                  (hx - r * 1.5, hy + r * 0.55)], c["accent"] + (255,))
        pen.poly([(hx - r * 0.85, hy + r * 1.6), (hx + r * 0.85, hy + r * 1.6), (hx + r * 0.85, hy + r * 0.6),
                  (hx - r * 0.85, hy + r * 0.6)], c["accent"] + (255,))
    elif "crown" in lk.accessories:
        pen.poly([(hx - r * 0.8, hy + r * 0.7), (hx - r * 0.8, hy + r * 1.5), (hx - r * 0.4, hy + r * 1.1),
                  (hx, hy + r * 1.6), (hx + r * 0.4, hy + r * 1.1), (hx + r * 0.8, hy + r * 1.5),
                  (hx + r * 0.8, hy + r * 0.7)], c["accent"] + (255,))


def _quadruped(pen: _Pen, sp: str, c: dict[str, tuple]) -> None:
    legs, neck, ears, tail, snout = _QUAD.get(sp, _QUAD["cat"])
    body, belly = c["top"] + (255,), c["accent"] + (255,)
    dark = _mix(c["top"], (0, 0, 0), 0.25) + (255,)
    bh = 1.0 - legs * 0.55  # body depth within the height
    by = legs * 0.55 + bh * 0.45
    L = 1.3 if sp not in ("horse", "deer", "elephant") else 1.2
    for lx, col in ((-0.42, dark), (0.35, dark), (-0.3, body), (0.48, body)):
        pen.line([(lx * L * 0.8, by), (lx * L * 0.8, 0.02)], col, 0.1 if sp != "elephant" else 0.18)
    pen.ellipse((0, by), L * 0.5, bh * 0.42, body)
    if sp in ("panda", "farm"):
        pen.ellipse((-0.1, by + 0.05), L * 0.2, bh * 0.2, belly)
    else:
        pen.ellipse((0.05, by - bh * 0.12), L * 0.3, bh * 0.18, belly)
    if tail in ("long", "thin", "curl"):
        pen.line([(-L * 0.48, by + 0.05), (-L * 0.7, by + 0.3), (-L * 0.75, by + 0.45 if tail == "curl" else by + 0.35)],
                 body, 0.05 if tail != "thin" else 0.025)
    elif tail in ("bushy", "mane", "spiked"):
        pen.poly([(-L * 0.45, by + 0.1), (-L * 0.85, by + 0.05), (-L * 0.9, by - 0.2), (-L * 0.5, by - 0.05)],
                 dark if tail == "mane" else body)
        if tail == "spiked":
            for k in range(4):
                x0 = -L * 0.4 + k * L * 0.22
                pen.poly([(x0, by + bh * 0.38), (x0 + 0.08, by + bh * 0.38 + 0.14), (x0 + 0.16, by + bh * 0.38)], belly)
    elif tail in ("puff", "tuft", "short"):
        pen.circle((-L * 0.5, by + 0.1), 0.09, fill=belly if tail == "puff" else dark)
    hr = 0.3 if sp not in ("horse", "deer", "elephant", "dragon", "dinosaur") else 0.22
    if sp == "elephant":
        hr = 0.34
    hx, hy = L * 0.5 + hr * 0.3 + neck * 0.4, by + bh * 0.3 + neck
    if neck > 0:
        pen.poly([(L * 0.3, by + bh * 0.35), (L * 0.45, by - bh * 0.2), (hx + hr * 0.2, hy - hr * 0.2),
                  (hx - hr * 0.5, hy + hr * 0.4)], body)
    if ears == "mane":
        pen.circle((hx - 0.05, hy), hr * 1.55, fill=dark)
    if ears == "pointed" or ears == "horns":
        for dx in (-0.5, 0.35):
            pen.poly([(hx + dx * hr - 0.06, hy + hr * 0.6), (hx + dx * hr + 0.1, hy + hr * 0.6),
                      (hx + dx * hr, hy + hr * (1.6 if ears == "pointed" else 1.9))], body if ears == "pointed" else belly)
    elif ears == "long":
        for dx in (-0.3, 0.2):
            pen.ellipse((hx + dx * hr, hy + hr * 1.5), 0.07, hr * 0.9, body)
    elif ears in ("round", "side"):
        for dx in (-0.6, 0.55):
            pen.circle((hx + dx * hr, hy + hr * 0.75), hr * 0.38, fill=dark if sp == "panda" else body)
    elif ears == "big":
        pen.ellipse((hx - hr * 0.55, hy), hr * 0.6, hr * 0.85, dark)
    elif ears == "antlers":
        for dx in (-0.3, 0.25):
            pen.line([(hx + dx * hr, hy + hr * 0.8), (hx + dx * hr - 0.08, hy + hr * 2.2)], (120, 90, 60, 255), 0.035)
            pen.line([(hx + dx * hr - 0.04, hy + hr * 1.5), (hx + dx * hr + 0.1, hy + hr * 1.9)], (120, 90, 60, 255), 0.03)
    pen.circle((hx, hy), hr, fill=body)
    if snout > 0:
        pen.ellipse((hx + hr * 0.7 + snout * 0.3, hy - hr * 0.25), hr * 0.35 + snout * 0.35, hr * 0.45, body)
        pen.circle((hx + hr * 0.95 + snout * 0.6, hy - hr * 0.15), hr * 0.14, fill=(35, 28, 28, 255))
    if ears == "floppy":
        pen.ellipse((hx - hr * 0.5, hy + hr * 0.05), hr * 0.3, hr * 0.7, dark)
    if sp == "elephant":
        pen.line([(hx + hr * 0.7, hy - hr * 0.1), (hx + hr * 1.1, hy - hr * 0.9), (hx + hr * 1.0, by - 0.1)], body, 0.11)
        pen.line([(hx + hr * 0.6, hy - hr * 0.5), (hx + hr * 1.0, hy - hr * 0.75)], (240, 235, 220, 255), 0.04)
    if sp == "dragon":
        pen.poly([(-0.05, by + bh * 0.4), (-0.55, by + 0.9), (0.0, by + 0.55), (0.2, by + bh * 0.4)], belly)
    pen.circle((hx + hr * 0.35, hy + hr * 0.2), hr * 0.13, fill=c["eyes"] + (255,))
    if sp == "panda":
        pen.circle((hx + hr * 0.35, hy + hr * 0.2), hr * 0.24, fill=(30, 30, 30, 255))
        pen.circle((hx + hr * 0.35, hy + hr * 0.2), hr * 0.09, fill=(240, 240, 240, 255))


def _whale(pen: _Pen, c: dict[str, tuple], spout: bool) -> None:
    body, belly = c["top"] + (255,), c["accent"] + (255,)
    # Long body (3x its depth), a forked fluke, a pale belly, a small eye and a mouth line; no legs, no ears.
    pen.poly([(-1.4, 0.55), (-1.75, 0.95), (-1.55, 0.6), (-1.95, 0.35), (-1.4, 0.45)], body)
    pen.ellipse((0.0, 0.5), 1.5, 0.5, body, n=28)
    pen.ellipse((0.35, 0.3), 1.0, 0.2, belly, n=20, a0=0, a1=180)
    pen.poly([(-0.1, 0.3), (0.25, 0.05), (0.35, 0.28)], _mix(c["top"], (0, 0, 0), 0.25) + (255,))
    pen.line([(0.85, 0.4), (1.35, 0.45)], (30, 30, 40, 255), 0.025)
    pen.circle((1.0, 0.58), 0.05, fill=(20, 20, 25, 255))
    if spout:
        for dx, top in ((-0.05, 1.5), (0.05, 1.45), (0.0, 1.6)):
            pen.line([(0.6, 0.98), (0.6 + dx * 4, top)], (225, 240, 250, 220), 0.06)


def _fish(pen: _Pen, sp: str, c: dict[str, tuple]) -> None:
    body, belly = c["top"] + (255,), c["accent"] + (255,)
    pen.poly([(-0.9, 0.5), (-1.4, 0.85), (-1.3, 0.5), (-1.4, 0.15)], body)
    pen.ellipse((0.0, 0.5), 1.0, 0.42, body, n=24)
    pen.ellipse((0.1, 0.35), 0.7, 0.15, belly, n=16, a0=0, a1=180)
    pen.poly([(-0.2, 0.88), (0.2, 1.25 if sp == "dolphin" else 1.05), (0.3, 0.86)], body)
    if sp == "dolphin":
        pen.ellipse((1.05, 0.4), 0.35, 0.12, body)
    pen.circle((0.6, 0.6), 0.08, fill=(20, 20, 25, 255))


def _bird(pen: _Pen, sp: str, c: dict[str, tuple], flying: bool) -> None:
    body, belly = c["top"] + (255,), c["accent"] + (255,)
    if sp == "penguin":
        pen.ellipse((0, 0.45), 0.3, 0.45, body)
        pen.ellipse((0.06, 0.42), 0.2, 0.35, (240, 240, 240, 255))
        pen.circle((0.02, 0.92), 0.2, fill=body)
        pen.poly([(0.18, 0.95), (0.36, 0.9), (0.18, 0.86)], (240, 150, 40, 255))
        pen.circle((0.1, 0.97), 0.04, fill=(250, 250, 250, 255))
        pen.poly([(-0.1, 0.0), (0.1, 0.0), (0.0, 0.06)], (240, 150, 40, 255))
        return
    y = 0.5
    if flying:
        pen.poly([(-0.2, y + 0.1), (-0.6, y + 0.9), (0.15, y + 0.15)], body)
        pen.poly([(-0.1, y + 0.05), (0.5, y + 0.8), (0.25, y + 0.1)], _mix(c["top"], (0, 0, 0), 0.2) + (255,))
    else:
        for lx in (-0.08, 0.08):
            pen.line([(lx, y - 0.3), (lx, 0.0)], (220, 150, 50, 255), 0.03)
    pen.ellipse((0, y), 0.45, 0.3, body)
    pen.poly([(-0.4, y + 0.05), (-0.75, y + 0.2), (-0.7, y - 0.05)], body)
    pen.ellipse((0.05, y - 0.08), 0.28, 0.15, belly)
    pen.circle((0.38, y + 0.3), 0.2, fill=body)
    pen.poly([(0.55, y + 0.33), (0.8, y + 0.28), (0.55, y + 0.24)], (240, 170, 40, 255))
    pen.circle((0.44, y + 0.35), 0.045, fill=(20, 20, 20, 255))
    if not flying:
        pen.poly([(-0.25, y + 0.1), (0.15, y + 0.12), (0.05, y - 0.12)], _mix(c["top"], (0, 0, 0), 0.2) + (255,))


def _small_creature(pen: _Pen, sp: str, c: dict[str, tuple]) -> None:
    body, belly = c["top"] + (255,), c["accent"] + (255,)
    if sp == "turtle":
        for lx in (-0.5, 0.4):
            pen.circle((lx, 0.12), 0.14, fill=_mix(c["top"], (200, 200, 120), 0.4) + (255,))
        pen.ellipse((0, 0.3), 0.75, 0.5, body, n=20, a0=180, a1=360)
        pen.circle((0.85, 0.35), 0.18, fill=_mix(c["top"], (200, 200, 120), 0.4) + (255,))
        pen.circle((0.9, 0.4), 0.04, fill=(20, 20, 20, 255))
    elif sp == "frog":
        pen.ellipse((0, 0.35), 0.6, 0.35, body)
        for ex in (-0.2, 0.25):
            pen.circle((ex, 0.75), 0.17, fill=body)
            pen.circle((ex, 0.78), 0.08, fill=(20, 20, 20, 255))
        pen.ellipse((0.0, 0.25), 0.4, 0.15, belly)
    elif sp == "butterfly":
        for s in (-1, 1):
            pen.ellipse((s * 0.35, 0.65), 0.35, 0.3, body)
            pen.ellipse((s * 0.25, 0.25), 0.25, 0.2, belly)
        pen.line([(0, 0.1), (0, 0.9)], (30, 30, 30, 255), 0.07)
    else:  # snake
        pts = [(x / 10.0 - 1.0, 0.12 + 0.1 * math.sin(x * 0.9)) for x in range(20)]
        pen.line(pts, body, 0.16)
        pen.circle((pts[-1][0] + 0.08, pts[-1][1] + 0.05), 0.14, fill=body)
        pen.circle((pts[-1][0] + 0.12, pts[-1][1] + 0.1), 0.03, fill=(20, 20, 20, 255))


def draw_creature(draw: ImageDraw.ImageDraw, sp: str, c: dict[str, tuple], x: float, feet: float, h: float,
                  facing: int, action: str, in_water: bool) -> _Pen:
    """Draw one creature of species ``sp`` (body height ``h`` px) with its feet (or belly) at (x, feet)."""
    angle = 70.0 if action == "fall" and sp not in ("whale", "fish", "dolphin", "bird", "butterfly") else 0.0
    pen = _Pen(draw, (x, feet), h, facing, angle)
    if sp == "whale":
        _whale(pen, c, spout=in_water)
    elif sp in ("fish", "dolphin"):
        _fish(pen, sp, c)
    elif sp in ("bird", "penguin"):
        _bird(pen, sp, c, flying=action == "fly" or (sp == "bird" and not in_water and action in ("fly", "run")))
    elif sp in ("turtle", "frog", "butterfly", "snake"):
        _small_creature(pen, sp, c)
    else:
        _quadruped(pen, sp, c)
    return pen


def _pose(action: str, lk: Look, phase: int, holds: str | None) -> str:
    if action in ("walk", "run"):
        return action + ("2" if phase else "")
    if holds == "umbrella":
        return "umbrella"
    if holds:
        return "hold"
    return action if action in _POSES else "stand"


def _lit(colours: dict[str, tuple], light: tuple, lift: float) -> dict[str, tuple]:
    return {s: _clamp(v * lv / 255.0 * lift + 12 * (1 - lift) for v, lv in zip(col, light)) for s, col in colours.items()}


def layout(looks: Sequence[Look], framing: str, scene: Scene, rng: np.random.Generator) -> list[tuple[float, int]]:
    """(x as a fraction of the frame width, facing) of each shown figure: side by side for a walk
    together, close and facing for an embrace, facing each other when they look or talk."""
    n = len(looks)
    if n == 0:
        return []
    if framing == "close":
        xs = [0.5] if n == 1 else [0.36, 0.7]
    elif scene.action == "embrace" and n >= 2:
        xs = [0.43, 0.57] + list(np.linspace(0.15, 0.85, n - 2 + 2)[1:-1] if n > 2 else [])
        xs = xs[:n]
    elif (scene.together or scene.action in ("walk", "run")) and n >= 2:
        gap = 0.16 if framing == "wide" else 0.26
        xs = [0.5 + (i - (n - 1) / 2) * gap for i in range(n)]
    else:
        xs = [0.5] if n == 1 else list(np.linspace(0.27, 0.73, n))
    out = []
    for i, x in enumerate(xs):
        x = float(x) + float(rng.uniform(-0.015, 0.015))
        if scene.action in ("walk", "run", "swim", "fly"):
            facing = 1
        elif n >= 2 and scene.action in ("look", "embrace", "stand", "hold", "point"):
            facing = 1 if x < 0.5 else -1
        else:
            facing = 1 if rng.random() < 0.5 else -1
        out.append((x, facing))
    return out


def _draw_figures(looks: list[Look], framing: str, scene: Scene, pal: dict[str, RGB], bright: float,
                  vx: Callable[[float], float], vy: Callable[[float], float], rng: np.random.Generator,
                  W: int, H: int, WW: int, WH: int, phase: int = 0, ground: float = 0.8,
                  in_water: bool = False) -> tuple[Image.Image | None, tuple[int, int], list[Placed]]:
    """All characters (and the props they hold) on one transparent sprite (cropped to their box),
    lit by the scene. ``phase`` picks the walk cycle's other step. Returns the sprite, its world
    position and where each figure and label landed."""
    if not looks and not scene.props:
        return None, (0, 0), []
    layer = Image.new("RGBA", (WW, WH), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    shown = looks[:2] if framing == "close" else looks[:MAX_LEGEND]
    places = layout(shown, framing, scene, rng)
    light = pal["light"]
    lift = 0.35 + 0.65 * bright  # figures stay readable at night
    placed: list[Placed] = []
    held = [p for p in scene.props if p.held]
    actor = next((i for i, lk in enumerate(shown) if lk.name == scene.actor), 0)
    overhead = next((p for p in scene.props if p.overhead), None)
    hands: list[Pt] = []
    grounds = [rng.uniform(-0.02, 0.02) if framing == "wide" else 0.0 for _ in shown]
    # Creatures bigger than a person are drawn first (behind): a whale never hides the keeper.
    order = sorted(range(len(shown)), key=lambda i: -(shown[i].kind == "animal"
                                                      and SPECIES_SIZE.get(shown[i].species or "", 0.0) >= 0.65))
    bodies: dict[int, tuple[float, float, float, float, float | None, Pt | None]] = {}
    for i in order:
        lk = shown[i]
        fx, facing = places[i]
        x = vx(fx)
        if framing == "wide":
            h, feet = H * 0.34, vy(ground + grounds[i])
        elif framing == "medium":
            h, feet = H * 1.05, vy(1.22)
        else:
            h, feet = H * 2.3 * (1.0 if i == 0 else 0.8), vy(2.42)
        if lk.kind != "animal" and framing != "close":
            h *= lk.scale  # a child: shorter, on the same floor
        holds = held[0].kind if held and i == actor else None
        if overhead is not None and i == actor:
            holds = "umbrella"
        action = scene.action_of(lk.name, len(shown) == 1)
        if lk.kind == "animal" and lk.species:
            size = SPECIES_SIZE.get(lk.species, 0.4) * lk.scale
            bh = h * size
            if framing != "wide":
                bh = min(bh, H * (0.45 if lk.species == "whale" else 0.6))
                feet = vy(0.97 if framing == "medium" else 1.0)
            if in_water and lk.species in ("whale", "dolphin", "fish"):
                feet = vy(0.74 if framing == "wide" else 0.9)
            length = {"whale": 3.3, "fish": 2.3, "dolphin": 2.6}.get(lk.species, 1.8)
            bh = min(bh, W * 0.8 / length)
            pen = draw_creature(draw, lk.species, _lit(lk.colours, light, lift), x, feet, bh, facing, action, in_water)
            hand = None
        else:
            pose = _pose(action, lk, phase, holds)
            angle = {"fall": 65.0, "swim": 80.0}.get(action, 0.0) if lk.kind != "mermaid" else (
                70.0 if action == "swim" else 0.0)
            if framing == "close":
                angle = 0.0  # a close-up frames the face upright; turned, the body would leave the frame
            origin_y = feet - (h * 0.3 if action == "fly" else 0) - (h * 0.35 if angle else 0)
            if action == "sit" and framing == "close":
                origin_y -= h * 0.22  # a close-up frames the face, seated or not
            pen = _Pen(draw, (x, origin_y), h, facing, angle)
            gaze = facing if action in ("look", "walk", "run", "embrace", "hold", "point") or len(shown) > 1 else 0
            if action == "sit":
                seat = _mix(pal.get("prop", (90, 70, 60)), (0, 0, 0), 0.1)
                pen.poly([(-0.22, 0.25), (0.3, 0.25), (0.3, 0.2), (-0.22, 0.2)], seat + (255,))
                pen.line([(-0.18, 0.2), (-0.18, 0.0)], seat + (255,), 0.03)
                pen.line([(0.26, 0.2), (0.26, 0.0)], seat + (255,), 0.03)
            hand = _human(pen, lk, _lit(lk.colours, light, lift), pose, scene.look_up, gaze)
            if holds and hand is not None:
                prop = held[0] if held and held[0].kind == holds else overhead
                colour = prop.colour if prop is not None and prop.colour else PROP_COLOURS.get(holds, (200, 200, 200))
                draw_prop(draw, holds, hand, h, _lit({"c": colour}, light, lift)["c"], facing,
                          overhead=overhead is not None and holds == "umbrella",
                          span=(0.26 if framing != "close" else 0.2) * W * (len(shown) if overhead else 1))
            hands.append(hand)
        bodies[i] = (min(pen.xs), min(pen.ys), max(pen.xs), max(pen.ys),
                     h if lk.kind != "animal" else max(h * 0.5, H * 0.2), hand)
    for i, lk in enumerate(shown):  # labels last, over every body
        x0, y0, x1, y1, lh, hand = bodies[i]
        label = _label(draw, lk.name, (x0 + x1) / 2, y0, lh, vx, vy, W, H)
        placed.append(Placed(lk.name, (x0, y0, x1, y1), label, hand))
    box = layer.getbbox()
    if box is None:
        return None, (0, 0), placed
    return layer.crop(box), (box[0], box[1]), [
        Placed(p.name, _shift(p.box, box), _shift(p.label_box, box) if p.label_box else None,
               (p.hand[0] - box[0], p.hand[1] - box[1]) if p.hand else None) for p in placed]


def _shift(b: tuple[float, float, float, float], box: tuple[int, int, int, int]) -> tuple[float, float, float, float]:
    return b[0] - box[0], b[1] - box[1], b[2] - box[0], b[3] - box[1]


def _label(draw: ImageDraw.ImageDraw, name: str, cx: float, top: float, h: float,
           vx: Callable[[float], float], vy: Callable[[float], float], W: int, H: int):
    """The name above the figure, kept inside the frame (with room for the camera's move) and over
    the figure: never clipped, never floating away."""
    size = int(np.clip(h * 0.09, 10, H * 0.055))
    f = face(size)
    tw = f.getlength(name)
    lo, hi = vx(0.06) + tw / 2, vx(0.94) - tw / 2
    x = min(max(cx, lo), hi) if lo <= hi else vx(0.5)
    y = max(vy(0.1), top - size * 1.4)
    return f.draw(draw, (x, y), name, fill=(255, 255, 255, 255), anchor="mt", stroke_width=max(1, size // 8),
                  stroke_fill=(0, 0, 0, 255))
