"""Text in any script: a chain of installed fonts (DejaVu or Noto first, a CJK font when one is
installed, then any other regular sans font), each character drawn with the first font whose
character map (``cmap``) has it, so no glyph is ever the font's "missing" box (tofu).

Fonts are found through fontconfig (``fc-list``) or, without it, in the usual font folders; Pillow's
bundled font is the last resort. Characters no installed font covers are drawn as ``?`` and named by
:func:`coverage_notice` (one line: which scripts are missing and the Debian package that adds them).
Bidirectional text and Arabic shaping come from Pillow's Raqm layout when it is built in.
"""

from __future__ import annotations

import functools
import glob
import os
import shutil
import subprocess
import unicodedata
from dataclasses import dataclass
from typing import Sequence

from PIL import ImageDraw, ImageFont, features

PREFERRED = (
    "DejaVuSans.ttf", "NotoSans-Regular.ttf", "NotoSansCJK-Regular.ttc", "NotoSansCJKsc-Regular.otf",
    "NotoSansArabic-Regular.ttf", "NotoSansHebrew-Regular.ttf", "NotoSansDevanagari-Regular.ttf",
    "NotoSansThai-Regular.ttf", "Symbola.ttf", "Symbola_hint.ttf", "NotoSansSymbols-Regular.ttf",
    "NotoSansSymbols2-Regular.ttf", "wqy-microhei.ttc", "wqy-zenhei.ttc", "DroidSansFallbackFull.ttf",
)
"""Font files in order of preference (by file name); other regular fonts follow, by path."""

FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", os.path.expanduser("~/.local/share/fonts"),
             os.path.expanduser("~/.fonts"), "/Library/Fonts", "/System/Library/Fonts")
_SKIP_STYLE = ("bold", "italic", "oblique", "light", "thin", "black", "medium", "heavy", "semi", "extra",
               "condensed", "mono", "math", "serif", "color", "emoji")

SCRIPT_SAMPLES: dict[str, tuple[str, str]] = {
    # script: (sample characters, Debian package that covers it)
    "Latin": ("Élodie—", "fonts-dejavu-core"),
    "Greek": ("Ωμέγα", "fonts-dejavu-core"),
    "Cyrillic": ("Жизнь", "fonts-dejavu-core"),
    "Arabic": ("ليلى", "fonts-dejavu-core"),
    "Hebrew": ("שלום", "fonts-dejavu-core"),
    "CJK": ("灯笼与小女孩", "fonts-noto-cjk"),
    "Japanese kana": ("ひらがなカタカナ", "fonts-noto-cjk"),
    "Hangul": ("한국어", "fonts-noto-cjk"),
    "Devanagari": ("नमस्ते", "fonts-noto-core"),
    "Thai": ("ภาษาไทย", "fonts-noto-core"),
    "emoji": ("\U0001F600\U0001F338\U0001F40B", "fonts-symbola"),
}
"""Scripts :func:`coverage_notice` checks, with a sample and the Debian package that adds a font."""


@dataclass(frozen=True)
class FontFile:
    """One installed font face: ``path`` and face ``index`` inside a collection (.ttc)."""

    path: str
    index: int = 0

    @property
    def name(self) -> str:
        return os.path.basename(self.path) + (f"#{self.index}" if self.index else "")


def _fc_list() -> list[tuple[str, int, str]]:
    """(path, index, style) of every font fontconfig knows, or [] without fontconfig."""
    exe = shutil.which("fc-list")
    if not exe:
        return []
    try:
        out = subprocess.run([exe, "--format", "%{file}\t%{index}\t%{style[0]}\t%{family[0]}\n"],
                             capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    rows = []
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) >= 4 and parts[0]:
            try:
                rows.append((parts[0], int(parts[1] or 0), f"{parts[2]} {parts[3]}"))
            except ValueError:
                continue
    return rows


def _scan_dirs() -> list[tuple[str, int, str]]:
    rows = []
    for d in FONT_DIRS:
        for ext in ("ttf", "otf", "ttc"):
            for p in glob.glob(os.path.join(d, "**", f"*.{ext}"), recursive=True):
                rows.append((p, 0, ""))
    return rows


