"""Scene palettes: sky and light by time of day, ground colours by setting, mood grades, and the
mean colour of an image region (what memory pulls a palette towards)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from engine.preview.colour import RGB, _clamp


@dataclass(frozen=True)
class TimePalette:
    sky_top: RGB
    sky_horizon: RGB
    light: RGB
    brightness: float
    celestial: str | None  # sun_low_left, sun_morning, sun_high, sun_afternoon, sun_low_right, moon


TIME_PALETTES: dict[str, TimePalette] = {
    "dawn": TimePalette((60, 70, 130), (245, 170, 140), (255, 205, 175), 0.80, "sun_low_left"),
    "morning": TimePalette((105, 165, 230), (225, 225, 210), (255, 242, 220), 0.95, "sun_morning"),
    "day": TimePalette((65, 135, 225), (180, 215, 245), (255, 255, 250), 1.00, "sun_high"),
    "afternoon": TimePalette((85, 145, 215), (235, 215, 170), (255, 235, 200), 0.95, "sun_afternoon"),
    "golden": TimePalette((85, 80, 160), (255, 150, 70), (255, 185, 120), 0.85, "sun_low_right"),
    "dusk": TimePalette((40, 40, 95), (205, 115, 120), (205, 160, 175), 0.65, None),
    "evening": TimePalette((28, 32, 75), (110, 85, 130), (200, 175, 160), 0.55, None),
    "night": TimePalette((6, 8, 28), (22, 32, 66), (130, 150, 210), 0.42, "moon"),
    "moonlight": TimePalette((10, 16, 40), (40, 60, 100), (150, 175, 230), 0.50, "moon"),
    "neutral": TimePalette((125, 150, 185), (205, 208, 212), (250, 250, 250), 0.92, None),
}

# setting -> (far ground, near ground)
GROUND_COLOURS: dict[str, tuple[RGB, RGB]] = {
    "garden": ((105, 150, 75), (70, 125, 50)), "forest": ((55, 95, 50), (40, 72, 36)),
    "city": ((125, 125, 130), (88, 88, 94)), "water": ((60, 120, 170), (215, 195, 150)),
    "desert": ((228, 200, 150), (210, 178, 128)), "mountain": ((135, 125, 112), (105, 96, 86)),
    "snow": ((232, 238, 245), (215, 225, 236)), "underwater": ((40, 120, 140), (170, 150, 110)),
    "space": ((110, 110, 118), (140, 140, 146)), "stage": ((120, 115, 110), (95, 90, 86)),
}
WALL, FLOOR = (214, 198, 176), (150, 106, 72)

# place -> (far ground, near ground) where it differs from its family's
PLACE_GROUND: dict[str, tuple[RGB, RGB]] = {
    "sea": ((50, 110, 160), (40, 95, 140)), "harbour": ((55, 115, 160), (120, 90, 60)),
    "beach": ((60, 120, 170), (220, 200, 155)), "lighthouse": ((60, 120, 170), (200, 185, 150)),
    "river": ((105, 150, 75), (80, 130, 60)), "market": ((110, 100, 95), (80, 75, 72)),
}
# interior place -> (wall, floor)
INTERIOR_COLOURS: dict[str, tuple[RGB, RGB]] = {
    "library": ((150, 110, 75), (110, 75, 50)), "kitchen": ((230, 220, 195), (185, 180, 170)),
    "subway": ((205, 210, 212), (95, 98, 104)), "castle": ((128, 122, 114), (96, 90, 84)),
    "classroom": ((222, 215, 190), (160, 120, 80)), "spaceship": ((150, 160, 172), (78, 84, 96)),
    "cafe": ((190, 140, 100), (120, 80, 55)), "office": ((215, 215, 210), (120, 120, 125)),
    "bedroom": ((200, 185, 205), (150, 110, 80)), "church": ((175, 165, 150), (120, 110, 100)),
    "room": (WALL, FLOOR),
}

# mood -> (tint, tint strength, saturation factor, brightness factor)
MOOD_GRADES: dict[str, tuple[RGB, float, float, float]] = {
    "warm": ((255, 170, 90), 0.18, 1.05, 1.02), "cold": ((120, 170, 255), 0.20, 0.90, 0.97),
    "gloomy": ((90, 95, 110), 0.25, 0.60, 0.80), "cheerful": ((255, 230, 150), 0.08, 1.25, 1.08),
    "tense": ((150, 40, 40), 0.12, 0.85, 0.85), "mysterious": ((90, 60, 160), 0.20, 0.85, 0.85),
    "romantic": ((255, 140, 170), 0.15, 1.05, 1.00), "calm": ((200, 215, 230), 0.08, 0.90, 1.00),
    "dim": ((40, 40, 50), 0.00, 0.90, 0.75), "neon": ((220, 40, 200), 0.20, 1.30, 0.85),
    "rain": ((110, 120, 140), 0.25, 0.70, 0.80), "snow": ((220, 230, 245), 0.20, 0.80, 1.05),
    "fog": ((200, 205, 210), 0.30, 0.70, 1.00), "motes": ((255, 240, 200), 0.03, 1.00, 1.00),
}


def _grade(c: Sequence[float], moods: Sequence[str]) -> RGB:
    """Apply mood grades: tint, saturation around luma, brightness."""
    out = [float(v) for v in c]
    for m in moods:
        tint, strength, sat, bright = MOOD_GRADES[m]
        out = [v + (t - v) * strength for v, t in zip(out, tint)]
        luma = 0.2126 * out[0] + 0.7152 * out[1] + 0.0722 * out[2]
        out = [(luma + (v - luma) * sat) * bright for v in out]
    return _clamp(out)


def _region_mean(img: np.ndarray, y0: float, y1: float) -> np.ndarray:
    """Mean colour of the rows ``y0..y1`` (fractions of height), sampled sparsely."""
    h = img.shape[0]
    band = img[int(h * y0): max(int(h * y0) + 1, int(h * y1)): 2, ::2].reshape(-1, 3)
    return band.astype(np.float32).mean(axis=0)
