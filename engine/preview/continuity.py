"""The scene code: a strip of small colour chips at the top right of every preview frame that
records the shot's world (place, framing, time, drawn flags, world seed, palette) and where the
camera is. A continuation (cut=false: MI2V/MM2V) reads it from the previous shot's last frame and
redraws the very same world, starting its camera where the previous shot's ended, as the cast
legend carries each character's look.

Each chip holds 12 bits (4 per channel on the look lattice 8, 24, ..., 248, read back exactly from
PNG); the first chip is a fixed tag and the last a checksum, so other images never decode.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.preview.colour import RGB, _hash_bytes, snap
from engine.preview.palette import TIME_PALETTES
from engine.preview.scene import PLACE_KEYS

TAG = 0xA5C
PALETTE_KEYS = ("sky_top", "sky_horizon", "ground_far", "ground_near", "wall", "floor", "prop", "light")
FLAG_KEYS = ("neon", "fog", "space_view", "rain", "snow")
FRAMINGS = ("wide", "medium", "close")
TIMES = tuple(TIME_PALETTES)
PLACES = ("stage",) + PLACE_KEYS
N_CHIPS = 8 + len(PALETTE_KEYS) + 1


@dataclass(frozen=True)
class SceneCode:
    """A shot's world and where its camera ended (view centre offset from the world centre as a
    fraction of the frame size, and view scale)."""

    place: str
    framing: str
    time: str
    flags: tuple[str, ...]
    seed: int
    palette: dict[str, RGB]
    view: tuple[float, float, float] = (0.0, 0.0, 1.0)


def chip_size(H: int) -> int:
    """Chip edge in px: about H/40 (12 px at 480), big enough to survive H.264's 4:2:0 chroma."""
    return max(2, round(H / 40))


def _to_rgb(v: int) -> RGB:
    return ((v >> 8 & 15) * 16 + 8, (v >> 4 & 15) * 16 + 8, (v & 15) * 16 + 8)


def _from_rgb(c) -> int:
    q = [min(15, max(0, int(round((float(x) - 8) / 16.0)))) for x in c]
    return q[0] << 8 | q[1] << 4 | q[2]


def _checksum(values: list[int]) -> int:
    h = _hash_bytes("dailies-scene-code", ",".join(map(str, values)))
    return (h[0] << 4 | h[1] >> 4) & 0xFFF


def encode(code: SceneCode) -> list[int]:
    """The chip values (12 bits each) of ``code``."""
    flags = sum(1 << i for i, k in enumerate(FLAG_KEYS) if k in code.flags)
    vals = [
        PLACES.index(code.place) << 6 | FRAMINGS.index(code.framing) << 4 | TIMES.index(code.time),
        flags,
        code.seed >> 12 & 0xFFF, code.seed & 0xFFF,
        int(min(4095, max(0, round(code.view[0] * 2048 + 2048)))),
        int(min(4095, max(0, round(code.view[1] * 2048 + 2048)))),
        int(min(4095, max(0, round((code.view[2] - 0.5) * 4096)))),
    ]
    vals += [_from_rgb(code.palette[k]) for k in PALETTE_KEYS]
    return [TAG] + vals + [_checksum(vals)]


def quantise(code: SceneCode) -> SceneCode:
    """``code`` as it reads back (palette on the lattice, view rounded)."""
    out = decode_values(encode(code))
    assert out is not None
    return out


def decode_values(vals: list[int]) -> SceneCode | None:
    if len(vals) != N_CHIPS or vals[0] != TAG or _checksum(vals[1:-1]) != vals[-1]:
        return None
    head, flags = vals[1], vals[2]
    p, f, t = head >> 6, head >> 4 & 3, head & 15
    if p >= len(PLACES) or f >= len(FRAMINGS) or t >= len(TIMES):
        return None
    palette = {k: _to_rgb(v) for k, v in zip(PALETTE_KEYS, vals[8:8 + len(PALETTE_KEYS)])}
    view = ((vals[5] - 2048) / 2048.0, (vals[6] - 2048) / 2048.0, vals[7] / 4096.0 + 0.5)
    return SceneCode(PLACES[p], FRAMINGS[f], TIMES[t], tuple(k for i, k in enumerate(FLAG_KEYS) if flags >> i & 1),
                     vals[3] << 12 | vals[4], palette, view)


def overlay(code: SceneCode, W: int, H: int) -> tuple[int, int, np.ndarray, np.ndarray]:
    """The strip (top right) as an overlay ``(x, y, rgb (h, w, 3), alpha (h, w, 1))``."""
    c = chip_size(H)
    vals = encode(code)
    rgb = np.zeros((c, c * len(vals), 3), np.float32)
    for i, v in enumerate(vals):
        rgb[:, i * c:(i + 1) * c] = _to_rgb(v)
    return W - rgb.shape[1], 0, rgb, np.ones((c, rgb.shape[1], 1), np.float32)


def read(image: np.ndarray) -> SceneCode | None:
    """The scene code in the top right of ``image`` ``(H, W, 3)``, or None (no preview frame, another
    size, another engine)."""
    H, W = image.shape[:2]
    c = chip_size(H)
    if c * N_CHIPS > W:
        return None
    x0 = W - c * N_CHIPS
    q = max(0, c // 4)
    vals = [_from_rgb(np.median(image[q:c - q, x0 + i * c + q:x0 + (i + 1) * c - q].reshape(-1, 3), axis=0))
            for i in range(N_CHIPS)]
    return decode_values(vals)


def snap_palette(palette: dict[str, RGB]) -> dict[str, RGB]:
    """The palette on the look lattice (what the scene code can carry)."""
    return {k: snap(v) for k, v in palette.items()}