def _regular(path: str, style: str) -> bool:
    base = os.path.basename(path).lower()
    stem = base.rsplit(".", 1)[0].replace("-regular", "").replace("-book", "")
    if any(s in stem for s in _SKIP_STYLE) and base not in {p.lower() for p in PREFERRED}:
        return False
    return not style or not any(s in style.lower() for s in ("bold", "italic", "oblique", "light", "thin", "black"))


@functools.lru_cache(maxsize=None)
def discover() -> tuple[FontFile, ...]:
    """Installed fonts to draw text with, in order of preference (cached for the process).

    DejaVu Sans or Noto Sans first, then the preferred CJK, Arabic, Indic, Thai and symbol fonts,
    then any other regular-weight font by path. CJK collections use their Simplified Chinese face
    (the first face for other collections). ``DAILIES_FONTS`` (paths separated by ``os.pathsep``)
    replaces the search, e.g. to test a machine without a CJK font."""
    forced = os.environ.get("DAILIES_FONTS")
    if forced is not None:
        return tuple(FontFile(p) for p in forced.split(os.pathsep) if p and os.path.isfile(p))
    rows = _fc_list() or _scan_dirs()
    best: dict[str, FontFile] = {}
    for path, index, style in sorted(rows):
        if not path.lower().endswith((".ttf", ".otf", ".ttc")) or not _regular(path, style):
            continue
        base = os.path.basename(path)
        if base in best:
            continue
        if "CJK" in base and base.endswith(".ttc"):
            index = 2  # Noto/Source Han collections: JP, KR, SC, TC, HK
        elif base.endswith(".ttc"):
            index = 0
        best[base] = FontFile(path, index)
    order = {name: i for i, name in enumerate(PREFERRED)}
    ranked = sorted(best.values(), key=lambda f: (order.get(os.path.basename(f.path), len(order)), f.path))
    return tuple(ranked)


@functools.lru_cache(maxsize=None)
def _cmap(font: FontFile) -> frozenset[int]:
    """Code points the face has a glyph for (its best ``cmap``); empty if unreadable."""
    try:
        from fontTools.ttLib import TTFont

        tt = TTFont(font.path, fontNumber=font.index, lazy=True)
        cmap = tt.getBestCmap() or {}
        tt.close()
        return frozenset(cmap)
    except Exception:  # noqa: BLE001 - a broken font file is skipped, not fatal
        return frozenset()


def _invisible(ch: str) -> bool:
    """Format and combining-joiner characters (ZWJ, variation selectors) that draw nothing alone."""
    return unicodedata.category(ch) in ("Cf", "Cc") or 0xFE00 <= ord(ch) <= 0xFE0F


def font_for(ch: str, fonts: Sequence[FontFile] | None = None) -> FontFile | None:
    """The first font of the chain whose cmap has ``ch`` (None: no installed font covers it)."""
    for f in discover() if fonts is None else fonts:
        if ord(ch) in _cmap(f):
            return f
    return None


def runs(text: str, fonts: Sequence[FontFile] | None = None) -> list[tuple[FontFile | None, str]]:
    """``text`` split into runs drawn with one font each; a ``None`` font means the run's characters
    are covered by no installed font (drawn as ``?``). Spaces and combining marks join the current
    run when its font has them; invisible format characters nobody covers are dropped."""
    out: list[tuple[FontFile | None, str]] = []
    for ch in text:
        cur = out[-1][0] if out else None
        if out and cur is not None and (ch.isspace() or unicodedata.combining(ch)) and ord(ch) in _cmap(cur):
            out[-1] = (cur, out[-1][1] + ch)
            continue
        f = font_for(ch, fonts)
        if f is None and _invisible(ch):
            continue
        if out and out[-1][0] == f:
            out[-1] = (f, out[-1][1] + ch)
        else:
            out.append((f, ch))
    return out


def missing(text: str, fonts: Sequence[FontFile] | None = None) -> str:
    """The characters of ``text`` that no installed font covers (each once, in order)."""
    seen: list[str] = []
    for f, run in runs(text, fonts):
        if f is None:
            seen.extend(c for c in run if c not in seen and not c.isspace())
    return "".join(seen)


