"""Text on the frame: the font, word wrap, the prompt's caption band and the header line; and
alpha-blending these overlays (and the legend) onto each frame."""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from engine.preview.prompt import ShotLook
from schemas.render import RenderRequest


def _font(size: int) -> ImageFont.FreeTypeFont:
    """Pillow's bundled font (always available, no downloads)."""
    return ImageFont.load_default(size=max(6, int(size)))


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int, max_lines: int) -> list[str]:
    """Greedy word wrap by pixel width into at most ``max_lines + 1`` lines (the caller only needs
    to know whether the text fits); words wider than a line, and CJK runs, break by character."""
    lines: list[str] = []
    line = ""
    cjk = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
    for word in re.findall(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]|[^\s\u3000-\u303f\u3400-\u9fff\uff00-\uffef]+", text):
        if len(lines) > max_lines:
            break
        cand = line + ("" if not line or cjk.match(word) else " ") + word
        if font.getlength(cand) <= width:
            line = cand
            continue
        if line:
            lines.append(line)
        line = word
        while font.getlength(line) > width and len(line) > 1 and len(lines) <= max_lines:
            lo, hi = 1, len(line) - 1  # longest prefix that fits (binary search)
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if font.getlength(line[:mid]) <= width:
                    lo = mid
                else:
                    hi = mid - 1
            lines.append(line[:lo])
            line = line[lo:]
    if line and len(lines) <= max_lines:
        lines.append(line)
    return lines


def _caption_overlay(request: RenderRequest, look: ShotLook, W: int, H: int):
    size = max(10, round(min(W / 55.0, H / 26.0)))
    pad = max(3, size // 2)
    lines: list[str] = []
    font = _font(size)
    max_lines = min(4, max(1, H // 100))  # small frames get a one- or two-line caption
    for s in range(size, max(9, size - 5), -1):
        font = _font(s)
        lines = _wrap(request.prompt, font, W - 2 * pad, max_lines)
        if len(lines) <= max_lines:
            break
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: max(1, len(lines[-1]) - 2)] + "…"
    line_h = int(font.size * 1.25)
    band_h = min(H, len(lines) * line_h + 2 * pad)
    img = Image.new("RGBA", (W, band_h), (0, 0, 0, 225))  # nearly opaque: no ghost of the last caption
    d = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        d.text((pad, pad + i * line_h), line, font=font, fill=(245, 245, 245, 255))
    arr = np.asarray(img, np.float32)
    return 0, H - band_h, arr[..., :3], arr[..., 3:] / 255.0


def _header_overlay(request: RenderRequest, look: ShotLook, W: int, H: int):
    size = max(7, round(H / 40.0))
    font = _font(size)
    text = f"{request.shot_id} {request.mode} · {look.summary()}"
    tw = int(font.getlength(text)) + size
    if tw > W:
        return None
    img = Image.new("RGBA", (tw, int(size * 1.6)), (0, 0, 0, 225))
    ImageDraw.Draw(img).text((size // 2, size * 0.8), text, font=font, fill=(255, 255, 255, 230), anchor="lm")
    arr = np.asarray(img, np.float32)
    return W - tw, 0, arr[..., :3], arr[..., 3:] / 255.0


def _overlay(frame: np.ndarray, overlays: Sequence[tuple[int, int, np.ndarray, np.ndarray]]) -> None:
    """Alpha-blend the precomputed overlays (legend, caption, header) onto ``frame`` in place."""
    for x, y, rgb, alpha in overlays:
        h, w = rgb.shape[:2]
        region = frame[y:y + h, x:x + w].astype(np.float32)  # (h, w, 3)
        frame[y:y + h, x:x + w] = (region + (rgb - region) * alpha + 0.5).astype(np.uint8)
