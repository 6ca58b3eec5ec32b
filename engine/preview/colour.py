"""Colour helpers: RGB tuples, mixing, clamping and lighting, the look lattice (:func:`snap`) and the
hash that names and seeds are turned into colours and generators with."""

from __future__ import annotations

import colorsys
import hashlib
from typing import Iterable, Sequence

RGB = tuple[int, int, int]


def _mix(a: Sequence[float], b: Sequence[float], t: float) -> RGB:
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b))  # type: ignore[return-value]


def _clamp(c: Iterable[float]) -> RGB:
    return tuple(int(min(255, max(0, round(v)))) for v in c)  # type: ignore[return-value]


def _lit(c: Sequence[float], light: Sequence[float], brightness: float) -> RGB:
    return _clamp(v * l / 255.0 * brightness for v, l in zip(c, light))


def snap(c: Sequence[float]) -> RGB:
    """Snap a colour to the look lattice (channels 8, 24, ..., 248): legend chips read back exactly
    through PNG or H.264 (errors under 8 levels), so looks never drift from shot to shot."""
    return tuple(int(min(248, max(8, round((v - 8) / 16.0) * 16 + 8))) for v in c)  # type: ignore[return-value]


def _hash_bytes(*parts: str) -> bytes:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()


def _hsv(h: float, s: float, v: float) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return (int(r * 255), int(g * 255), int(b * 255))