SCRIPT_RANGES: tuple[tuple[int, int, str, str], ...] = (
    # (first, last code point, script, Debian package with a font for it)
    (0x0000, 0x024F, "Latin", "fonts-dejavu-core"), (0x1E00, 0x1EFF, "Latin", "fonts-dejavu-core"),
    (0x2000, 0x206F, "punctuation", "fonts-dejavu-core"),
    (0x0370, 0x03FF, "Greek", "fonts-dejavu-core"), (0x1F00, 0x1FFF, "Greek", "fonts-dejavu-core"),
    (0x0400, 0x052F, "Cyrillic", "fonts-dejavu-core"), (0x0530, 0x058F, "Armenian", "fonts-dejavu-core"),
    (0x0590, 0x05FF, "Hebrew", "fonts-dejavu-core"), (0x0600, 0x06FF, "Arabic", "fonts-dejavu-core"),
    (0x0750, 0x077F, "Arabic", "fonts-dejavu-core"), (0xFB50, 0xFDFF, "Arabic", "fonts-dejavu-core"),
    (0xFE70, 0xFEFF, "Arabic", "fonts-dejavu-core"), (0x0900, 0x097F, "Devanagari", "fonts-noto-core"),
    (0x0980, 0x09FF, "Bengali", "fonts-noto-core"), (0x0A00, 0x0A7F, "Gurmukhi", "fonts-noto-core"),
    (0x0A80, 0x0AFF, "Gujarati", "fonts-noto-core"), (0x0B80, 0x0BFF, "Tamil", "fonts-noto-core"),
    (0x0C00, 0x0C7F, "Telugu", "fonts-noto-core"), (0x0C80, 0x0CFF, "Kannada", "fonts-noto-core"),
    (0x0D00, 0x0D7F, "Malayalam", "fonts-noto-core"), (0x0D80, 0x0DFF, "Sinhala", "fonts-noto-core"),
    (0x0E00, 0x0E7F, "Thai", "fonts-noto-core"), (0x0E80, 0x0EFF, "Lao", "fonts-noto-core"),
    (0x0F00, 0x0FFF, "Tibetan", "fonts-noto-core"), (0x1000, 0x109F, "Myanmar", "fonts-noto-core"),
    (0x10A0, 0x10FF, "Georgian", "fonts-dejavu-core"), (0x1200, 0x139F, "Ethiopic", "fonts-noto-core"),
    (0x1780, 0x17FF, "Khmer", "fonts-noto-core"), (0x1100, 0x11FF, "Hangul", "fonts-noto-cjk"),
    (0x3130, 0x318F, "Hangul", "fonts-noto-cjk"), (0xAC00, 0xD7AF, "Hangul", "fonts-noto-cjk"),
    (0x3040, 0x30FF, "Japanese kana", "fonts-noto-cjk"), (0x2E80, 0x2FDF, "CJK", "fonts-noto-cjk"),
    (0x3000, 0x303F, "CJK", "fonts-noto-cjk"), (0x3400, 0x4DBF, "CJK", "fonts-noto-cjk"),
    (0x4E00, 0x9FFF, "CJK", "fonts-noto-cjk"), (0xF900, 0xFAFF, "CJK", "fonts-noto-cjk"),
    (0xFF00, 0xFFEF, "CJK", "fonts-noto-cjk"), (0x20000, 0x3134F, "CJK", "fonts-noto-cjk"),
    (0x2190, 0x2BFF, "symbols", "fonts-symbola"), (0x1F000, 0x1FAFF, "emoji", "fonts-symbola"),
)
"""Unicode blocks by script, to name what a notice says is missing."""


def script_of(ch: str) -> tuple[str, str]:
    """(script, Debian package) of one character (``('Devanagari', 'fonts-noto-core')``); a
    character outside :data:`SCRIPT_RANGES` is named by the first word of its Unicode name."""
    cp = ord(ch)
    for lo, hi, script, pkg in SCRIPT_RANGES:
        if lo <= cp <= hi:
            return script, pkg
    word = unicodedata.name(ch, "").split(" ")[0]
    return (word.title() if word else "other"), "fonts-noto-core"


