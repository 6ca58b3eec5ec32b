"""The cast legend: drawn on every frame (per character two ID chips from a hash of the name and one
chip per colour slot), read back from memory images; and sampling a reference photo without one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

from engine.preview.captions import _font, caption_band_max
from engine.preview.colour import RGB, _hash_bytes, snap
from engine.preview.looks import SLOTS, Look


def legend_id(name: str) -> tuple[RGB, RGB]:
    """The two ID chip colours of a character in the cast legend (from a hash of the name).
    Channels stay at 64 or above, so a dark picture is never mistaken for a legend."""
    h = _hash_bytes("dailies-legend-id", name.casefold().strip())
    ch = [snap([64 + v * 184 / 255.0])[0] for v in h[:6]]
    return (ch[0], ch[1], ch[2]), (ch[3], ch[4], ch[5])


@dataclass(frozen=True)
class LegendGeometry:
    """Where the cast legend's chips sit in an image of height ``height``."""

    height: int

    @property
    def chip(self) -> int:
        return max(6, round(self.height * 0.034))

    @property
    def margin(self) -> int:
        return max(3, self.chip // 2)

    @property
    def gap(self) -> int:
        return max(2, self.chip // 4)

    def chip_box(self, entry: int, index: int) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) of chip ``index`` (0-1 ID, 2-7 the slots) of legend entry ``entry``."""
        e = self.chip
        x0 = self.margin + index * e + (self.gap if index >= 2 else 0)
        y0 = self.margin + entry * (e + self.gap)
        return x0, y0, x0 + e, y0 + e

    def separator_box(self, entry: int) -> tuple[int, int, int, int]:
        """The plate gap between the ID chips and the slot chips (always dark)."""
        x0, y0, _, y1 = self.chip_box(entry, 1)
        return x0 + self.chip, y0, x0 + self.chip + self.gap, y1


MAX_LEGEND = 6
"""At most this many characters are listed in the legend (and read back)."""
PLATE = (12, 12, 12)


def _chip_colour(img: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    q = max(1, (x1 - x0) // 4)
    patch = img[y0 + q: y1 - q, x0 + q: x1 - q].reshape(-1, 3)  # (P, 3)
    return np.median(patch, axis=0)


def read_legend(image: np.ndarray, names: Sequence[str]) -> dict[str, dict[str, RGB]]:
    """The slot colours of the characters ``names`` found in the cast legend of ``image``
    ``(H, W, 3)``; characters not found (or no legend at all) are absent from the result."""
    geo = LegendGeometry(image.shape[0])
    found: dict[str, dict[str, RGB]] = {}
    ids = {n: legend_id(n) for n in names}
    for entry in range(MAX_LEGEND):
        _, _, x_end, y_end = geo.chip_box(entry, len(SLOTS) + 1)
        if y_end > image.shape[0] or x_end > image.shape[1]:
            break
        sx0, sy0, sx1, sy1 = geo.separator_box(entry)
        if image[sy0:sy1, sx0:sx1].max() > 60:  # no dark plate: no legend entry here
            break
        got = (_chip_colour(image, geo.chip_box(entry, 0)), _chip_colour(image, geo.chip_box(entry, 1)))
        best, best_err = None, 40.0
        for name, (a, b) in ids.items():
            err = max(np.abs(got[0] - a).max(), np.abs(got[1] - b).max())
            if err < best_err and name not in found:
                best, best_err = name, err
        if best is None:
            continue
        found[best] = {s: snap(_chip_colour(image, geo.chip_box(entry, 2 + k))) for k, s in enumerate(SLOTS)}
    return found


def legend_entries(image: np.ndarray) -> int:
    """How many cast legend entries ``image`` ``(H, W, 3)`` shows (0: none)."""
    geo = LegendGeometry(image.shape[0])
    for entry in range(MAX_LEGEND):
        _, _, x_end, y_end = geo.chip_box(entry, len(SLOTS) + 1)
        sx0, sy0, sx1, sy1 = geo.separator_box(entry)
        if y_end > image.shape[0] or x_end > image.shape[1] or image[sy0:sy1, sx0:sx1].max() > 60:
            return entry
    return MAX_LEGEND


def overlay_areas(image: np.ndarray) -> np.ndarray:
    """Where a preview frame ``(H, W, 3)`` may carry its overlays, ``(H, W)`` uint8 (255 there): the
    cast legend it shows (top left), the header row (top) and the tallest caption band (bottom).
    A continuation never moves these into its picture (they belong to the previous shot)."""
    H, W = image.shape[:2]
    out = np.zeros((H, W), np.uint8)
    n = legend_entries(image)
    if n:
        geo = LegendGeometry(H)
        out[:min(H, geo.chip_box(n - 1, 0)[3] + geo.margin), :int(W * 0.6)] = 255
    out[:int(max(7, round(H / 40.0)) * 1.6) + 1] = 255  # the header
    out[H - caption_band_max(W, H):] = 255
    return out


def sample_reference(image: np.ndarray) -> dict[str, RGB]:
    """Colours of a single-character image without a legend (a reference photo): the body (top)
    from the median of a centre box, the hair from a box at the top centre."""
    h, w = image.shape[:2]
    body = image[int(h * 0.45): int(h * 0.8), int(w * 0.35): int(w * 0.65)].reshape(-1, 3)
    hair = image[int(h * 0.06): int(h * 0.22), int(w * 0.4): int(w * 0.6)].reshape(-1, 3)
    return {"top": snap(np.median(body, axis=0)), "hair": snap(np.median(hair, axis=0))}


def _fit(text: str, font, width: float) -> str:
    """``text`` cut at a word (with an ellipsis) to fit ``width`` px."""
    if font.getlength(text) <= width:
        return text
    words = text.split(" ")
    while len(words) > 1 and font.getlength(" ".join(words) + "…") > width:
        words.pop()
    out = " ".join(words)
    while len(out) > 1 and font.getlength(out + "…") > width:
        out = out[:-1]
    return out.rstrip(" ,;") + "…"


def _legend_overlay(looks: list[Look], W: int, H: int,
                    details: dict[str, str] | None = None) -> tuple[int, int, np.ndarray, np.ndarray]:
    """The legend: per character its chips, its name and its details (the bible's appearance and
    attire, cut to fit about half the frame width)."""
    geo = LegendGeometry(H)
    shown = looks[:MAX_LEGEND]
    font = _font(geo.chip * 0.8)
    text_x = geo.chip_box(0, len(SLOTS) + 2)[0] + geo.gap
    room = max(0.0, W * 0.55 - text_x)
    texts = {lk.name: _fit(f"{lk.name} · {details[lk.name]}" if details and details.get(lk.name) else lk.name, font, room)
             if font.getlength(lk.name) < room else lk.name for lk in shown}
    width = min(W, int(text_x + max(font.getlength(texts[lk.name]) for lk in shown) + geo.gap * 2))
    height = min(H, geo.chip_box(len(shown) - 1, 0)[3] + geo.margin)
    img = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rectangle([0, 0, width - 1, height - 1], fill=PLATE + (255,))
    for e, lk in enumerate(shown):
        ids = legend_id(lk.name)
        cols = list(ids) + [lk.colours[s] for s in SLOTS]
        for k, c in enumerate(cols):
            x0, y0, x1, y1 = geo.chip_box(e, k)
            d.rectangle([x0, y0, x1 - 1, y1 - 1], fill=c + (255,))
        y0 = geo.chip_box(e, 0)[1]
        font.draw(d, (text_x, y0 + geo.chip / 2), texts[lk.name], fill=(235, 235, 235, 255), anchor="lm")
    arr = np.asarray(img, np.float32)
    return 0, 0, arr[..., :3], arr[..., 3:] / 255.0
