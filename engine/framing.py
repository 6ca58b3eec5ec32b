"""Fitting pictures to the shot frame: the size a reference image asks for, and the centred crop to an aspect.

StoryMem renders a reference-image story at the first image's aspect (``wan/memory2video.py``: the frame size
comes from the first memory image's aspect within the area of the ``--size``, each side a multiple of 16).
dailies does the same when ``--size`` is not given; when it is, images of another aspect are centre-cropped to
it, never squashed (the run's notices say which happened).
"""

from __future__ import annotations

import math
from pathlib import Path

DEFAULT_SIZE = (832, 480)
"""Wan2.2-A14B's 480p frame (width, height)."""
SIZE_STRIDE = 16
"""Width and height are multiples of the VAE stride (8) times the patch size (2)."""


def size_for_aspect(width: int, height: int, area: int = DEFAULT_SIZE[0] * DEFAULT_SIZE[1]) -> tuple[int, int]:
    """The ``(width, height)`` of about ``area`` pixels with the aspect of a ``width`` x ``height`` picture, each
    side rounded down to a multiple of 16 (the reference's ``max_area`` rule). Raises ``ValueError`` for an empty
    picture."""
    if width < 1 or height < 1:
        raise ValueError(f"a picture needs a positive size, got {width}x{height}")
    aspect = height / width
    out_h = round(math.sqrt(area * aspect)) // SIZE_STRIDE * SIZE_STRIDE
    out_w = round(math.sqrt(area / aspect)) // SIZE_STRIDE * SIZE_STRIDE
    return max(out_w, SIZE_STRIDE), max(out_h, SIZE_STRIDE)


def centre_crop_box(width: int, height: int, target_width: int, target_height: int) -> tuple[int, int, int, int]:
    """The largest centred box ``(left, top, right, bottom)`` of a ``width`` x ``height`` picture with the aspect
    of ``target_width`` x ``target_height``."""
    if width * target_height > height * target_width:  # too wide: crop the sides
        new_width = round(height * target_width / target_height)
        left = (width - new_width) // 2
        return left, 0, left + new_width, height
    new_height = round(width * target_height / target_width)
    top = (height - new_height) // 2
    return 0, top, width, top + new_height


def reference_framing(references: list[Path], size: tuple[int, int] | None) -> tuple[tuple[int, int], str | None]:
    """The shot size for a story with ``references`` (reference images, first one first) and the user's
    ``size`` (None: not given), and a one-line note saying what was done to the references (None when nothing
    needed saying). Unreadable images are left to the loader that reports them."""
    from PIL import Image

    sizes = []
    for path in references:
        try:
            with Image.open(path) as image:
                sizes.append((path, image.size))
        except OSError:
            continue
    if not sizes:
        return size or DEFAULT_SIZE, None
    if size is None:
        (path, (w, h)) = sizes[0]
        chosen = size_for_aspect(w, h)
        odd = [p.name for p, (pw, ph) in sizes[1:] if pw * chosen[1] != ph * chosen[0]]
        crop = f"; {', '.join(odd)} centre-cropped to it" if odd else ""
        return chosen, (
            f"shot size {chosen[0]}x{chosen[1]} taken from the first reference image {path.name} ({w}x{h}), as "
            f"StoryMem does{crop}; pass --size to choose another (references are then centre-cropped, never squashed)"
        )
    odd = [f"{p.name} ({pw}x{ph})" for p, (pw, ph) in sizes if pw * size[1] != ph * size[0]]
    if not odd:
        return size, None
    return size, (
        f"reference images {', '.join(odd)} centre-cropped to the --size aspect {size[0]}x{size[1]} (never squashed); "
        "leave out --size to render at the first reference image's aspect"
    )