def coverage_notice(fonts: Sequence[FontFile] | None = None, text: str | None = None) -> str | None:
    """One line naming the scripts no installed font covers and how to add them, or None.

    ``text``: only the scripts of the characters of ``text`` that no font covers (what a run draws:
    its prompts, names and captions), with a few of them as a sample; None checks a sample of every
    script of :data:`SCRIPT_SAMPLES` (what this machine lacks in general)."""
    if text is None:
        lacking = [(script, pkg) for script, (sample, pkg) in SCRIPT_SAMPLES.items() if missing(sample, fonts)]
        shown = ""
    else:
        chars = missing(text, fonts)
        lacking = list(dict.fromkeys(script_of(c) for c in chars))
        shown = f" ({chars[:8]}{'…' if len(chars) > 8 else ''})"
    if not lacking:
        return None
    pkgs = " ".join(dict.fromkeys(pkg for _, pkg in lacking))
    names = ", ".join(dict.fromkeys(s for s, _ in lacking))
    where = " in this film's text" if text is not None else ""
    return (f"preview: no installed font covers {names}{where}{shown}; such text is drawn as '?' "
            f"(Debian/Ubuntu: apt-get install {pkgs})")


@functools.lru_cache(maxsize=256)
def _load(font: FontFile | None, size: int) -> ImageFont.FreeTypeFont:
    if font is None:
        return ImageFont.load_default(size=size)
    layout = ImageFont.Layout.RAQM if features.check("raqm") else ImageFont.Layout.BASIC
    try:
        return ImageFont.truetype(font.path, size=size, index=font.index, layout_engine=layout)
    except OSError:
        return ImageFont.load_default(size=size)


class Face:
    """A text face of one pixel size drawing with the font chain (the drop-in for a Pillow font in
    this package: :meth:`getlength`, :attr:`size`, :meth:`draw`)."""

    def __init__(self, size: float, fonts: Sequence[FontFile] | None = None) -> None:
        self.size = max(6, int(size))
        self.fonts = tuple(discover() if fonts is None else fonts)
        self.primary = _load(self.fonts[0] if self.fonts else None, self.size)

    def _runs(self, text: str) -> list[tuple[ImageFont.FreeTypeFont, str]]:
        return [(_load(f, self.size), run if f is not None else "?" * len(run))
                for f, run in runs(text, self.fonts)] if self.fonts else [(self.primary, text)]

    def getlength(self, text: str) -> float:
        """Advance width of ``text`` in pixels."""
        return float(sum(font.getlength(run) for font, run in self._runs(text)))

    def metrics(self) -> tuple[int, int]:
        """(ascent, descent) of the primary font, in pixels."""
        return self.primary.getmetrics()

    def draw(self, draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, fill, anchor: str = "la",
             stroke_width: int = 0, stroke_fill=None) -> tuple[float, float, float, float]:
        """Draw ``text`` at ``xy`` with a two-letter Pillow ``anchor`` (horizontal ``l``/``m``/``r``,
        vertical ``a``/``t``/``m``/``s``); runs share the primary font's baseline. Returns the box
        (x0, y0, x1, y1) the text occupies."""
        parts = self._runs(text)
        width = sum(font.getlength(run) for font, run in parts)
        asc, desc = self.metrics()
        x, y = xy
        x0 = x - {"l": 0.0, "m": width / 2, "r": width}[anchor[0]]
        base = y + {"a": asc, "t": asc, "m": (asc - desc) / 2, "s": 0.0, "d": -desc}[anchor[1]]
        cx = x0
        for font, run in parts:
            draw.text((cx, base), run, font=font, fill=fill, anchor="ls", stroke_width=stroke_width,
                      stroke_fill=stroke_fill)
            cx += font.getlength(run)
        return x0, base - asc, x0 + width, base + desc

    def describe(self) -> str:
        return " + ".join(f.name for f in self.fonts[:4]) or "Pillow's bundled font"


def face(size: float) -> Face:
    """The default :class:`Face` of ``size`` pixels (the discovered font chain)."""
    return _face(max(6, int(size)), discover())


@functools.lru_cache(maxsize=64)
def _face(size: int, fonts: tuple[FontFile, ...]) -> Face:
    return Face(size, fonts)
