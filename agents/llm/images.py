"""Images for vision models: downscaled data URLs, message parts, and a labelled contact sheet."""

from __future__ import annotations

import base64
import io
import math
import os
from typing import Any, Sequence, Union

from PIL import Image, ImageDraw, ImageFont

ImageSource = Union[str, "os.PathLike[str]", Image.Image]


def load_rgb(src: ImageSource) -> Image.Image:
    """An RGB copy of ``src`` (a path or a PIL image); ``OSError``/``ValueError`` if unreadable."""
    if isinstance(src, Image.Image):
        img = src
    else:
        with Image.open(src) as opened:
            opened.load()
            img = opened.copy()
    return img.convert("RGB")


def downscale(img: Image.Image, max_side: int) -> Image.Image:
    """``img`` shrunk so that its longer side is at most ``max_side`` (never enlarged)."""
    w, h = img.size
    scale = max_side / max(w, h)
    if scale >= 1:
        return img
    return img.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.LANCZOS)


def image_data_url(src: ImageSource, *, max_side: int = 768, fmt: str = "JPEG", quality: int = 85) -> str:
    """``data:image/jpeg;base64,...`` of ``src`` downscaled to ``max_side``."""
    img = downscale(load_rgb(src), max_side)
    buf = io.BytesIO()
    fmt = fmt.upper()
    if fmt == "JPEG":
        img.save(buf, format="JPEG", quality=quality, optimize=True)
        mime = "image/jpeg"
    elif fmt == "PNG":
        img.save(buf, format="PNG", optimize=True)
        mime = "image/png"
    else:
        raise ValueError(f"unsupported image format {fmt!r}: use JPEG or PNG")
    return f"data:{mime};base64,{base64.b64encode(buf.getvalue()).decode('ascii')}"


def decode_data_url(url: str) -> Image.Image:
    """The image inside a ``data:`` URL (the inverse of :func:`image_data_url`)."""
    if not url.startswith("data:") or ";base64," not in url:
        raise ValueError("not a base64 data URL")
    raw = base64.b64decode(url.split(";base64,", 1)[1])
    with Image.open(io.BytesIO(raw)) as img:
        img.load()
        return img.copy()


def text_part(text: str) -> dict[str, Any]:
    """A text part of a multimodal chat message."""
    return {"type": "text", "text": text}


def image_part(url: str, *, detail: str | None = None) -> dict[str, Any]:
    """An image part of a multimodal chat message (``detail``: OpenAI's low/high/auto, or None)."""
    image_url: dict[str, Any] = {"url": url}
    if detail:
        image_url["detail"] = detail
    return {"type": "image_url", "image_url": image_url}


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has no sized default font
        return ImageFont.load_default()


def contact_sheet(
    images: Sequence[ImageSource],
    labels: Sequence[str],
    *,
    cell: int = 256,
    max_columns: int = 4,
    label_height: int = 22,
) -> Image.Image:
    """A grid of ``images``, each with its label (e.g. a keyframe id) in a bar beneath it.

    Cells are ``cell`` pixels wide, height by the first image's aspect ratio; images are letterboxed.
    """
    if not images:
        raise ValueError("contact sheet of no images")
    if len(labels) != len(images):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    thumbs = [load_rgb(src) for src in images]
    w0, h0 = thumbs[0].size
    cell_w = cell
    cell_h = max(16, round(cell * h0 / max(w0, 1)))
    cols = min(max_columns, max(1, math.ceil(math.sqrt(len(thumbs)))))
    rows = math.ceil(len(thumbs) / cols)
    pad = 4
    sheet = Image.new(
        "RGB",
        (cols * (cell_w + pad) + pad, rows * (cell_h + label_height + pad) + pad),
        (24, 24, 24),
    )
    draw = ImageDraw.Draw(sheet)
    font = _font(max(10, label_height - 6))
    for i, (img, label) in enumerate(zip(thumbs, labels)):
        r, c = divmod(i, cols)
        x = pad + c * (cell_w + pad)
        y = pad + r * (cell_h + label_height + pad)
        img = img.copy()
        img.thumbnail((cell_w, cell_h), Image.LANCZOS)
        sheet.paste(img, (x + (cell_w - img.width) // 2, y + (cell_h - img.height) // 2))
        draw.rectangle([x, y + cell_h, x + cell_w - 1, y + cell_h + label_height - 1], fill=(0, 0, 0))
        draw.text((x + 4, y + cell_h + 2), str(label)[:40], fill=(255, 255, 255), font=font)
    return sheet
