"""Text on the frame: the font, word wrap, the caption band (the shot's action first; the
characters' details go to the legend) and the header line; and alpha-blending these overlays (and
the legend) onto each frame."""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

from engine.preview.fonts import Face, face
from engine.preview.prompt import CAMERA_WORDS, FRAMING_WORDS, ShotLook
from engine.preview.scene import ACTIONS, strip_details
from schemas.bible import Character
from schemas.render import RenderRequest


def _font(size: float) -> Face:
    """The text face of ``size`` px: the installed font chain (any script), see :mod:`fonts`."""
    return face(size)


_SHOT_WORDS = re.compile(
    r"^(?:(?:extreme |medium |tight |very )?(?:close[\s-]?ups?|wide|medium|long|full|establishing|aerial|overhead|"
    r"tracking|low[\s-]angle|high[\s-]angle|slow|static|handheld|smooth|gentle|subtle)\b[^.;:]*?"
    r"(?:\bshots?\b|\bframing\b|\bangle\b|\bview\b|\bcamera\b|close[\s-]?ups?\b))\s*(?:of\s+|on\s+|as\s+|with\s+|,\s*)?",
    re.I)
_MOOD_SENTENCE = re.compile(r"^(?:the )?(?:mood|atmosphere|tone|air|scene|lighting|light|colou?rs?|style|music)\b"
                            r"|^(?:realistic|cinematic|soft|warm|cold) (?:style|lighting|tones?)\b|\bstyle\.?$", re.I)
_ACTION = re.compile("|".join(f"(?:{p})" for _, p in ACTIONS) + r"|\b(?:stops?|turns?|smiles?|laughs?|nods?|whispers?|"
                     r"says|speaks?|waits?|stands?|kneels?|cries|opens?|closes?|enters?|appears?|hands?|offers?|"
                     r"pauses?|hesitates?|befriends?|helps?|finds?|discovers?|reaches?|touches?|leans?|"
                     r"places?|puts?|gives?|shows?|pours?|sniffs?|wags?|plays?|dances?|sings?|writes?|draws?|"
                     r"sketch(?:es)?|paints?|fixes?|builds?|pulls?|pushes?|throws?|catches?|listens?|"
                     r"shelters?|settles?|rises?|floats?|dives?)\b", re.I)


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?。！？])\s*", text) if s.strip()]


def caption_text(prompt: str, characters: Sequence[Character] = ()) -> str:
    """The caption of a shot: the prompt without the characters' injected details (the legend
    lists them), its sentences reordered so the action comes first (sentences with a character and
    a verb, then the setting, then mood and style), and framing/camera words dropped (the header
    names them). Falls back to the prompt when nothing is left."""
    text = strip_details(prompt, characters)
    names = [w for c in characters for w in c.mentions() if w.strip()]
    action, setting, mood = [], [], []
    for s in _sentences(text):
        s2 = _SHOT_WORDS.sub("", s).strip()
        if not s2 or (s2 != s and not re.search(r"[^\W\d_]{3,}", s2)):
            continue
        if s2 != s:
            s2 = s2[0].upper() + s2[1:]
        bare = re.sub(r"[.!?。]+$", "", s2)
        only_camera = (any(re.search(p, s2, re.I) for p, _ in CAMERA_WORDS + FRAMING_WORDS)
                       and not any(re.search(r"(?<![\w])" + re.escape(n) + r"(?![\w])", s2, re.I) for n in names)
                       and len(bare.split()) <= 12 and re.match(r"^(?:the )?camera\b|^(?:slow|static|smooth)", s2, re.I))
        if only_camera:
            continue
        named = any((re.search(r"(?<![\w])" + re.escape(n) + r"(?![\w])", s2, re.I) if n.isascii() else n in s2)
                    for n in names)
        if _MOOD_SENTENCE.search(s2):
            mood.append(s2)
        elif _ACTION.search(s2) and (named or re.match(r"^(?:he|she|they|it|his|her|their|the \w+)\b", s2, re.I)):
            action.append(s2)
        elif _ACTION.search(s2) and not action:
            action.append(s2)
        else:
            setting.append(s2)
    out = " ".join(action + setting + mood).strip()
    return out or prompt.strip()


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


def _caption_size(W: int, H: int) -> tuple[int, int, int]:
    """(font size, padding, most lines) of a caption in a ``W`` x ``H`` frame; small frames get a
    one- or two-line caption."""
    size = max(10, round(min(W / 55.0, H / 26.0)))
    return size, max(3, size // 2), min(4, max(1, H // 100))


def caption_band_max(W: int, H: int) -> int:
    """Height in px of the tallest caption band a ``W`` x ``H`` frame can have."""
    size, pad, max_lines = _caption_size(W, H)
    return min(H, max_lines * int(size * 1.25) + 2 * pad)


def _caption_overlay(request: RenderRequest, look: ShotLook, W: int, H: int):
    text = caption_text(request.prompt, request.characters)
    size, pad, max_lines = _caption_size(W, H)
    lines: list[str] = []
    font = _font(size)
    for s in range(size, max(9, size - 5), -1):
        font = _font(s)
        lines = _wrap(text, font, W - 2 * pad, max_lines)
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
        font.draw(d, (pad, pad + i * line_h), line, fill=(245, 245, 245, 255), anchor="lt")
    arr = np.asarray(img, np.float32)
    return 0, H - band_h, arr[..., :3], arr[..., 3:] / 255.0


def _header_overlay(request: RenderRequest, look: ShotLook, W: int, H: int, reserve: int = 0, left: int = 0):
    """``01-02 mi2v · wide · pan left · dusk · street · walk`` at the top right, left of ``reserve`` px
    and right of ``left`` px (the cast legend): the last words go first when it does not fit."""
    size = max(7, round(H / 40.0))
    font = _font(size)
    parts = [f"{request.shot_id} {request.mode}", *look.summary().split(" · ")]
    while True:
        text = " · ".join(p for p in parts if p)
        tw = int(font.getlength(text)) + size
        if tw <= W - reserve - left - 2 or len(parts) <= 1:
            break
        parts.pop()
    if tw > W - reserve - left:
        return None
    img = Image.new("RGBA", (tw, int(size * 1.6)), (0, 0, 0, 225))
    font.draw(ImageDraw.Draw(img), (size // 2, size * 0.8), text, fill=(255, 255, 255, 230), anchor="lm")
    arr = np.asarray(img, np.float32)
    return W - reserve - tw, 0, arr[..., :3], arr[..., 3:] / 255.0


def _overlay(frame: np.ndarray, overlays: Sequence[tuple[int, int, np.ndarray, np.ndarray]]) -> None:
    """Alpha-blend the precomputed overlays (legend, caption, header) onto ``frame`` in place."""
    for x, y, rgb, alpha in overlays:
        h, w = rgb.shape[:2]
        region = frame[y:y + h, x:x + w].astype(np.float32)  # (h, w, 3)
        frame[y:y + h, x:x + w] = (region + (rgb - region) * alpha + 0.5).astype(np.uint8)
